"""A strict walk over an XDF file's chunks before pyxdf reads it.

pyxdf trusts what a file says: a Samples chunk claiming 10^12 samples makes it allocate them and
loop over each one long after the file has ended, and a damaged chunk makes it log a traceback,
skip ahead to the next boundary chunk and drop whatever lay in between without telling the
caller. So every chunk is checked here first, exactly as pyxdf will read it (its length prefix,
tag and stream id; a stream header's channel count and format; every sample of a Samples chunk
with its optional time stamp; the fixed size of a ClockOffset chunk), and the first thing that
does not fit is reported with its byte offset. A file that passes is read by pyxdf without
surprises: every count it meets is backed by bytes that are really there.

The scan reads no samples into memory; plain files are mapped, compressed ones (``.xdfz``)
decompressed once.
"""

from __future__ import annotations

import gzip
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError, fromstring

import numpy as np

from ..errors import RecordingError

MAGIC = b"XDF:"
FILE_HEADER, STREAM_HEADER, SAMPLES, CLOCK_OFFSET, BOUNDARY, STREAM_FOOTER = 1, 2, 3, 4, 5, 6
_WITH_STREAM = {STREAM_HEADER, SAMPLES, CLOCK_OFFSET, STREAM_FOOTER}
VALUE_SIZES = {"int8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4, "double64": 8}
"""Bytes per value of each numeric channel format (``string`` values carry their own length)."""
MAX_CHANNELS = 65536


@dataclass(frozen=True)
class _Stream:
    channels: int
    value_size: int | None
    """Bytes per numeric value; None for string streams."""


class _Damaged(Exception):
    """Raised inside the scan with what is wrong and the byte offset where it was found."""

    def __init__(self, at: int, what: str) -> None:
        super().__init__(what)
        self.at = at
        self.what = what


def _varlen(buf: bytes | mmap.mmap, at: int, end: int) -> tuple[int, int]:
    """An XDF variable-length integer at ``at``: (value, offset after it)."""
    if at >= end:
        raise _Damaged(at, "a length is cut short")
    width = buf[at]
    if width not in (1, 4, 8):
        raise _Damaged(at, f"invalid length prefix {width} (must be 1, 4 or 8)")
    if at + 1 + width > end:
        raise _Damaged(at, "a length is cut short")
    value = int.from_bytes(buf[at + 1 : at + 1 + width], "little")
    return value, at + 1 + width


def _stream_header(content: bytes, at: int) -> _Stream:
    try:
        root = fromstring(content.decode("utf-8", "replace"))
    except ParseError as exc:
        raise _Damaged(at, f"the stream header is not valid XML ({exc})") from None
    count_text = (root.findtext("channel_count") or "").strip()
    fmt = (root.findtext("channel_format") or "").strip()
    try:
        channels = int(count_text)
    except ValueError:
        channels = 0
    if not 1 <= channels <= MAX_CHANNELS:
        raise _Damaged(at, f"the stream header's channel count {count_text!r} is not plausible")
    if fmt != "string" and fmt not in VALUE_SIZES:
        raise _Damaged(at, f"the stream header's channel format {fmt!r} is unknown")
    return _Stream(channels, VALUE_SIZES.get(fmt))


def _numeric_samples(buf: bytes | mmap.mmap, at: int, end: int, n: int, row: int) -> None:
    """Check that ``n`` numeric samples of ``row`` bytes each fill ``buf[at:end]`` exactly."""
    size = end - at
    if n * (1 + row) > size or n * (9 + row) < size:
        raise _Damaged(at, f"{n} samples of {row} bytes cannot fill {size} bytes")
    data = np.frombuffer(buf[at:end], dtype=np.uint8)  # a copy: the map must stay closable
    if size == n * (9 + row) and (data[:: 9 + row] != 0).all():
        return  # every sample time-stamped (LabRecorder's usual layout)
    if size == n * (1 + row) and not data[:: 1 + row].any():
        return  # no sample time-stamped
    p = at
    for _ in range(n):
        if p >= end:
            break
        p += 1 + (8 if buf[p] else 0) + row
    if p != end:
        raise _Damaged(at, f"{n} samples of {row} bytes do not fill the chunk's {size} bytes")


def _string_samples(buf: bytes | mmap.mmap, at: int, end: int, n: int, channels: int) -> None:
    if n * (1 + 2 * channels) > end - at:
        raise _Damaged(at, f"{n} text samples cannot fit {end - at} bytes")
    p = at
    for _ in range(n):
        if p >= end:
            raise _Damaged(at, f"{n} text samples do not fit the chunk")
        p += 1 + (8 if buf[p] else 0)
        for _ in range(channels):
            length, p = _varlen(buf, p, end)
            p += length
            if p > end:
                raise _Damaged(at, "a text sample runs past the end of its chunk")
    if p != end:
        raise _Damaged(at, f"{n} text samples do not fill the chunk's {end - at} bytes")


def _walk(buf: bytes | mmap.mmap) -> None:
    """Check every chunk after the magic; raises :class:`_Damaged` at the first fault."""
    size = len(buf)
    streams: dict[int, _Stream] = {}
    p = len(MAGIC)
    while p < size:
        at = p
        length, p = _varlen(buf, p, size)
        if length < 2:
            raise _Damaged(at, f"a chunk of {length} bytes cannot hold its tag")
        end = p + length
        if end > size:
            raise _Damaged(
                at, f"a chunk claims {length} bytes but the file ends {size - p} bytes later"
            )
        (tag,) = struct.unpack_from("<H", buf, p)
        p += 2
        if tag in _WITH_STREAM:
            if end - p < 4:
                raise _Damaged(at, f"a chunk of tag {tag} is too short for its stream id")
            (sid,) = struct.unpack_from("<I", buf, p)
            p += 4
            if tag != STREAM_HEADER and sid not in streams:
                raise _Damaged(at, f"a chunk of tag {tag} names stream {sid} before its header")
            if tag == STREAM_HEADER:
                streams[sid] = _stream_header(bytes(buf[p:end]), at)
            elif tag == SAMPLES:
                stream = streams[sid]
                n, p = _varlen(buf, p, end)
                if stream.value_size is None:
                    _string_samples(buf, p, end, n, stream.channels)
                else:
                    _numeric_samples(buf, p, end, n, stream.channels * stream.value_size)
            elif tag == CLOCK_OFFSET and end - p != 16:
                raise _Damaged(at, f"a clock offset chunk holds {end - p} bytes instead of 16")
        elif tag == FILE_HEADER:
            try:
                fromstring(bytes(buf[p:end]))
            except ParseError as exc:
                raise _Damaged(at, f"the file header is not valid XML ({exc})") from None
        p = end


def check_xdf(path: str | os.PathLike[str], name: str) -> None:
    """Refuse an XDF file (plain or gzip-compressed) whose chunks pyxdf could not read exactly.

    Raises RecordingError naming the first damaged chunk's byte offset (in the uncompressed
    data for ``.xdfz``).
    """
    compressed = str(path).lower().endswith((".xdfz", ".xdf.gz"))
    try:
        if compressed:
            with gzip.open(path, "rb") as handle:
                buf: bytes | mmap.mmap = handle.read()
            _check_buffer(buf, name)
            return
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < len(MAGIC):
                buf = handle.read()
                _check_buffer(buf, name)
                return
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                _check_buffer(mapped, name)
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise RecordingError(f"{name}: cannot be read as XDF: {reason}") from None


def _check_buffer(buf: bytes | mmap.mmap, name: str) -> None:
    if buf[: len(MAGIC)] != MAGIC:
        raise RecordingError(
            f"{name}: cannot be read as XDF: it does not start with {MAGIC.decode()!r}"
        )
    try:
        _walk(buf)
    except _Damaged as exc:
        raise RecordingError(
            f"{name}: cannot be read as XDF: damaged at byte {exc.at}: {exc.what}; the file is "
            "cut short or corrupt"
        ) from None
