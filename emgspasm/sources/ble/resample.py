"""Put readings that arrive at irregular host times onto a regular sample grid, causally.

Some sensors (the MyoWare 2.0 Wireless Shield examples) notify one reading whenever their loop
gets round to it: no sample rate, no counter, no device timestamp. The only clock is the host's
arrival time, which is the sampling time plus a variable delay: notifications leave the radio
at connection events (typically every 7.5-50 ms), so several readings can arrive in one burst
and then nothing for a while.

What :class:`ArrivalResampler` does, and does not do:

- It interpolates linearly between consecutive readings at their arrival times and evaluates
  that line on a grid of ``fs`` Hz that starts at the first reading. A grid point is produced
  only once a reading at or after it has arrived, so it never extrapolates; the delay this adds
  is at most one reading interval.
- Readings that arrive at the same host time (one burst) cannot be told apart in time; the last
  one is kept and the others are counted in :attr:`merged`.
- When two consecutive readings are more than ``max_gap_s`` apart, the grid points between them
  are not invented: they are counted as a gap, reported before the next samples.
- Arrival jitter stays in the output: the resampled signal is smoothed and shifted in time by up
  to about one connection interval, and nothing above roughly half the reading rate in it is
  real. Readings overwritten on the device before the radio sent them are simply absent and
  cannot be counted (the shield sends no counter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import ProtocolError


@dataclass(frozen=True)
class Resampled:
    """Grid samples ``(n, channels)`` from index ``start``, ``gap_before`` grid points missing
    just before them (zero when ``samples`` is empty: the gap waits for the next samples)."""

    samples: np.ndarray
    start: int
    gap_before: int


class ArrivalResampler:
    """Causal linear interpolation of ``(host_time, values)`` readings onto an ``fs`` grid."""

    def __init__(self, fs: float, channels: int, max_gap_s: float = 0.25) -> None:
        if not (fs > 0 and math.isfinite(fs)):
            raise ValueError("fs must be a positive number")
        if max_gap_s <= 0:
            raise ValueError("max_gap_s must be positive")
        self.fs = float(fs)
        self.channels = channels
        self.max_gap_s = float(max_gap_s)
        self._origin: float | None = None
        self._t: float = 0.0
        self._v = np.zeros(channels)
        self._next = 0  # next grid index to produce or skip
        self._end = 0  # one past the last grid index handed out
        self.merged = 0
        self.readings = 0

    def _grid_time(self, k: int) -> float:
        assert self._origin is not None
        return self._origin + k / self.fs

    def _last_index_at_or_before(self, t: float) -> int:
        assert self._origin is not None
        position = (t - self._origin) * self.fs
        if not math.isfinite(position) or position > 2.0**53:
            raise ProtocolError(f"host time {t!r} is out of range for this stream")
        k = math.floor(position)
        # guard against rounding: the grid time of k must not be after t
        while k >= 0 and self._grid_time(k) > t:
            k -= 1
        while self._grid_time(k + 1) <= t:
            k += 1
        return k

    def push(self, host_time: float, values: np.ndarray) -> Resampled:
        """Add one reading; return the grid samples it completes.

        Raises :class:`ProtocolError` if ``host_time`` is not finite or earlier than the
        previous reading's (arrival times come from one monotonic host clock).
        """
        values = np.asarray(values, dtype=np.float64).reshape(self.channels)
        if not math.isfinite(host_time):
            raise ProtocolError(f"host time {host_time!r} is not a finite number")
        empty = np.zeros((0, self.channels), dtype=np.float32)
        if self._origin is None:
            self._origin, self._t, self._v = host_time, host_time, values
            self.readings = 1
            self._next, self._end = 1, 1
            return Resampled(values.astype(np.float32)[None, :], 0, 0)
        if host_time < self._t:
            raise ProtocolError(
                f"host time went backwards ({host_time!r} after {self._t!r}); use a monotonic clock"
            )
        if host_time == self._t:
            self.readings += 1
            self.merged += 1
            self._v = values
            return Resampled(empty, self._end, 0)
        last = self._last_index_at_or_before(host_time)
        self.readings += 1
        t0, v0 = self._t, self._v
        self._t, self._v = host_time, values
        if last < self._next:
            return Resampled(empty, self._end, 0)
        if host_time - t0 > self.max_gap_s:
            # nothing is known between t0 and host_time: skip the grid points strictly inside,
            # keep a point that falls exactly on the new reading
            if self._grid_time(last) == host_time:
                self._next = last
            else:
                self._next = last + 1
                return Resampled(empty, self._end, 0)
        ks = np.arange(self._next, last + 1)
        times = self._origin + ks / self.fs
        w = ((times - t0) / (host_time - t0))[:, None]
        out = (v0[None, :] * (1.0 - w) + values[None, :] * w).astype(np.float32)
        start, gap = self._next, self._next - self._end
        self._next = last + 1
        self._end = last + 1
        return Resampled(out, start, gap)
