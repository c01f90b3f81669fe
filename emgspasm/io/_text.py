"""Reading numeric text tables line by line without trusting them.

Text recordings found in the wild contain corrupt lines (stray bytes, merged numbers, a trailing
``/``). Files are read as bytes, so no encoding can make a reader crash, and every line is checked
against a strict pattern for its format. A line that does not match, or holds NaN, infinity or a
number too large for a float32 sample, is a *bad line*: by default the whole file is refused with
one message that names the first few; when the caller asks to skip them, the remaining rows come
back with their positions so the skipped samples can be marked as gaps instead of being closed up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import RecordingError
from ._common import line_list

NUMBER = rb"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
"""A decimal number as written by recording software (no NaN, no infinity, no digit grouping)."""

INTEGER = rb"[-+]?\d+"

LARGEST = float(np.finfo(np.float32).max)
"""Samples are kept as float32: a value beyond its range would become infinity, so it is bad."""

SHOWN_BAD_LINES = 3
"""How many bad lines an error message quotes."""

_SEPARATORS = bytes.maketrans(b",;\t\r", b"    ")
_BOM = b"\xef\xbb\xbf"


def row_pattern(columns: int, separator: bytes | None, number: bytes = NUMBER) -> re.Pattern[bytes]:
    """A pattern matching one row of ``columns`` numbers, the whole line and nothing else.

    ``separator`` is a single byte such as ``b","``; None means runs of spaces or tabs.
    """
    sep = rb"[ \t]+" if separator is None else rb"[ \t]*" + re.escape(separator) + rb"[ \t]*"
    body = number + (sep + number) * (columns - 1)
    return re.compile(rb"[ \t]*" + body + rb"[ \t\r]*")


def read_bytes(path: str | os.PathLike[str], name: str) -> bytes:
    """The raw content of a text recording; an unreadable or empty file is a RecordingError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise RecordingError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise RecordingError(f"{name}: is a folder, not a recording") from None
    except OSError as exc:
        raise RecordingError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        raise RecordingError(f"{name}: the file is empty")
    return data


def show_line(text: bytes, limit: int = 60) -> str:
    """A line as it can be quoted in a message: escaped, so stray bytes are visible."""
    text = text.rstrip(b"\r\n")
    shown = repr(text[:limit])[1:]
    return shown + "..." if len(text) > limit else shown


def bad_lines_message(name: str, bad: Sequence[tuple[int, bytes]]) -> str:
    """One message naming how many lines are corrupt and quoting the first few."""
    count = len(bad)
    quoted = ", ".join(f"line {no} {show_line(text)}" for no, text in bad[:SHOWN_BAD_LINES])
    lead = "first: " if count > 1 else ""
    noun = "corrupt line" if count == 1 else "corrupt lines"
    return (
        f"{name}: {count} {noun} ({lead}{quoted}); pass --skip-bad-lines to read the rest and "
        "mark them as gaps"
    )


def skipped_note(bad: Sequence[tuple[int, bytes]], timed: bool = False) -> str:
    """The note a reader leaves in the header after skipping bad lines.

    Without a time column each skipped line is one missing sample. With one (``timed``), the
    time column says how many samples are missing there (a junk line may have held none).
    """
    noun = "line" if len(bad) == 1 else "lines"
    numbers = line_list([no for no, _ in bad])
    if timed:
        return (
            f"{len(bad)} corrupt {noun} skipped: {noun} {numbers}; the samples the time column "
            "shows missing there are marked as gaps"
        )
    return f"{len(bad)} corrupt {noun} skipped and marked as missing samples: {noun} {numbers}"


@dataclass(frozen=True)
class Rows:
    """The readable rows of a text table.

    ``values`` is float64 ``(rows, columns)``; ``positions`` says where each row sits among all
    data rows (good and bad, from 0) and ``line_numbers`` where it sits in the file (from 1).
    ``bad`` lists every skipped line as ``(line number, raw bytes)``; ``n_rows`` counts all data
    rows, good and bad.
    """

    values: np.ndarray
    positions: np.ndarray
    line_numbers: np.ndarray
    bad: tuple[tuple[int, bytes], ...]
    n_rows: int


def parse_rows(
    name: str,
    lines: Sequence[bytes],
    first: int,
    pattern: re.Pattern[bytes],
    columns: int,
    *,
    skip_bad_lines: bool,
    row_ok: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Rows:
    """Parse ``lines[first:]`` as rows of ``columns`` numbers.

    ``row_ok`` may reject rows that parse but cannot be right for the format (it gets the values
    and returns a boolean mask of acceptable rows). Blank lines at the end of a file are not data;
    a blank line in the middle is a bad line. Raises RecordingError when there are bad lines and
    ``skip_bad_lines`` is false, and when no readable row is left.
    """
    data = list(lines[first:])
    while data and not data[-1].strip():
        data.pop()
    if not data:
        raise RecordingError(f"{name}: no samples (the file has no data lines)")

    match = pattern.fullmatch
    ok = np.fromiter((match(line) is not None for line in data), dtype=bool, count=len(data))
    good = np.flatnonzero(ok)
    joined = b" ".join(data) if good.size == len(data) else b" ".join(data[i] for i in good)
    tokens = joined.translate(_SEPARATORS).split()
    values = np.array(tokens, dtype=np.float64).reshape(-1, columns)

    keep = (np.abs(values) <= LARGEST).all(axis=1)  # also false for NaN and infinity
    if row_ok is not None and values.size:
        keep &= row_ok(values)
    if not keep.all():
        ok[good[~keep]] = False
        good = good[keep]
        values = values[keep]

    bad = tuple((first + int(i) + 1, data[i]) for i in np.flatnonzero(~ok))
    if bad and not skip_bad_lines:
        raise RecordingError(bad_lines_message(name, bad))
    if good.size == 0:
        raise RecordingError(f"{name}: no readable samples ({len(bad)} corrupt lines)")
    return Rows(
        values=values,
        positions=good.astype(np.int64),
        line_numbers=good.astype(np.int64) + first + 1,
        bad=bad,
        n_rows=len(data),
    )


def split_lines(data: bytes) -> list[bytes]:
    """Lines of a text file; a CR before the LF stays on the line and is ignored by the patterns."""
    return data.split(b"\n")
