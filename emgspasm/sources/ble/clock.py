"""Device clock to host clock: which host time goes with which sample index, drift included.

A Bluetooth sensor samples on its own crystal, which runs fast or slow by tens of ppm (and more
with temperature); the host only sees when notifications arrive. The stream's time axis stays the
sample index (see :mod:`emgspasm.frames`); this module keeps the separate mapping from sample
index to host time, so that a wall-clock position can be given for any sample and the length of
a gap across a reconnect can be estimated.

The model, for a packet whose last sample has stream index ``k`` and that arrives at host time
``a``::

    a = t0 + k * p + d,    d >= d_min

``p`` is the host duration of one sample (``1 / fs`` stretched by the crystal's error) and ``d``
the delay between taking the sample and the host seeing it: waiting on the device for the packet
to fill, the radio's connection interval, retransmissions, the host stack. Delays are never
negative and come in bursts, so a least-squares line through all arrivals would be pulled up by
them. :class:`ClockMapping` therefore fits the *lower envelope*:

1. The index axis is cut into blocks of ``block_s`` seconds of samples. For each block only the
   arrival that waited least (lowest above a line of the current slope) is kept.
2. A least-squares line is fitted through the block minima of the last ``window_blocks`` blocks
   (a sliding window, so a drift that changes slowly, e.g. with temperature, is followed); block
   minima further than three robust standard deviations (from the median absolute deviation)
   from that line are dropped once and the line is fitted again. A block where every packet was
   held up (a stalled link) is such an outlier.
3. The slope is then pulled toward the nominal ``1 / fs`` in proportion to its uncertainty
   (a normal prior of ``PRIOR_PPM`` on the crystal's error, the regression's standard error as
   the measurement's): after a few seconds the nominal rate dominates, after minutes the
   measured one; a device far off its nominal rate (a replay at N times real time) is measured
   within seconds. The line then passes through the block minima with that slope.
4. With fewer than two blocks the slope is the nominal ``1 / fs`` and the line passes through the
   arrival that waited least so far.

The fit is updated online: each arrival costs a comparison; the line is refitted (a few hundred
points) only when it is asked for after a block minimum changed. The latest arrivals are also
kept (``recent``) so that :meth:`ClockMapping.expected_min_delay` can say how much the
least-waiting of ``k`` new packets will still be late, which a reconnect estimate subtracts.

What the mapping cannot know is the smallest delay itself: ``host_time(k)`` is the earliest host
time at which sample ``k`` has been seen to arrive, i.e. its sampling time plus the link's
minimum latency (a constant of a few milliseconds on real radios).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

PRIOR_PPM = 100.0
"""Typical error of a sensor's crystal (a few tens of ppm, more with temperature)."""
FLOOR_S = 0.25e-3
"""Smallest spread assumed for the block minima around the line (radio timing noise)."""


@dataclass(frozen=True)
class ClockEstimate:
    """A snapshot of the mapping: ``rate_hz`` samples per host second, ``drift_ppm`` its
    deviation from the nominal rate, ``jitter_s`` the spread of arrival delays above the fitted
    line (median over block minima), ``blocks`` how many block minima the fit used."""

    rate_hz: float
    drift_ppm: float
    jitter_s: float
    blocks: int


class ClockMapping:
    """Online robust fit of host arrival time against stream sample index (see module doc)."""

    def __init__(
        self, fs: float, block_s: float = 1.0, window_blocks: int = 600, recent: int = 1024
    ) -> None:
        if not (fs > 0 and math.isfinite(fs)):
            raise ValueError("fs must be a positive number")
        if block_s <= 0 or window_blocks < 2:
            raise ValueError("block_s must be positive and window_blocks at least 2")
        self.fs = float(fs)
        self.block_len = max(1, round(block_s * fs))
        self._window: deque[tuple[int, float]] = deque(maxlen=window_blocks)
        self._recent: deque[tuple[int, float]] = deque(maxlen=recent)
        self._block: int | None = None  # id of the block being filled
        self._best: tuple[int, float] | None = None  # its lowest arrival (index, time)
        self._ref: tuple[int, float] | None = None  # origin of the fit, for precision
        self._fit: tuple[float, float] | None = None  # (slope s/sample, intercept s) at ref
        self._slope = 1.0 / self.fs  # slope used to pick block minima: the last fitted one
        self._spread = 0.0
        self.observations = 0

    # -- feeding ----------------------------------------------------------------------------
    def observe(self, last_index: int, host_time: float) -> None:
        """Record that the packet ending with sample ``last_index`` arrived at ``host_time``."""
        if not math.isfinite(host_time):
            return
        if self._ref is None:
            self._ref = (int(last_index), float(host_time))
        self.observations += 1
        block = int(last_index) // self.block_len
        if self._block is not None and block < self._block:
            return  # packets come in order; an index running back is not an arrival to fit
        if self._block is None or block > self._block:
            if self._best is not None:
                self._window.append(self._best)
            self._block, self._best = block, None
        point = (int(last_index), float(host_time))
        self._recent.append(point)
        if self._best is None or self._excess(point) < self._excess(self._best):
            self._best = point
            self._fit = None

    def _excess(self, point: tuple[int, float]) -> float:
        """Delay of an arrival above a line of the current slope (nominal until fitted)."""
        assert self._ref is not None
        return (point[1] - self._ref[1]) - (point[0] - self._ref[0]) * self._slope

    # -- fitting -----------------------------------------------------------------------------
    def _points(self) -> list[tuple[int, float]]:
        points = list(self._window)
        if self._best is not None:
            points.append(self._best)
        return points

    def _fitted(self) -> tuple[float, float]:
        if self._fit is not None:
            return self._fit
        if self._ref is None:
            raise ValueError("the clock mapping has no observation yet")
        points = self._points()
        x = np.array([p[0] - self._ref[0] for p in points], dtype=np.float64)
        y = np.array([p[1] - self._ref[1] for p in points], dtype=np.float64)
        nominal = 1.0 / self.fs
        if len(points) < 2 or np.ptp(x) < self.block_len:
            lowest = int(np.argmin(y - x * nominal))
            slope, intercept = nominal, float(y[lowest] - x[lowest] * nominal)
            self._spread = 0.0
        else:
            slope, intercept = _line(x, y)
            residual = y - (intercept + slope * x)
            centre = np.median(residual)
            mad = float(np.median(np.abs(residual - centre)))
            keep = np.abs(residual - centre) <= max(3 * 1.4826 * mad, 1e-9)
            if 2 <= keep.sum() < len(points) and np.ptp(x[keep]) >= self.block_len:
                x, y = x[keep], y[keep]
                slope, intercept = _line(x, y)
            residual = y - (intercept + slope * x)
            self._spread = float(np.median(np.abs(residual)))
            slope = self._shrunk(slope, x, residual)
            intercept = float(np.mean(y - slope * x))
        self._fit = (slope, intercept)
        self._slope = slope
        return self._fit

    def _shrunk(self, slope: float, x: np.ndarray, residual: np.ndarray) -> float:
        """The fitted slope pulled toward the nominal one by its own uncertainty.

        Relative deviation ``d = slope * fs - 1``; its standard error from the regression is
        ``sigma / sqrt(sum(dx^2)) * fs``, with ``sigma`` the residual spread but at least
        ``FLOOR_S``; the prior is a crystal error of ``PRIOR_PPM``. The posterior mean
        ``d * prior^2 / (prior^2 + error^2)`` keeps a slope measured over minutes and mostly
        ignores one guessed from two seconds, whose error would otherwise be extrapolated.
        """
        n = x.size
        dof = max(n - 2, 1)
        sigma = max(float(np.sqrt(np.sum(residual**2) / dof)) if n > 2 else 0.0, FLOOR_S)
        spread = float(np.sum((x - x.mean()) ** 2))
        error = sigma / np.sqrt(spread) * self.fs
        prior = PRIOR_PPM * 1e-6
        deviation = slope * self.fs - 1.0
        return (1.0 + deviation * prior**2 / (prior**2 + error**2)) / self.fs

    # -- using -------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once at least one arrival has been observed."""
        return self._ref is not None

    def host_time(self, index: float) -> float:
        """Earliest host time at which sample ``index`` arrives, by the fitted line."""
        slope, intercept = self._fitted()
        assert self._ref is not None
        return self._ref[1] + intercept + slope * (index - self._ref[0])

    def index_at(self, host_time: float) -> float:
        """The (fractional) sample index whose earliest arrival is ``host_time``."""
        slope, intercept = self._fitted()
        assert self._ref is not None
        return self._ref[0] + (host_time - self._ref[1] - intercept) / slope

    def expected_min_delay(self, k: int) -> float:
        """Expected smallest delay above the fitted line among ``k`` arrivals, in seconds.

        Computed from the latest arrivals' delays as the expectation of the minimum of ``k``
        draws from them (with replacement): what the least-waiting of ``k`` new packets
        overestimates its position by.
        """
        if not self._recent or k < 1:
            return 0.0
        residual = np.sort([a - self.host_time(i) for i, a in self._recent])
        n = residual.size
        above = (n - np.arange(n)) / n  # P(a draw is >= the i-th smallest)
        weights = above**k - np.append(above[1:], 0.0) ** k
        return float(np.dot(weights, residual))

    @property
    def rate_hz(self) -> float:
        """Samples per second of host time (the device's true rate as the host sees it)."""
        return 1.0 / self._fitted()[0]

    def estimate(self) -> ClockEstimate | None:
        """The current estimate, or None before any arrival."""
        if self._ref is None:
            return None
        rate = self.rate_hz
        return ClockEstimate(
            rate_hz=rate,
            drift_ppm=(rate / self.fs - 1.0) * 1e6,
            jitter_s=self._spread,
            blocks=len(self._points()),
        )


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y = intercept + slope * x`` (x has a spread)."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    slope = float(np.dot(dx, y - ym) / np.dot(dx, dx))
    return slope, ym - slope * xm
