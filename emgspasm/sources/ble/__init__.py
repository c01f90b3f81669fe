"""Bluetooth LE sources: the bleak client, device profiles and their decoders, loss accounting.

The sensor side of the emgspasm bridge lives in ``firmware_bridge/`` (firmware and
``PROTOCOL.md``); :mod:`.profiles` holds one decoder per supported device. Every decoder returns
:class:`DecodedPacket` objects whose samples already sit at their stream sample index, with lost
samples counted as a gap (:mod:`.sequence`), so the client that talks GATT stays device-agnostic.

:class:`BleSource` (:mod:`.client`) is the async source of Frames from one device, with
reconnects, a device-to-host clock mapping (:mod:`.clock`) and a published
:class:`LinkStatus` (:mod:`.link_status`). Without hardware, :mod:`.virtual` offers virtual
sensors on bumble and :mod:`.bumble_backend` the bleak backend that reaches them in-process
(import those explicitly; they are not loaded here).
"""

from .backoff import ReconnectPolicy
from .client import BleSource, ConnectOptions
from .clock import ClockEstimate, ClockMapping
from .discovery import DeviceNotFound, DeviceTarget, find_device
from .identify import ProfileOptions
from .link_status import LinkMonitor, LinkState, LinkStats, LinkStatus
from .packet import DecodedPacket
from .profiles import (
    BridgeProfile,
    Decoder,
    DeviceProfile,
    GanglionProfile,
    GattWrite,
    MyoProfile,
    MyoWareProfile,
)
from .resample import ArrivalResampler
from .sequence import Placement, SequenceTracker

__all__ = [
    "ArrivalResampler",
    "BleSource",
    "BridgeProfile",
    "ClockEstimate",
    "ClockMapping",
    "ConnectOptions",
    "DecodedPacket",
    "Decoder",
    "DeviceNotFound",
    "DeviceProfile",
    "DeviceTarget",
    "GanglionProfile",
    "GattWrite",
    "LinkMonitor",
    "LinkState",
    "LinkStats",
    "LinkStatus",
    "MyoProfile",
    "MyoWareProfile",
    "Placement",
    "ProfileOptions",
    "ReconnectPolicy",
    "SequenceTracker",
    "find_device",
]
