"""Two-column time/value text files (PhysioNet EMG examples): ``time_s value_mV`` per line.

The sample rate comes from the time column; rows the time axis shows to be missing become gaps.
"""

from __future__ import annotations

import os

from ..recording import Recording
from ._common import display_name, place_rows
from ._text import parse_rows, read_bytes, row_pattern, skipped_note, split_lines
from ._timeaxis import layout_from_time

CHANNEL = "EMG"
UNIT = "mV"
_ROW = row_pattern(2, None)


def read_timevalue(
    path: str | os.PathLike[str], *, fs: float | None = None, skip_bad_lines: bool = False
) -> Recording:
    """Read a whitespace-separated ``time value`` file (seconds, millivolts) into memory."""
    name = display_name(path)
    lines = split_lines(read_bytes(path, name))
    rows = parse_rows(name, lines, 0, _ROW, 2, skip_bad_lines=skip_bad_lines)
    fs, index, n, time_notes = layout_from_time(name, rows, 0, fs)
    samples, gaps = place_rows(rows.values[:, 1:], index, n)
    notes = ((skipped_note(rows.bad, timed=True),) if rows.bad else ()) + time_notes
    return Recording(
        samples=samples,
        fs=fs,
        channels=(CHANNEL,),
        units=(UNIT,),
        gaps=gaps,
        format="timevalue",
        path=str(path),
        notes=notes,
    )
