"""Data packets of the emgspasm bridge protocol, version 1: encoder and strict decoder.

Byte for byte the format of ``firmware_bridge/PROTOCOL.md`` and of the firmware's portable C
packer (``firmware_bridge/src/emg_packet.c``); a test compiles that C file and checks both
directions. The encoder is here for the virtual sensor; the decoder for the host.

Layout (little-endian)::

    0  u8   protocol version (1)
    1  u8   flags
    2  u16  sequence number, wraps 65535 -> 0
    4  u32  index of the first sample, wraps 2^32-1 -> 0
    8  u8   samples per channel n (1..255)
    9  u8   channels c (1..8)
    10 u8   battery percent 0..100, 255 = unknown
    11 u8   reserved, 0
    12 ...  n*c 12-bit ADC codes, time-major, two per three bytes
    -2 u16  CRC-16/CCITT-FALSE of every byte before it
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from enum import IntFlag

import numpy as np

from ....errors import ProtocolError

VERSION = 1
HEADER_SIZE = 12
CRC_SIZE = 2
MAX_CHANNELS = 8
MAX_SAMPLES = 255
MAX_PACKET = 512
"""The largest attribute value ATT allows."""
MAX_CODE = 4095
BATTERY_UNKNOWN = 0xFF

_HEADER = struct.Struct("<BBHIBBBB")


class Flag(IntFlag):
    """Status flags of a data packet (header byte 1)."""

    SATURATED = 0x01
    """A sample of this packet sits at an ADC rail (0 or 4095)."""
    LEAD_OFF = 0x02
    """The lead-off input was active during this packet."""
    OVERFLOW = 0x04
    """Samples were dropped on the device just before this packet (its index jumps)."""
    LEAD_OFF_WIRED = 0x08
    """The board has a lead-off input wired (otherwise LEAD_OFF means nothing)."""
    STREAM_START = 0x10
    """The first packet after a START command."""


RESERVED_FLAGS = 0xE0

FLAG_NAMES = {
    Flag.SATURATED: "saturated",
    Flag.LEAD_OFF: "lead_off",
    Flag.OVERFLOW: "overflow",
    Flag.LEAD_OFF_WIRED: "lead_off_wired",
    Flag.STREAM_START: "stream_start",
}


@dataclass(frozen=True)
class BridgePacket:
    """The fields of one data packet; ``codes`` is uint16 ``(n, channels)``."""

    sequence: int
    first_sample: int
    flags: Flag
    battery: int | None
    codes: np.ndarray


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final xor)."""
    return binascii.crc_hqx(data, 0xFFFF)


def packed_size(n_values: int) -> int:
    """Bytes taken by ``n_values`` packed 12-bit values."""
    return (3 * n_values + 1) // 2


def packet_size(n_samples: int, channels: int) -> int:
    """Size of a packet of ``n_samples`` per channel (no range checks)."""
    return HEADER_SIZE + packed_size(n_samples * channels) + CRC_SIZE


def max_samples_per_packet(att_mtu: int, channels: int) -> int:
    """The most samples per channel that fit one notification at this ATT MTU (0 if none)."""
    if not 1 <= channels <= MAX_CHANNELS or att_mtu < 3:
        return 0
    room = min(att_mtu - 3, MAX_PACKET)
    for n in range(MAX_SAMPLES, 0, -1):
        if packet_size(n, channels) <= room:
            return n
    return 0


def pack_codes(codes: np.ndarray) -> bytes:
    """Pack a flat sequence of 12-bit codes, two per three bytes (an odd last one in two)."""
    values = np.asarray(codes, dtype=np.uint16).ravel()
    n = values.size
    pairs = n // 2
    a = values[0 : 2 * pairs : 2]
    b = values[1 : 2 * pairs : 2]
    out = np.empty((pairs, 3), dtype=np.uint8)
    out[:, 0] = a & 0xFF
    out[:, 1] = (a >> 8) | ((b & 0x0F) << 4)
    out[:, 2] = b >> 4
    tail = b""
    if n % 2:
        last = int(values[-1])
        tail = bytes((last & 0xFF, last >> 8))
    return out.tobytes() + tail


def unpack_codes(payload: bytes, n_values: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`; ``payload`` must be exactly ``packed_size(n_values)``."""
    raw = np.frombuffer(payload, dtype=np.uint8).astype(np.uint16)
    pairs = n_values // 2
    triples = raw[: 3 * pairs].reshape(pairs, 3)
    out = np.empty(n_values, dtype=np.uint16)
    out[0 : 2 * pairs : 2] = triples[:, 0] | ((triples[:, 1] & 0x0F) << 8)
    out[1 : 2 * pairs : 2] = (triples[:, 1] >> 4) | (triples[:, 2] << 4)
    if n_values % 2:
        out[-1] = raw[3 * pairs] | ((raw[3 * pairs + 1] & 0x0F) << 8)
    return out


def encode_packet(
    codes: np.ndarray,
    *,
    sequence: int,
    first_sample: int,
    flags: Flag | int = 0,
    battery: int | None = None,
) -> bytes:
    """Build a data packet from uint ADC ``codes`` of shape ``(n, channels)``.

    ``sequence`` and ``first_sample`` are taken modulo their field widths (the device's counters
    wrap). Raises ValueError for anything the protocol cannot carry.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError("codes must be (samples, channels)")
    n, channels = codes.shape
    if not 1 <= n <= MAX_SAMPLES or not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"{n} samples x {channels} channels is outside 1..255 x 1..8")
    if packet_size(n, channels) > MAX_PACKET:
        raise ValueError(f"{n} samples x {channels} channels do not fit {MAX_PACKET} bytes")
    if codes.size and (codes.min() < 0 or codes.max() > MAX_CODE):
        raise ValueError("codes must be 0..4095")
    flags = int(flags)
    if flags & RESERVED_FLAGS or not 0 <= flags <= 0xFF:
        raise ValueError(f"flags 0x{flags:02x} use reserved bits")
    if battery is None:
        battery_byte = BATTERY_UNKNOWN
    elif 0 <= battery <= 100:
        battery_byte = battery
    else:
        raise ValueError("battery must be 0..100 or None")
    header = _HEADER.pack(
        VERSION, flags, sequence % 2**16, first_sample % 2**32, n, channels, battery_byte, 0
    )
    body = header + pack_codes(codes)
    return body + struct.pack("<H", crc16(body))


def decode_packet(data: bytes) -> BridgePacket:
    """Check and read one data packet. Raises :class:`ProtocolError` for anything off."""
    data = bytes(data)
    if len(data) < HEADER_SIZE + CRC_SIZE:
        raise ProtocolError(f"bridge packet of {len(data)} bytes is shorter than its header")
    version, flags, sequence, first, n, channels, battery, reserved = _HEADER.unpack_from(data)
    if version != VERSION:
        raise ProtocolError(
            f"bridge protocol version {version} is not supported (this host reads {VERSION})"
        )
    if flags & RESERVED_FLAGS or reserved:
        raise ProtocolError("bridge packet sets reserved bits")
    if not 1 <= n <= MAX_SAMPLES or not 1 <= channels <= MAX_CHANNELS:
        raise ProtocolError(f"bridge packet shape {n} x {channels} is out of range")
    size = packet_size(n, channels)
    if size > MAX_PACKET or size != len(data):
        raise ProtocolError(
            f"bridge packet of {len(data)} bytes, expected {size} for {n} x {channels} samples"
        )
    (crc,) = struct.unpack_from("<H", data, len(data) - CRC_SIZE)
    if crc != crc16(data[:-CRC_SIZE]):
        raise ProtocolError("bridge packet checksum mismatch")
    if battery > 100 and battery != BATTERY_UNKNOWN:
        raise ProtocolError(f"bridge packet battery byte {battery} is not a percentage")
    n_values = n * channels
    payload = data[HEADER_SIZE:-CRC_SIZE]
    if n_values % 2 and payload[-1] & 0xF0:
        raise ProtocolError("bridge packet padding bits are not zero")
    codes = unpack_codes(payload, n_values).reshape(n, channels)
    return BridgePacket(
        sequence=sequence,
        first_sample=first,
        flags=Flag(flags),
        battery=None if battery == BATTERY_UNKNOWN else battery,
        codes=codes,
    )


def flag_names(flags: Flag) -> frozenset[str]:
    """Names of the flags set."""
    return frozenset(name for flag, name in FLAG_NAMES.items() if flags & flag)
