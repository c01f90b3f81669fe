"""Helpers shared by the readers: sample-rate checks, gap bookkeeping, placing rows at indices."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import RecordingError
from ..frames import Gap

MAX_FS = 100_000.0
"""Highest sample rate a reader accepts; anything above is taken for a mistake, not a recording."""
MIN_FS = 1.0
"""Lowest sample rate a reader accepts: below 1 Hz nothing of an EMG signal is left."""


def display_name(path: str | os.PathLike[str]) -> str:
    """The file name shown in messages (the folder adds nothing a user does not know)."""
    return Path(path).name


def check_fs(fs: float, where: str) -> float:
    """Return ``fs`` as float, or raise RecordingError when it cannot be a real sample rate."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise RecordingError(f"{where}: sample rate {fs!r} is not a number") from None
    if not math.isfinite(value) or value < MIN_FS or value > MAX_FS:
        raise RecordingError(
            f"{where}: sample rate {value:g} Hz is not plausible (must be {MIN_FS:g} to "
            f"{MAX_FS:g} Hz)"
        )
    return value


def gaps_from_missing(missing: np.ndarray) -> tuple[Gap, ...]:
    """Turn a boolean mask of missing sample indices into runs of :class:`Gap`."""
    if not missing.any():
        return ()
    edges = np.diff(np.concatenate(([False], missing, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return tuple(Gap(int(a), int(b - a)) for a, b in zip(starts, stops, strict=True))


def place_rows(values: np.ndarray, index: np.ndarray, n: int) -> tuple[np.ndarray, tuple[Gap, ...]]:
    """Put ``values`` (rows) at sample ``index`` of an ``(n, channels)`` float32 array.

    Indices that receive no row are lost samples: they stay NaN and come back as gaps.
    """
    samples = np.full((n, values.shape[1]), np.nan, dtype=np.float32)
    samples[index] = values
    missing = np.ones(n, dtype=bool)
    missing[index] = False
    return samples, gaps_from_missing(missing)


def spans(n: int, gaps: tuple[Gap, ...]) -> list[tuple[int, int, int]]:
    """Split ``range(n)`` around gaps: ``(start, stop, samples lost just before start)``."""
    result: list[tuple[int, int, int]] = []
    pos = 0
    lost = 0
    for gap in sorted(gaps, key=lambda g: g.start):
        g0, g1 = max(gap.start, 0), min(gap.stop, n)
        if g1 <= g0:
            continue
        if g0 > pos:
            result.append((pos, g0, lost))
            lost = 0
        lost += g1 - max(g0, pos)
        pos = max(pos, g1)
    if pos < n:
        result.append((pos, n, lost))
    return result


def line_list(numbers: list[int], limit: int = 10) -> str:
    """``"12, 40, 99"``, shortened with a count when there are more than ``limit``."""
    shown = ", ".join(str(k) for k in numbers[:limit])
    if len(numbers) > limit:
        shown += f" and {len(numbers) - limit} more"
    return shown
