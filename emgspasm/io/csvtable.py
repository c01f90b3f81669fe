"""CSV tables with a header row: an optional time column and one column per channel.

A header cell may carry the unit in brackets (``EMG1 (uV)``, ``EMG1 [mV]``); without one the
samples are taken as raw ``counts``. The sample rate comes from a time column (``time``, ``t``,
``timestamp``, ``seconds``, ``time_s``, ``time (s)``, ``time (ms)``, ...) or must be given.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

from ..errors import RecordingError
from ..recording import COUNTS, Recording
from ._common import check_fs, display_name, place_rows
from ._text import parse_rows, read_bytes, row_pattern, skipped_note, split_lines
from ._timeaxis import layout_from_time

_TIME_NAMES = {"time", "t", "timestamp", "seconds", "sec", "secs", "time_s", "elapsed", "elapsed_s"}
_TIME_MS_NAMES = {"time_ms", "timestamp_ms", "t_ms", "ms", "milliseconds", "elapsed_ms"}
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0, "ms": 1e-3, "us": 1e-6}
_UNIT = re.compile(r"^(?P<name>.*?)\s*[\(\[](?P<unit>[^\)\]]*)[\)\]]\s*$")
_EPOCH_AFTER = 1e8
"""A ``timestamp`` column whose first value exceeds this is taken as Unix time (1973 on)."""


def split_unit(cell: str) -> tuple[str, str | None]:
    """``"EMG1 (uV)"`` -> ``("EMG1", "uV")``; ``"EMG1"`` -> ``("EMG1", None)``."""
    cell = cell.strip().strip('"').strip("'").strip()
    found = _UNIT.match(cell)
    if not found or not found.group("name"):
        return cell, None
    unit = found.group("unit").strip().replace("\u00b5", "u").replace("\u03bc", "u")
    return found.group("name").strip(), unit or None


def time_scale(name: str, unit: str | None) -> float | None:
    """Seconds per unit of a time column, or None when the column is not a time column."""
    base = name.lower()
    if unit is not None:
        if base in _TIME_NAMES and unit.lower() in _TIME_UNITS:
            return _TIME_UNITS[unit.lower()]
        return None
    if base in _TIME_NAMES:
        return 1.0
    if base in _TIME_MS_NAMES:
        return 1e-3
    return None


def header_separator(header: str) -> bytes | None:
    """The cell separator of a header line (None: spaces or tabs)."""
    for separator in (",", ";", "\t"):
        if separator in header:
            return separator.encode()
    return None


def _header_cells(header: str, separator: bytes | None, rest: list[bytes]) -> list[str]:
    """Header cells; without a separator, one column unless the data rows have several."""
    if separator is not None:
        return header.split(separator.decode())
    first_row = next((line for line in rest if line.strip()), b"")
    return header.split() if len(first_row.split()) > 1 else [header]


def is_text(header: str) -> bool:
    """Whether a header line is text (no control characters: binary data has many)."""
    return not any(ord(c) < 32 and c != "\t" or 127 <= ord(c) < 160 for c in header)


def read_csv(
    path: str | os.PathLike[str], *, fs: float | None = None, skip_bad_lines: bool = False
) -> Recording:
    """Read a CSV table with a header row into memory."""
    name = display_name(path)
    lines = split_lines(read_bytes(path, name))
    first = next(i for i, line in enumerate(lines) if line.strip())
    header = lines[first].decode("latin-1").strip()
    if not is_text(header):
        raise RecordingError(
            f"{name}: line {first + 1} is not a header row of column names (it holds binary "
            "bytes); is it a CSV file? (or pass --format)"
        )
    separator = header_separator(header)
    cells = _header_cells(header, separator, lines[first + 1 :])
    parsed = [split_unit(cell) for cell in cells]
    if all(is_number(cell) for cell in cells):
        raise RecordingError(
            f"{name}: the first line holds numbers, not column names; a CSV recording needs a "
            "header row (or pass --format)"
        )
    names = [cell or f"column{k + 1}" for k, (cell, _) in enumerate(parsed)]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise RecordingError(f"{name}: column name {duplicate!r} appears more than once")

    time_column = None
    scale = 1.0
    for k, (cell, unit) in enumerate(parsed):
        found = time_scale(cell, unit)
        if found is not None:
            time_column, scale = k, found
            break
    channel_columns = [k for k in range(len(names)) if k != time_column]
    if not channel_columns:
        raise RecordingError(f"{name}: no channel columns besides the time column")
    if time_column is None and fs is None:
        raise RecordingError(
            f"{name}: no time column (time, t, timestamp, seconds, time_s) to take the sample "
            "rate from; pass --fs"
        )

    pattern = row_pattern(len(names), separator)
    rows = parse_rows(name, lines, first + 1, pattern, len(names), skip_bad_lines=skip_bad_lines)
    notes: list[str] = [skipped_note(rows.bad, time_column is not None)] if rows.bad else []
    start_time = None
    if time_column is None:
        fs = check_fs(fs, name)
        index, n = rows.positions, rows.n_rows
    else:
        fs, index, n, time_notes = layout_from_time(name, rows, time_column, fs, scale)
        notes.extend(time_notes)
        t0 = float(rows.values[0, time_column]) * scale
        if parsed[time_column][0].lower().startswith("timestamp") and t0 > _EPOCH_AFTER:
            start_time = datetime.fromtimestamp(t0 - index[0] / fs, tz=timezone.utc)
    samples, gaps = place_rows(rows.values[:, channel_columns], index, n)
    return Recording(
        samples=samples,
        fs=fs,
        channels=tuple(names[k] for k in channel_columns),
        units=tuple(parsed[k][1] or COUNTS for k in channel_columns),
        start_time=start_time,
        gaps=gaps,
        format="csv",
        path=str(path),
        notes=tuple(notes),
    )


def is_number(cell: str) -> bool:
    """Whether a header cell is a number (then it is data, not a column name)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True
