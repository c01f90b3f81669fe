"""The small interface every device profile offers a Bluetooth client.

A profile says which GATT service and characteristics a device uses, what to write to start and
stop streaming, the stream's sample rate, channel names and unit, and makes a fresh decoder for
each streaming session. The decoder turns one notification into a
:class:`~emgspasm.sources.ble.packet.DecodedPacket` and raises only
:class:`~emgspasm.errors.ProtocolError` for bytes that do not follow the device's protocol; a
decoder's state is left unchanged by a packet it rejects, so a client may log the error and
carry on with the next notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..packet import DecodedPacket


@dataclass(frozen=True)
class GattWrite:
    """Bytes to write to a characteristic, with or without a write response."""

    characteristic: str
    data: bytes
    response: bool = True


class Decoder(Protocol):
    """Stateful decoder of one streaming session of one device."""

    def decode(
        self, data: bytes, *, characteristic: str | None = None, host_time: float | None = None
    ) -> DecodedPacket:
        """Decode one notification received on ``characteristic`` at ``host_time`` (seconds of
        a monotonic host clock; only profiles without a device clock need it)."""
        ...


class DeviceProfile(Protocol):
    """What a client needs to know to stream from one kind of device."""

    name: str
    service_uuid: str
    data_characteristics: tuple[str, ...]
    fs: float
    channels: tuple[str, ...]
    units: str

    def start_writes(self) -> tuple[GattWrite, ...]:
        """Writes that start streaming, in order, after subscribing to the data characteristics."""
        ...

    def stop_writes(self) -> tuple[GattWrite, ...]:
        """Writes that stop streaming, in order."""
        ...

    def decoder(self) -> Decoder:
        """A fresh decoder for one streaming session."""
        ...


def channel_names(prefix: str, n: int) -> tuple[str, ...]:
    """``prefix1`` .. ``prefixN``."""
    return tuple(f"{prefix}{k}" for k in range(1, n + 1))


def uuid16(short: int) -> str:
    """The full 128-bit form of a Bluetooth SIG 16-bit UUID (lower case, as bleak reports it)."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"
