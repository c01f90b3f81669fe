"""Packet-loss accounting from wrapping packet counters: where each packet's samples belong.

Bluetooth LE notifications are delivered in order or not at all, so a jump in a device's packet
counter means packets were lost in between. :class:`SequenceTracker` turns counters (and, where
the device sends one, the index of the packet's first sample) into a :class:`Placement`: the
stream index of the packet's first sample and how many samples are missing just before it, so a
gap is marked at the right sample and nothing after it shifts.

A counter that wraps every ``modulus`` packets cannot tell ``k`` lost packets from
``k + modulus``; the tracker assumes the smallest count, which is right as long as fewer than
``modulus`` packets go missing in a row. Devices that send a wide sample index (the emgspasm
bridge) do not have that limit: the index says how many samples are missing, and the counter only
cross-checks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...errors import ProtocolError

Advance = int | Callable[[int], int]
"""Samples a packet at counter value ``seq`` accounts for: a constant or a function of ``seq``."""


@dataclass(frozen=True)
class Placement:
    """Where a packet's samples go: first sample at ``start``, ``gap_before`` samples missing
    just before it, ``lost_packets`` packets missing just before it."""

    start: int
    gap_before: int
    lost_packets: int


class SequenceTracker:
    """Places packets on the stream from a packet counter that wraps at ``modulus``.

    ``advance`` gives, for a counter value, how many sample positions that packet accounts for:
    usually the samples it carries, more where the device is known to skip samples after it
    (they become a gap before the next packet). It is also what a lost packet is assumed to
    have carried. With ``advance=None`` a packet accounts for its own samples only, and lost
    samples can only be counted from a ``first_sample`` index.

    ``first_sample`` (a device sample index wrapping at ``index_modulus``) makes the gap exact.
    The first packet with an index is placed at that index (the device counts from its start);
    the first packet without one is placed at 0.
    """

    def __init__(
        self, modulus: int, advance: Advance | None = None, *, index_modulus: int = 2**32
    ) -> None:
        if modulus < 1:
            raise ValueError("modulus must be at least 1")
        self.modulus = modulus
        self.index_modulus = index_modulus
        self._advance = advance
        self.last: int | None = None
        self._next = 0
        self._end = 0
        self.total_lost_packets = 0
        self.total_lost_samples = 0

    @property
    def next_index(self) -> int:
        """Stream index of the first sample not yet handed out or counted as lost."""
        return self._end

    def _advance_of(self, seq: int, n_samples: int) -> int:
        if self._advance is None:
            return n_samples
        if isinstance(self._advance, int):
            return self._advance
        return self._advance(seq % self.modulus)

    def lost_between(self, seq: int) -> int:
        """Packets missing between the last placed counter and ``seq`` (0 before the first)."""
        if self.last is None:
            return 0
        return (seq - self.last - 1) % self.modulus

    def _lost_samples(self, lost: int) -> int:
        if lost == 0:
            return 0
        if self._advance is None:
            raise ProtocolError(
                f"{lost} packet(s) lost and the device sends no sample index to count their samples"
            )
        assert self.last is not None
        return sum(self._advance_of(self.last + k, 0) for k in range(1, lost + 1))

    def place(
        self, seq: int, n_samples: int, *, first_sample: int | None = None, commit: bool = True
    ) -> Placement:
        """Place a packet with counter ``seq`` carrying ``n_samples`` samples.

        Raises :class:`ProtocolError` when ``first_sample`` runs backwards or contradicts the
        counter (lost packets each carried at least one sample). With ``commit=False`` the
        tracker is left unchanged, so a caller can check a packet completely before accepting it.
        """
        if not 0 <= seq < self.modulus:
            raise ProtocolError(f"packet counter {seq} outside 0..{self.modulus - 1}")
        lost = self.lost_between(seq)
        if first_sample is not None:
            if self.last is None:
                start = first_sample
            else:
                ahead = (first_sample - self._next) % self.index_modulus
                if ahead >= self.index_modulus // 2:
                    raise ProtocolError(
                        f"sample index {first_sample} runs backwards (expected "
                        f"{self._next % self.index_modulus})"
                    )
                if ahead < lost:
                    raise ProtocolError(
                        f"counter says {lost} packet(s) lost but the sample index moved {ahead}"
                    )
                start = self._next + ahead
            advance = n_samples
        else:
            start = self._next + self._lost_samples(lost)
            advance = self._advance_of(seq, n_samples)
            if advance < n_samples:
                raise ValueError(f"packet {seq} carries {n_samples} samples, advance is {advance}")
        placement = (
            Placement(start=start, gap_before=start - self._end, lost_packets=lost)
            if n_samples > 0
            else Placement(start=self._end, gap_before=0, lost_packets=lost)
        )
        if commit:
            self.last = seq
            self.total_lost_packets += lost
            if n_samples > 0:
                self.total_lost_samples += start - self._end
                self._end = start + n_samples
            self._next = start + advance
        return placement
