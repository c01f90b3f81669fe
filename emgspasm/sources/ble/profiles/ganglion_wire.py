"""Bytes of OpenBCI Ganglion notifications: packet ids and the packed 18/19-bit fields.

Facts from OpenBCI's Ganglion documentation, its JavaScript utilities (MIT) and the Ganglion
firmware source (OpenBCI_Ganglion_Library):

- Every notification starts with a packet id byte. Sample packets are 20 bytes.
- Firmware 2: id 0 is an uncompressed sample (four 24-bit big-endian two's-complement values in
  bytes 1..12), ids 1..100 carry two samples as 18-bit fields (bytes 1..18; byte 19 is an
  accelerometer axis when ``id % 10`` is 1, 2 or 3), ids 101..200 as 19-bit fields (bytes 1..19).
  The fields are *deltas*: ``sample = previous sample - delta``.
- Firmware 3 (software revision 3.x, firmware commit 176414f) sends the samples themselves,
  truncated: ids 0..99 as 18-bit fields (the 24-bit value shifted right by 6), ids 100..199 as
  19-bit fields (shifted right by 5). There is no uncompressed packet.
- In both, eight fields (two samples x four channels, sample-major) follow each other as one
  big-endian bit string, and the sign sits in the field's least significant bit: a field with
  that bit set means ``field - 2**bits``.
- Ids 201..205 are impedance readings of channels 1..4 and the reference: ASCII digits then
  ``Z``; the firmware computes them in kilo-ohms. Ids 206 and 207 carry ASCII text, 207 ending
  a multi-packet message.
"""

from __future__ import annotations

import re

import numpy as np

from ....errors import ProtocolError

PACKET_SIZE = 20
N_CHANNELS = 4
IMPEDANCE_FIRST = 201
IMPEDANCE_LAST = 205
MESSAGE = 206
MESSAGE_END = 207

_IMPEDANCE = re.compile(rb"([0-9]{1,9})Z[\r\n\x00]*")
_TEXT = re.compile(rb"[\t\n\r\x20-\x7e]*")


def field_to_int(field: int, bits: int) -> int:
    """A field with its sign in the least significant bit, as a Python int."""
    return field - (1 << bits) if field & 1 else field


def unpack_fields(body: bytes, bits: int) -> np.ndarray:
    """The eight ``bits``-wide fields of ``body`` as int64 ``(2, 4)`` (sample, channel)."""
    if len(body) * 8 < 8 * bits:
        raise ProtocolError(f"{len(body)} bytes cannot hold eight {bits}-bit fields")
    stream = int.from_bytes(body[:bits], "big")  # 8 fields x bits = bits bytes
    mask = (1 << bits) - 1
    fields = [(stream >> (bits * (7 - k))) & mask for k in range(8)]
    return np.array([field_to_int(f, bits) for f in fields], dtype=np.int64).reshape(2, 4)


def int24_values(body: bytes) -> np.ndarray:
    """Four 24-bit big-endian two's-complement values (uncompressed packet), int64 ``(4,)``."""
    if len(body) < 12:
        raise ProtocolError("uncompressed Ganglion packet is too short")
    out = []
    for k in range(N_CHANNELS):
        v = int.from_bytes(body[3 * k : 3 * k + 3], "big")
        out.append(v - (1 << 24) if v & 0x800000 else v)
    return np.array(out, dtype=np.int64)


def accel_axis(packet_id: int) -> int | None:
    """The accelerometer axis (0, 1, 2) byte 19 of an 18-bit packet carries, if any."""
    axis = packet_id % 10 - 1
    return axis if 0 <= axis <= 2 else None


def parse_impedance(data: bytes) -> int:
    """The impedance value of an impedance packet (id byte included)."""
    match = _IMPEDANCE.fullmatch(bytes(data[1:]))
    if match is None:
        raise ProtocolError(f"Ganglion impedance packet {bytes(data)!r} is not '<digits>Z'")
    return int(match.group(1))


def parse_text(data: bytes) -> str:
    """The ASCII text of a message packet (id byte included), trailing NULs removed."""
    body = bytes(data[1:]).rstrip(b"\x00")
    if _TEXT.fullmatch(body) is None:
        raise ProtocolError("Ganglion message packet holds bytes that are not ASCII text")
    return body.decode("ascii")


def check_sample_packet(data: bytes) -> None:
    """Sample packets are exactly 20 bytes."""
    if len(data) != PACKET_SIZE:
        raise ProtocolError(f"Ganglion sample packet of {len(data)} bytes, expected 20")
