"""What the live view keeps of the stream, and how it shrinks it to the pixels it draws.

The window keeps the last minute of the display signals in a ring indexed by the stream's
sample index (lost samples are NaN, so a gap shows as a break in the trace, never closed up),
and draws at most two points per pixel column: the minimum and the maximum of the samples that
fall into that column. Every spike stays visible at any zoom, and the cost of a redraw depends
on the width of the plot, not on the sample rate.

Columns are aligned on multiples of their size in samples, counted from sample 0, so a sample
stays in the same column while the picture scrolls and the trace does not shimmer.
"""

from __future__ import annotations

import math

import numpy as np


class SampleRing:
    """The latest ``capacity`` samples of ``channels`` channels, addressed by sample index.

    ``head`` is the index one past the newest sample written; samples from ``head - capacity``
    (or the first sample written, if later) to ``head`` can be read back. Samples that were
    lost (a gap) read back as NaN.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity < 1 or channels < 1:
            raise ValueError("a ring needs a positive capacity and at least one channel")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._data = np.full((self.capacity, self.channels), np.nan, dtype=np.float32)
        self.head = 0
        self.first = 0
        self._empty = True

    @property
    def oldest(self) -> int:
        """Index of the oldest sample that can still be read."""
        return max(self.first, self.head - self.capacity)

    def write(self, start: int, block: np.ndarray) -> None:
        """Store ``block`` (``(n, channels)``) whose first row is sample ``start``.

        Samples between the previous ``head`` and ``start`` are lost and become NaN. A block that
        starts before ``head`` overwrites what was there (the ring does not reorder).
        """
        n = int(block.shape[0])
        if self._empty:
            self.first = self.head = int(start)
            self._empty = False
        if start > self.head:
            self._fill_nan(self.head, start)
        if n == 0:
            self.head = max(self.head, int(start))
            return
        if n >= self.capacity:
            block = block[n - self.capacity :]
            start = start + n - self.capacity
            n = self.capacity
        i = start % self.capacity
        first = min(n, self.capacity - i)
        self._data[i : i + first] = block[:first]
        if first < n:
            self._data[: n - first] = block[first:]
        self.head = max(self.head, int(start) + n)

    def _fill_nan(self, start: int, stop: int) -> None:
        start = max(start, stop - self.capacity)
        i = start % self.capacity
        n = stop - start
        first = min(n, self.capacity - i)
        self._data[i : i + first] = np.nan
        if first < n:
            self._data[: n - first] = np.nan

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start`` to ``stop`` as a new ``(stop - start, channels)`` array.

        Indices outside what the ring holds read as NaN.
        """
        n = max(0, int(stop) - int(start))
        out = np.full((n, self.channels), np.nan, dtype=np.float32)
        lo = max(int(start), self.oldest)
        hi = min(int(stop), self.head)
        if hi <= lo:
            return out
        i = lo % self.capacity
        m = hi - lo
        first = min(m, self.capacity - i)
        out[lo - start : lo - start + first] = self._data[i : i + first]
        if first < m:
            out[lo - start + first : hi - start] = self._data[: m - first]
        return out


def column_size(span: int, columns: int) -> int:
    """Samples per pixel column when ``span`` samples are drawn into ``columns`` columns."""
    return max(1, math.ceil(span / max(1, columns)))


def minmax_columns(
    ring: SampleRing, start: int, stop: int, columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum and maximum of every pixel column between samples ``start`` and ``stop``.

    Returns ``(first_index, minima, maxima)``: the sample index at which each column starts,
    and ``(k, channels)`` arrays. A column whose samples are all lost is NaN (a break in the
    curve); a column only partly lost shows the samples it has.
    """
    size = column_size(stop - start, columns)
    a = (start // size) * size
    k = max(0, math.ceil((stop - a) / size))
    data = ring.read(a, a + k * size).reshape(k, size, ring.channels)
    with np.errstate(invalid="ignore"):
        lo = np.fmin.reduce(data, axis=1)
        hi = np.fmax.reduce(data, axis=1)
    first = a + size * np.arange(k, dtype=np.int64)
    return first, lo, hi


def interleave(
    first: np.ndarray, lo: np.ndarray, hi: np.ndarray, fs: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Columns as curves: x in seconds, y going min, max, min, max, ...

    Both points of a column sit at its centre, so the curve is a vertical stroke per column
    joined to its neighbours: what the samples would look like drawn one by one. ``lo`` and
    ``hi`` are ``(k,)`` for one channel (y is then ``(2k,)``) or ``(k, channels)`` for all
    channels at once (y is then ``(channels, 2k)``, one contiguous row per channel).
    """
    centre = (first + 0.5 * size) / fs
    x = np.repeat(centre, 2)
    lo, hi = np.asarray(lo), np.asarray(hi)
    y = np.empty((*lo.shape[1:], 2 * lo.shape[0]), dtype=np.float64)
    y[..., 0::2] = lo.T
    y[..., 1::2] = hi.T
    return x, y


class ColumnCache:
    """:func:`minmax_columns` of one ring, remembered between redraws.

    Columns are aligned on multiples of their size, so a column whose samples have all arrived
    never changes: only the columns holding new samples are computed at each redraw (a few per
    frame, instead of the whole window). A new column size (another window or plot width)
    starts afresh.
    """

    def __init__(self, ring: SampleRing) -> None:
        self.ring = ring
        self.size = 0
        self._cap = 0
        self._lo = np.empty((0, ring.channels), dtype=np.float32)
        self._hi = np.empty((0, ring.channels), dtype=np.float32)
        self._from = 0
        self._to = 0
        """Column numbers ``[_from, _to)`` are complete and stored."""

    def columns(
        self, start: int, stop: int, columns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Same result as ``minmax_columns(ring, start, stop, columns)``.

        Only the columns that gained samples since the last call are computed: those from the
        first incomplete one to the one holding the newest sample. Columns past the newest
        sample (while the stream has not yet filled the window) are NaN without reading the
        ring.
        """
        size = column_size(stop - start, columns)
        j0 = start // size
        j1 = max(j0, math.ceil(stop / size))
        k = j1 - j0
        if size != self.size or self._cap < k + 8:
            self.size = size
            self._cap = k + 64
            self._lo = np.full((self._cap, self.ring.channels), np.nan, dtype=np.float32)
            self._hi = np.full((self._cap, self.ring.channels), np.nan, dtype=np.float32)
            self._from = self._to = j0
        if not self._from <= j0 <= self._to or j1 - self._to > self._cap - k:
            self._from = self._to = j0
        self._from = j0
        head = self.ring.head
        jh = min(j1, max(j0, -(-head // size)))  # one past the column of the newest sample
        todo = jh - self._to
        if todo > 0:
            _, lo, hi = minmax_columns(self.ring, self._to * size, jh * size, todo)
            if lo.shape[0] != todo:  # pragma: no cover - column_size(todo*size, todo) == size
                raise AssertionError("column alignment lost")
            idx = np.arange(self._to, jh) % self._cap
            self._lo[idx] = lo
            self._hi[idx] = hi
            self._to = max(self._to, min(jh, head // size))
        idx = np.arange(j0, j1) % self._cap
        first = size * np.arange(j0, j1, dtype=np.int64)
        lo, hi = self._lo[idx], self._hi[idx]
        if jh < j1:
            lo[jh - j0 :] = np.nan
            hi[jh - j0 :] = np.nan
        return first, lo, hi
