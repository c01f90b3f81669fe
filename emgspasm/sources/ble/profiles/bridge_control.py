"""GATT layout, stream-info value and control commands of the emgspasm bridge, version 1.

Mirrors ``firmware_bridge/src/emg_control.c`` and ``firmware_bridge/PROTOCOL.md``. Both sides are
here (build and parse) because the virtual sensor plays the device.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ....errors import ProtocolError
from .base import uuid16
from .bridge_wire import VERSION

_BASE = "8e29{:04x}-96e9-4175-9cc9-b5dec61aa91c"
SERVICE = _BASE.format(0x0001)
DATA_CHARACTERISTIC = _BASE.format(0x0002)
"""Notify: data packets."""
CONTROL_CHARACTERISTIC = _BASE.format(0x0003)
"""Write (with response) commands; notify replies ``[opcode, status]``."""
INFO_CHARACTERISTIC = _BASE.format(0x0004)
"""Read: the 16-byte stream-info value."""

DEVICE_INFORMATION_SERVICE = uuid16(0x180A)
BATTERY_SERVICE = uuid16(0x180F)
BATTERY_LEVEL_CHARACTERISTIC = uuid16(0x2A19)
FIRMWARE_REVISION_CHARACTERISTIC = uuid16(0x2A26)

INFO_SIZE = 16
RATE_MIN_HZ = 500
RATE_MAX_HZ = 2000
TIMER_HZ = 1_000_000
LATENCY_MIN_MS = 5
LATENCY_MAX_MS = 1000

_INFO = struct.Struct("<BBHBBHIHH")


class Opcode(IntEnum):
    """First byte of a control write."""

    START = 0x01
    STOP = 0x02
    SET_RATE = 0x03
    """Followed by the sample rate in Hz (u16); only while stopped."""
    SET_LATENCY = 0x04
    """Followed by the longest time (ms, u16) a sample may wait on the device before it is sent."""


class Status(IntEnum):
    """Second byte of a reply."""

    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_LENGTH = 2
    BAD_VALUE = 3
    BUSY = 4


@dataclass(frozen=True)
class StreamInfo:
    """What the device says about its stream (the info characteristic)."""

    channels: int
    rate_hz: int
    adc_bits: int = 12
    lead_off_wired: bool = False
    streaming: bool = False
    zero_code: int = 2048
    nv_per_count: int = 0
    """Nanovolts at the electrodes per ADC count; 0 when the front end's gain is unknown."""
    rate_min_hz: int = RATE_MIN_HZ
    rate_max_hz: int = RATE_MAX_HZ

    def encode(self) -> bytes:
        """The 16-byte info value."""
        flags = (1 if self.lead_off_wired else 0) | (2 if self.streaming else 0)
        return _INFO.pack(
            VERSION,
            self.channels,
            self.rate_hz,
            self.adc_bits,
            flags,
            self.zero_code,
            self.nv_per_count,
            self.rate_min_hz,
            self.rate_max_hz,
        )

    @classmethod
    def decode(cls, data: bytes) -> StreamInfo:
        """Read an info value. Raises :class:`ProtocolError` if it is malformed."""
        data = bytes(data)
        if len(data) != INFO_SIZE:
            raise ProtocolError(f"bridge info of {len(data)} bytes, expected {INFO_SIZE}")
        version, channels, rate, bits, flags, zero, nv, rmin, rmax = _INFO.unpack(data)
        if version != VERSION:
            raise ProtocolError(
                f"bridge protocol version {version} is not supported (this host reads {VERSION})"
            )
        if not 1 <= channels <= 8 or not 1 <= bits <= 16 or flags & ~0x03:
            raise ProtocolError("bridge info has out-of-range fields")
        if rate == 0 or zero >= 1 << bits:
            raise ProtocolError("bridge info has out-of-range fields")
        return cls(
            channels=channels,
            rate_hz=rate,
            adc_bits=bits,
            lead_off_wired=bool(flags & 1),
            streaming=bool(flags & 2),
            zero_code=zero,
            nv_per_count=nv,
            rate_min_hz=rmin,
            rate_max_hz=rmax,
        )


def rate_supported(rate_hz: int) -> bool:
    """True if the firmware samples at exactly ``rate_hz`` (whole microsecond period, in range)."""
    return RATE_MIN_HZ <= rate_hz <= RATE_MAX_HZ and TIMER_HZ % rate_hz == 0


def encode_command(opcode: Opcode, value: int | None = None) -> bytes:
    """Bytes of a control command. Raises ValueError for a value the firmware would refuse."""
    opcode = Opcode(opcode)
    if opcode in (Opcode.START, Opcode.STOP):
        if value is not None:
            raise ValueError(f"{opcode.name} takes no value")
        return bytes((opcode,))
    if value is None:
        raise ValueError(f"{opcode.name} needs a value")
    if opcode is Opcode.SET_RATE and not rate_supported(value):
        raise ValueError(
            f"{value} Hz is not a supported rate ({RATE_MIN_HZ}-{RATE_MAX_HZ} Hz dividing 1 MHz)"
        )
    if opcode is Opcode.SET_LATENCY and not LATENCY_MIN_MS <= value <= LATENCY_MAX_MS:
        raise ValueError(f"latency must be {LATENCY_MIN_MS}..{LATENCY_MAX_MS} ms")
    return struct.pack("<BH", opcode, value)


def parse_command(data: bytes) -> tuple[int, int | None, Status]:
    """How the firmware reads a control write: ``(opcode byte, value, status to reply)``."""
    data = bytes(data)
    if not data:
        return 0, None, Status.BAD_LENGTH
    op = data[0]
    if op in (Opcode.START, Opcode.STOP):
        return op, None, Status.OK if len(data) == 1 else Status.BAD_LENGTH
    if op in (Opcode.SET_RATE, Opcode.SET_LATENCY):
        if len(data) != 3:
            return op, None, Status.BAD_LENGTH
        (value,) = struct.unpack_from("<H", data, 1)
        ok = (
            rate_supported(value)
            if op == Opcode.SET_RATE
            else LATENCY_MIN_MS <= value <= LATENCY_MAX_MS
        )
        return op, value, Status.OK if ok else Status.BAD_VALUE
    return op, None, Status.UNKNOWN_COMMAND


def encode_reply(opcode: int, status: Status) -> bytes:
    """The reply notified on the control characteristic."""
    return bytes((opcode & 0xFF, int(status)))


def decode_reply(data: bytes) -> tuple[int, Status]:
    """Read a reply. Raises :class:`ProtocolError` if it is malformed."""
    data = bytes(data)
    if len(data) != 2:
        raise ProtocolError(f"bridge reply of {len(data)} bytes, expected 2")
    try:
        return data[0], Status(data[1])
    except ValueError:
        raise ProtocolError(f"bridge reply status {data[1]} is unknown") from None
