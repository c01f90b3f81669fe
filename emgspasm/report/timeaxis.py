"""Bin sizes and time labels that suit a 10-minute test as well as a 10-hour night.

Every duration on a report's axes is seconds from the first sample. Bins and ticks are taken
from a list of round steps (10 s, 1 min, 5 min, 1 h, ...) so that a plot never has more bars or
labels than it can show; labels are clock times when the recording states its start time, and
elapsed time otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

STEPS_S: tuple[float, ...] = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)
"""Round steps (seconds) that bins and ticks are chosen from."""

COUNT_BINS = 12
"""Most bins of the counts-per-period chart (a night gets hours, a 10-minute test minutes)."""
COUNT_MIN_S = 60.0
RATE_BINS = 120
"""Most bins of the fine-grained series (fasciculation rate, signal quality)."""
RATE_MIN_S = 10.0
CLOCK_BINS = 24
"""Most bins of the time-of-night histogram."""
CLOCK_MIN_S = 30.0
TICKS = 10
"""Most labelled ticks on a time axis."""


def step_for(duration_s: float, most: int, least_s: float = 0.0) -> float:
    """The smallest round step of at least ``least_s`` that cuts ``duration_s`` into at most
    ``most`` pieces."""
    for step in STEPS_S:
        if step >= least_s and math.ceil(max(duration_s, 1e-9) / step) <= most:
            return float(step)
    return float(STEPS_S[-1])


def label_step(step_s: float) -> str:
    """``3600`` -> ``"1 h"``, ``300`` -> ``"5 min"``, ``10`` -> ``"10 s"``."""
    if step_s >= 3600 and step_s % 3600 == 0:
        return f"{int(step_s // 3600)} h"
    if step_s >= 60 and step_s % 60 == 0:
        return f"{int(step_s // 60)} min"
    return f"{step_s:g} s"


@dataclass(frozen=True)
class TimeAxis:
    """How the times of one recording are shown: its length and, if known, its start."""

    duration_s: float
    start_time: datetime | None = None

    @property
    def clock(self) -> bool:
        """Whether labels are clock times."""
        return self.start_time is not None

    @property
    def clock_offset_s(self) -> float:
        """Seconds from the midnight before the start to the first sample (0 without clock)."""
        if self.start_time is None:
            return 0.0
        start = self.start_time
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return (start - midnight).total_seconds()

    def label(self, t_s: float, step_s: float | None = None) -> str:
        """A time as shown on an axis or in a table (seconds shown when the step needs them)."""
        seconds = step_s is not None and step_s < 60
        if self.start_time is not None:
            when = self.start_time + timedelta(seconds=t_s)
            return when.strftime("%H:%M:%S" if seconds else "%H:%M")
        t = int(round(t_s))
        hours, rest = divmod(t, 3600)
        minutes, secs = divmod(rest, 60)
        if self.duration_s >= 3600:
            return f"{hours}:{minutes:02d}:{secs:02d}" if seconds else f"{hours}:{minutes:02d}"
        return f"{hours * 60 + minutes}:{secs:02d}"

    def stamp(self, t_s: float) -> str:
        """A precise time for tables: clock ``HH:MM:SS`` or elapsed ``h:mm:ss``."""
        if self.start_time is not None:
            return (self.start_time + timedelta(seconds=t_s)).strftime("%H:%M:%S")
        t = int(math.floor(t_s))
        hours, rest = divmod(t, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{hours}:{minutes:02d}:{secs:02d}"

    @property
    def title(self) -> str:
        """Axis title saying what the labels are."""
        if self.start_time is not None:
            return "clock time"
        if self.duration_s >= 3600:
            return "time since start (h:mm)"
        return "time since start (min:s)"

    def ticks(self, most: int = TICKS) -> tuple[list[float], list[str]]:
        """Tick positions (seconds from start) and their labels, on round clock or elapsed
        times."""
        step = step_for(self.duration_s, most, least_s=1.0)
        offset = self.clock_offset_s
        first = math.ceil(offset / step) * step - offset
        positions: list[float] = []
        t = first
        while t <= self.duration_s + 1e-9:
            positions.append(t)
            t += step
        return positions, [self.label(p, step) for p in positions]

    def clock_bins(self, step_s: float) -> list[float]:
        """Bin edges (seconds from start) on whole multiples of ``step_s`` of clock time, from
        the edge at or before the first sample to the edge at or after the last one."""
        offset = self.clock_offset_s
        first = math.floor(offset / step_s) * step_s - offset
        edges = [first]
        while edges[-1] < self.duration_s - 1e-9:
            edges.append(edges[-1] + step_s)
        if len(edges) == 1:
            edges.append(first + step_s)
        return edges


TAIL_FRACTION = 0.1
"""A last bin shorter than this part of a step joins the one before it."""


def bin_edges(duration_s: float, step_s: float) -> list[float]:
    """Edges from 0 in steps of ``step_s``; the last bin ends with the recording (a tail of a
    few seconds joins the bin before rather than making a bar of its own)."""
    count = max(1, math.ceil(duration_s / step_s - 1e-9))
    if count > 1 and duration_s - (count - 1) * step_s < TAIL_FRACTION * step_s:
        count -= 1
    return [k * step_s for k in range(count)] + [duration_s]
