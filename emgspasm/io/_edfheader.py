"""Saying where an EDF/BDF header is damaged, once pyedflib has refused it.

edflib's reasons are short ("it contains format errors") and say nothing of where. This walks the
header fields in file order and names the first one that cannot be right, with its byte range,
so a user can look at it (or run ``emgspasm repair`` when only the end of the file is damaged).
"""

from __future__ import annotations

import math
import os

_FIXED = (
    ("start date", 168, 8, "date"),
    ("start time", 176, 8, "time"),
    ("header size", 184, 8, "int"),
    ("number of data records", 236, 8, "int"),
    ("data record duration", 244, 8, "float"),
    ("number of signals", 252, 4, "int"),
)
_SIGNAL = (  # per-signal fields in file order: (name, width, kind)
    ("label", 16, "text"),
    ("transducer", 80, "text"),
    ("physical dimension", 8, "text"),
    ("physical minimum", 8, "float"),
    ("physical maximum", 8, "float"),
    ("digital minimum", 8, "int"),
    ("digital maximum", 8, "int"),
    ("prefiltering", 80, "text"),
    ("samples per data record", 8, "int"),
    ("reserved", 32, "text"),
)
_MAX_SIGNALS = 4096
_KINDS = {
    "int": "whole number",
    "float": "number",
    "date": "date dd.mm.yy",
    "time": "time hh.mm.ss",
}


def _parses(raw: bytes, kind: str) -> bool:
    text = raw.decode("ascii", "replace").strip()
    try:
        if kind == "int":
            int(text)
        elif kind == "float":
            return math.isfinite(float(text))
        elif kind in ("date", "time"):
            parts = text.split(".")
            return len(parts) == 3 and all(len(p) == 2 and p.isdigit() for p in parts)
    except ValueError:
        return False
    return True


def _field(name: str, at: int, width: int, raw: bytes, why: str) -> str:
    return f"its {name} (bytes {at}-{at + width - 1}) reads {raw.decode('latin-1')!r}: {why}"


def header_fault(path: str | os.PathLike[str]) -> str | None:
    """The first damaged field of the header at ``path``, described; None if none is found."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
            if len(head) < 256:
                return None
            if head[:8] not in (b"0       ", b"\xffBIOSEMI"):
                return (
                    "its first 8 bytes are not an EDF or BDF version mark; is it an EDF/BDF file?"
                )
            for name, at, width, kind in _FIXED:
                raw = head[at : at + width]
                if not _parses(raw, kind):
                    return _field(name, at, width, raw, f"not a {_KINDS[kind]}")
            signals = int(head[252:256])
            if not 1 <= signals <= _MAX_SIGNALS:
                return _field("number of signals", 252, 4, head[252:256], "out of range")
            if int(head[184:192]) != 256 * (signals + 1):
                return _field(
                    "header size",
                    184,
                    8,
                    head[184:192],
                    f"{signals} signals need {256 * (signals + 1)}",
                )
            rest = handle.read(256 * signals)
    except OSError:
        return None
    bad = next((k for k in range(8, 256) if not 32 <= head[k] <= 126), None)
    if bad is not None:
        return f"byte {bad} of its header is not printable ASCII ({head[bad]:#04x})"
    at = 0
    for name, width, kind in _SIGNAL:
        for k in range(signals):
            raw = rest[at + width * k : at + width * (k + 1)]
            where = 256 + at + width * k
            if len(raw) < width:
                return f"its header is cut short at byte {256 + len(rest)}"
            if kind != "text" and not _parses(raw, kind):
                return _field(
                    f"{name} of signal {k + 1}", where, width, raw, f"not a {_KINDS[kind]}"
                )
            if name == "samples per data record" and int(raw) < 1:
                return _field(f"{name} of signal {k + 1}", where, width, raw, "must be 1 or more")
        at += width * signals
    bad = next((k for k, b in enumerate(rest) if not 32 <= b <= 126), None)
    if bad is not None:
        return f"byte {256 + bad} of its header is not printable ASCII ({rest[bad]:#04x})"
    return None
