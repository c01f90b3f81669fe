"""Device profiles: one module per kind of Bluetooth EMG sensor, all with the same small interface.

Each profile (see :mod:`.base`) names the GATT service and data characteristics, the writes that
start and stop streaming, the sample rate, channel names and unit, and makes a decoder that turns
one notification into samples placed on the stream. Decoders raise only
:class:`~emgspasm.errors.ProtocolError` for bytes that break the device's protocol.

- :mod:`.bridge`: the emgspasm bridge firmware (``firmware_bridge/``), ours.
- :mod:`.myo`: Thalmic Labs Myo armband, raw EMG mode.
- :mod:`.ganglion`: OpenBCI Ganglion, firmware 2 (delta compression) and 3 (truncated samples).
- :mod:`.myoware`: MyoWare 2.0 Wireless Shield (ASCII readings, host-clock resampling).
"""

from .base import Decoder, DeviceProfile, GattWrite
from .bridge import BridgeDecoder, BridgeProfile
from .ganglion import GanglionDecoder, GanglionProfile
from .myo import MyoDecoder, MyoProfile
from .myoware import MyoWareDecoder, MyoWareProfile

__all__ = [
    "BridgeDecoder",
    "BridgeProfile",
    "Decoder",
    "DeviceProfile",
    "GanglionDecoder",
    "GanglionProfile",
    "GattWrite",
    "MyoDecoder",
    "MyoProfile",
    "MyoWareDecoder",
    "MyoWareProfile",
]
