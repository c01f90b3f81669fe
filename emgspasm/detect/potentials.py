"""Deciding which narrow potentials at rest are fasciculations.

The kernel reports every narrow potential and every long run of activity. A fasciculation is a
potential that stands alone: no activity and no other potential within the guard time on either
side, and not part of a heartbeat train (ECG crosstalk repeats at a steady interval with the same
size and shape every beat, where fasciculations fire at irregular times). Each potential is held
until everything that could change its fate has been seen, then released or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

NEIGHBOUR_SIZE = 0.25
"""A potential this much smaller than another one near it does not take away its isolation
(noise or a heartbeat peak beside a large twitch); one of comparable size does."""


@dataclass
class Potential:
    """A narrow potential as the kernel reported it (sample indices; ``offset`` exclusive)."""

    onset: int
    offset: int
    peak_at: int
    peak: float
    base_rms: float
    ecg: bool = False
    sealed: bool = False

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
    """One channel's potentials and activity; releases the fasciculations in order."""

    def __init__(
        self, rule: HeartbeatRule, guard: int, window: int, run_min: int, report_delay: int
    ) -> None:
        """``guard``: rest required either side; ``window``: the envelope window; ``run_min``:
        the run of activity that means work; ``report_delay`` bounds how long after the fact the
        kernel reports a potential or the start of a run of activity."""
        self.rule = rule
        self.guard = guard
        self.window = window
        self.run_min = run_min
        self.hold = max(2 * rule.max_interval, guard) + report_delay + 1
        self._held: list[Potential] = []
        self._busy: list[tuple[int, int]] = []
        self._busy_since: int | None = None

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

    def busy_from(self, start: int) -> None:
        """The muscle is working from sample ``start`` on (until ``busy_until``)."""
        self._busy_since = start

    def busy_until(self, stop: int) -> None:
        """The activity begun with ``busy_from`` ends at ``stop``."""
        if self._busy_since is not None:
            self._busy.append((self._busy_since, stop))
        self._busy_since = None

    def mark_busy(self, start: int, stop: int) -> None:
        """A span in which rest cannot be vouched for (activity, or samples lost in a gap)."""
        self._busy.append((start, stop))

    def release_key(self, potential: Potential) -> int:
        """The stream position at which a potential's fate is sealed."""
        return potential.peak_at + self.hold

    def _isolated(self, p: Potential, now: int) -> bool:
        lo, hi = p.onset - self.guard, p.offset + self.guard
        spans = self._busy if self._busy_since is None else [*self._busy, (self._busy_since, now)]
        for a, b in spans:
            if not (a < hi and b > lo):
                continue
            # A run that begins with the potential and is long only because the potential (and
            # the filters' ringing after it) was in the envelope window is its own doing.
            if a >= p.onset - self.window and b - (p.offset + self.window) < self.run_min:
                continue
            return False
        return not any(
            q is not p
            and not q.ecg
            and abs(q.peak_at - p.peak_at) < self.guard
            and q.peak >= NEIGHBOUR_SIZE * p.peak
            for q in self._held
        )

    def release(self, upto: int) -> list[tuple[int, Potential]]:
        """Fasciculations whose fate is sealed before sample ``upto``, with their release keys.

        Potentials that are not isolated, or belong to a heartbeat train, are dropped.
        """
        out: list[tuple[int, Potential]] = []
        for p in self._held:
            if p.sealed or self.release_key(p) >= upto:
                continue
            p.sealed = True
            if not p.ecg and self._isolated(p, upto):
                out.append((self.release_key(p), p))
        # Keep what is undecided, and recent beats and potentials as partners of what is.
        horizon = upto - self.hold - 2 * self.rule.max_interval - self.guard
        self._held = [
            p for p in self._held if self.release_key(p) >= upto or p.peak_at >= horizon
        ]
        self._busy = [(a, b) for a, b in self._busy if b >= horizon]
        return out

    def drain(self, end: int) -> list[tuple[int, Potential]]:
        """End of stream at sample ``end``: release what had its guard time after it."""
        self.busy_until(end)
        self.mark_busy(end, end + self.guard)
        out = self.release(end + self.hold + self.guard + 1)
        self._held = []
        return out
