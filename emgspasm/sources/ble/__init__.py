"""Bluetooth LE sources: device profiles and their decoders, and packet-loss accounting.

The sensor side of the emgspasm bridge lives in ``firmware_bridge/`` (firmware and
``PROTOCOL.md``); :mod:`.profiles` holds one decoder per supported device. Every decoder returns
:class:`DecodedPacket` objects whose samples already sit at their stream sample index, with lost
samples counted as a gap (:mod:`.sequence`), so the client that talks GATT stays device-agnostic.
"""

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
    "BridgeProfile",
    "DecodedPacket",
    "Decoder",
    "DeviceProfile",
    "GanglionProfile",
    "GattWrite",
    "MyoProfile",
    "MyoWareProfile",
    "Placement",
    "SequenceTracker",
]
