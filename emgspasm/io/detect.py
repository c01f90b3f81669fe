"""Telling a recording's format from its name and its first lines."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import RecordingError
from ._common import display_name
from ._text import INTEGER, NUMBER, row_pattern
from .csvtable import header_separator, is_number, is_text
from .opensignals import is_opensignals

FORMATS: tuple[str, ...] = ("edf", "csv", "opensignals", "myo", "timevalue", "xdf")
"""Format names accepted by ``open_recording(format=...)``; "edf" covers EDF, EDF+, BDF, BDF+."""

SNIFF_BYTES = 65536
SNIFF_LINES = 20
_EDF_SUFFIXES = {".edf", ".bdf", ".rec"}
_CSV_SUFFIXES = {".csv", ".tsv"}
_XDF_SUFFIXES = {".xdf", ".xdfz"}
_MYO_ROW = row_pattern(9, b",", INTEGER)
_TIMEVALUE_ROW = row_pattern(2, None, NUMBER)


def _mostly(pattern: re.Pattern[bytes], lines: list[bytes]) -> bool:
    """Whether most ``lines`` match (a corrupt line near the top must not mislead)."""
    hits = sum(pattern.fullmatch(line) is not None for line in lines)
    return bool(lines) and hits >= 2 * len(lines) / 3


def _cells(line: bytes, separator: bytes) -> int:
    return len(line.split(separator))


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a recording: one of :data:`FORMATS`.

    ``.edf``/``.bdf`` files (or files starting like one) are "edf", ``.xdf`` files (or files
    starting with ``XDF:``) are "xdf"; text files are recognised by their first lines: an
    OpenSignals header, rows of nine comma-separated integers (Myo), two whitespace-separated
    numbers per row (time/value), or a header row of column names (CSV).
    Raises RecordingError when the format cannot be told, asking for ``--format``.
    """
    name = display_name(path)
    if Path(path).suffix.lower() in _EDF_SUFFIXES:
        return "edf"
    if Path(path).suffix.lower() in _XDF_SUFFIXES:
        return "xdf"
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise RecordingError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{name}: is a folder, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if head.startswith((b"0       ", b"\xffBIOSEMI")):
        return "edf"
    if head.startswith(b"XDF:"):
        return "xdf"
    head = head.removeprefix(b"\xef\xbb\xbf")
    lines = head.split(b"\n")
    if len(head) == SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise RecordingError(f"{name}: the file is empty")
    if is_opensignals(lines[0]):
        return "opensignals"
    if _looks_like_csv(lines, Path(path).suffix.lower() in _CSV_SUFFIXES):
        return "csv"
    sample = lines[:SNIFF_LINES]
    if _mostly(_MYO_ROW, sample):
        return "myo"
    if _mostly(_TIMEVALUE_ROW, sample):
        return "timevalue"
    raise RecordingError(
        f"{name}: cannot tell the recording format; pass --format with one of {', '.join(FORMATS)}"
    )


def _looks_like_csv(lines: list[bytes], csv_suffix: bool) -> bool:
    """A header row of names; with another suffix than .csv the next row must match it."""
    header = lines[0].decode("latin-1").strip()
    if not is_text(header):
        return False
    separator = header_separator(header)
    if separator is None:
        # a single column: a name over numbers
        single = row_pattern(1, None)
        return (
            csv_suffix
            and not is_number(header)
            and len(lines) > 1
            and single.fullmatch(lines[1]) is not None
        )
    if all(is_number(cell) for cell in header.split(separator.decode())):
        return False
    if csv_suffix:
        return True
    pattern = row_pattern(_cells(lines[0], separator), separator)
    return len(lines) > 1 and pattern.fullmatch(lines[1]) is not None
