"""Sorting isolated potentials at rest into fasciculations and ECG crosstalk.

A fasciculation fires at irregular times; heartbeat crosstalk repeats at a steady interval with
the same size and shape every beat. Each potential is held until every beat that could make it
part of a regular train has been seen, then released as a fasciculation or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Potential:
    """An isolated short potential as the kernel reported it (sample indices)."""

    onset: int
    offset: int
    peak_at: int
    peak: float
    base_rms: float
    decided: int
    ecg: bool = False

    @property
    def width(self) -> int:
        return self.offset - self.onset


@dataclass(frozen=True)
class HeartbeatRule:
    """What makes three potentials a heartbeat train (intervals in samples)."""

    min_interval: int
    max_interval: int
    interval_tolerance: float
    amplitude_tolerance: float

    def regular(self, a: Potential, b: Potential, c: Potential) -> bool:
        i1 = b.peak_at - a.peak_at
        i2 = c.peak_at - b.peak_at
        if not (self.min_interval <= i1 <= self.max_interval):
            return False
        if not (self.min_interval <= i2 <= self.max_interval):
            return False
        if abs(i2 - i1) > self.interval_tolerance * max(i1, i2):
            return False
        peaks = (a.peak, b.peak, c.peak)
        if max(peaks) - min(peaks) > self.amplitude_tolerance * max(peaks):
            return False
        widths = (a.width, b.width, c.width)
        return max(widths) - min(widths) <= max(2, 0.5 * max(widths))


class PotentialSorter:
    """Holds one channel's potentials and releases the fasciculations among them in order."""

    def __init__(self, rule: HeartbeatRule, report_delay: int) -> None:
        """``report_delay`` bounds how long after its peak a potential reaches the sorter."""
        self.rule = rule
        self.hold = 2 * rule.max_interval + report_delay + 1
        self._held: list[Potential] = []

    def add(self, potential: Potential) -> None:
        """Take a new potential and mark any regular train it completes as crosstalk."""
        recent = [
            p for p in self._held if potential.peak_at - p.peak_at <= 2 * self.rule.max_interval
        ]
        for i, a in enumerate(recent):
            for b in recent[i + 1 :]:
                if self.rule.regular(a, b, potential):
                    a.ecg = b.ecg = potential.ecg = True
        self._held.append(potential)

    def release_key(self, potential: Potential) -> int:
        """The stream position at which a potential's fate is sealed."""
        return potential.peak_at + self.hold

    def release(self, upto: int) -> list[tuple[int, Potential]]:
        """Potentials whose fate is sealed before sample ``upto``, with their release keys.

        Everything else is kept; potentials that are part of a heartbeat train are dropped.
        """
        out: list[tuple[int, Potential]] = []
        keep: list[Potential] = []
        for p in self._held:
            key = self.release_key(p)
            if key < upto:
                if not p.ecg:
                    out.append((key, p))
                # Crosstalk beats stay as partners for the next beat until they are too old.
                if p.ecg and upto - p.peak_at <= 2 * self.rule.max_interval:
                    keep.append(p)
            else:
                keep.append(p)
        self._held = keep
        return out

    def drain(self) -> list[tuple[int, Potential]]:
        """Release everything at the end of the stream."""
        out = [(self.release_key(p), p) for p in self._held if not p.ecg]
        self._held = []
        return out
