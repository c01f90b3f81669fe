"""Sample indices from a time column.

A time column is trusted only as far as it describes a uniformly sampled stream: every timestamp
must lie within half a sample period of a uniform grid, so each row gets one unambiguous sample
index. A jump of several periods between neighbouring rows means samples are missing there, and
they become gaps rather than being closed up. The sample rate is estimated from intervals taken
over many samples at once (printed timestamps are often rounded to fewer digits than one period
needs), refined by a least-squares line, and snapped to a whole number of hertz when that explains
the timestamps just as well.
"""

from __future__ import annotations

import numpy as np

from ..errors import RecordingError
from ._common import check_fs
from ._text import Rows

MAX_MISSING_RATIO = 10
"""A time column implying more missing than present samples by this factor is refused."""


def _slope(index: np.ndarray, t: np.ndarray) -> float:
    """Least-squares seconds per sample of ``t`` against ``index``."""
    x = index - index.mean()
    return float(x @ (t - t.mean()) / (x @ x))


def _grid(name: str, intervals: np.ndarray, dt: float, line_numbers: np.ndarray) -> np.ndarray:
    """Index of each row when every interval is a whole number of periods ``dt``."""
    steps = np.rint(intervals / dt)
    short = np.flatnonzero(steps < 1)
    if short.size:
        line = int(line_numbers[short[0] + 1])
        raise RecordingError(
            f"{name}: the time column is irregular: {short.size} intervals are shorter than half a "
            f"sample period at {1 / dt:g} Hz (first at line {line})"
        )
    missing = float(steps.sum()) - steps.size
    if not missing <= MAX_MISSING_RATIO * (steps.size + 1):  # before the sum can overflow int64
        _too_many_missing(name, missing, steps.size + 1, intervals, line_numbers)
    return np.concatenate(([0], np.cumsum(steps))).astype(np.int64)


def _too_many_missing(
    name: str, missing: float, present: int, intervals: np.ndarray, line_numbers: np.ndarray
) -> None:
    jump = int(np.argmax(intervals))
    raise RecordingError(
        f"{name}: the time column implies {missing:.0f} missing samples for {present} present ones "
        f"(largest jump at line {int(line_numbers[jump + 1])}); it does not look like a time "
        "axis"
    )


def _misfit(t: np.ndarray, index: np.ndarray, dt: float) -> tuple[float, int]:
    """Largest distance (in periods) of a timestamp from the best uniform grid, and its row."""
    residual = t - index * dt
    centre = (residual.max() + residual.min()) / 2
    deviation = np.abs(residual - centre) / dt
    worst = int(np.argmax(deviation))
    return float(deviation[worst]), worst


def indices_from_time(
    name: str, t: np.ndarray, line_numbers: np.ndarray, fs: float | None = None
) -> tuple[float, np.ndarray]:
    """The sample rate and the sample index (from 0) of each timestamp in ``t`` (seconds).

    With ``fs`` given, the timestamps must agree with it; otherwise it is estimated. Raises
    RecordingError when the time does not increase, when the intervals are irregular, or when
    there are too few samples to tell the rate.
    """
    if t.size < 2:
        if fs is None:
            raise RecordingError(
                f"{name}: one sample is not enough to find the sample rate from the time column; "
                "pass --fs"
            )
        return check_fs(fs, name), np.zeros(t.size, dtype=np.int64)
    intervals = np.diff(t)
    backwards = np.flatnonzero(intervals <= 0)
    if backwards.size:
        i = int(backwards[0])
        raise RecordingError(
            f"{name}: the time column does not increase: {backwards.size} zero or negative "
            f"intervals (first at line {int(line_numbers[i + 1])}: {t[i + 1]:g} s after "
            f"{t[i]:g} s)"
        )

    if fs is None:
        span = max(1, min(64, (t.size - 1) // 4))
        dt = float(np.median((t[span:] - t[:-span]) / span))
        for _ in range(2):
            index = _grid(name, intervals, dt, line_numbers)
            dt = _slope(index, t)
        fs = check_fs(1.0 / dt, f"{name}: the time column")
        whole = float(round(fs))
        if whole != fs and whole > 0 and abs(whole - fs) <= 1e-3 * fs:
            index = _grid(name, intervals, 1.0 / whole, line_numbers)
            if _misfit(t, index, 1.0 / whole)[0] < 0.5:
                fs = whole
    else:
        fs = check_fs(fs, name)

    dt = 1.0 / fs
    index = _grid(name, intervals, dt, line_numbers)
    worst, row = _misfit(t, index, dt)
    if worst >= 0.5:
        raise RecordingError(
            f"{name}: the time column is irregular: timestamps stray up to {worst:.2f} sample "
            f"periods from a uniform {fs:g} Hz grid (line {int(line_numbers[row])})"
        )
    missing = int(index[-1]) + 1 - t.size
    if missing > MAX_MISSING_RATIO * t.size:
        _too_many_missing(name, missing, t.size, intervals, line_numbers)
    return fs, index


def layout_from_time(
    name: str, rows: Rows, column: int, fs: float | None, scale: float = 1.0
) -> tuple[float, np.ndarray, int, tuple[str, ...]]:
    """Sample rate, index of each good row, total sample count and notes, from a time column.

    Bad lines between good rows need no counting: the time axis says how many samples are
    missing there. Bad lines before the first or after the last good row have no neighbour to
    measure from, so each of them counts as one missing sample. Samples the time axis shows to
    be missing where no line was skipped (lines absent from the file) are named in a note.
    """
    t = rows.values[:, column] * scale
    fs, index = indices_from_time(name, t, rows.line_numbers, fs)
    lead = int(rows.positions[0])
    trail = rows.n_rows - 1 - int(rows.positions[-1])
    index = index + lead
    notes: tuple[str, ...] = ()
    absent = (np.diff(index) - 1) * (np.diff(rows.positions) == 1)
    places = np.flatnonzero(absent)
    if places.size:
        first = int(places[0])
        count = int(absent.sum())
        notes = (
            f"the time column shows {count} missing sample{'s' if count > 1 else ''} in "
            f"{places.size} place{'s' if places.size > 1 else ''} "
            f"where no line was skipped (first after line {int(rows.line_numbers[first])}, "
            f"time {t[first]:g} s); they are marked as gaps",
        )
    return fs, index, int(index[-1]) + 1 + trail, notes
