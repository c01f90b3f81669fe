"""Packet-loss accounting: counters that wrap, lost packets, device-side skips, sample indices."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emgspasm import ProtocolError
from emgspasm.sources.ble import SequenceTracker


def test_consecutive_packets_follow_each_other() -> None:
    tracker = SequenceTracker(256, 3)
    places = [tracker.place(s, 3) for s in range(5)]
    assert [(p.start, p.gap_before, p.lost_packets) for p in places] == [
        (0, 0, 0),
        (3, 0, 0),
        (6, 0, 0),
        (9, 0, 0),
        (12, 0, 0),
    ]
    assert tracker.next_index == 15


def test_loss_across_the_wrap_marks_the_gap_at_the_right_index() -> None:
    tracker = SequenceTracker(256, 3)
    tracker.place(253, 3)
    tracker.place(254, 3)
    place = tracker.place(2, 3)  # 255, 0 and 1 lost
    assert (place.start, place.gap_before, place.lost_packets) == (15, 9, 3)
    assert (tracker.total_lost_packets, tracker.total_lost_samples) == (3, 9)


def test_advance_function_and_device_skips() -> None:
    # a cycle of 5 positions: 0 carries 1 sample, the others 2; position 4 is followed by one
    # sample the device never sends
    tracker = SequenceTracker(5, lambda p: 1 if p == 0 else (3 if p == 4 else 2))
    starts = [
        (p.start, p.gap_before)
        for p in (tracker.place(s % 5, 1 if s % 5 == 0 else 2) for s in range(7))
    ]
    assert starts == [(0, 0), (1, 0), (3, 0), (5, 0), (7, 0), (10, 1), (11, 0)]
    tracker2 = SequenceTracker(5, lambda p: 1 if p == 0 else (3 if p == 4 else 2))
    tracker2.place(3, 2)
    place = tracker2.place(1, 2)  # 4 (2 + 1 skipped) and 0 (1) lost
    assert (place.start, place.gap_before, place.lost_packets) == (2 + 3 + 1, 4, 2)


def test_packets_without_samples_pass_their_gap_on() -> None:
    tracker = SequenceTracker(16, 2)
    tracker.place(0, 2)
    empty = tracker.place(2, 0)  # one lost, and this one cannot be decoded
    assert (empty.gap_before, empty.lost_packets) == (0, 1)
    place = tracker.place(3, 2)
    assert (place.start, place.gap_before) == (6, 4)  # 2..3 lost, 4..5 undecodable


def test_sample_index_decides_and_the_counter_cross_checks() -> None:
    tracker = SequenceTracker(2**16)
    first = tracker.place(65535, 10, first_sample=2**32 - 5)
    assert (first.start, first.gap_before) == (2**32 - 5, 2**32 - 5)
    wrapped = tracker.place(1, 4, first_sample=2**32 - 5 + 10 + 7 - 2**32)  # one packet lost
    assert (wrapped.start, wrapped.gap_before, wrapped.lost_packets) == (2**32 + 12, 7, 1)
    overflow = tracker.place(2, 4, first_sample=30)  # consecutive counter, index jumped
    assert (overflow.start - 2**32, overflow.gap_before, overflow.lost_packets) == (30, 14, 0)


def test_inconsistent_input_raises_and_changes_nothing() -> None:
    tracker = SequenceTracker(2**16)
    tracker.place(0, 4, first_sample=0)
    with pytest.raises(ProtocolError, match="backwards"):
        tracker.place(1, 4, first_sample=2)
    with pytest.raises(ProtocolError, match="lost"):
        tracker.place(4, 4, first_sample=5)  # 3 lost packets cannot fit in 1 sample
    with pytest.raises(ProtocolError):
        tracker.place(2**16, 4, first_sample=4)
    assert tracker.place(1, 4, first_sample=4).gap_before == 0
    no_index = SequenceTracker(8)
    no_index.place(0, 4)
    with pytest.raises(ProtocolError, match="no sample index"):
        no_index.place(3, 4)


def test_peek_does_not_commit() -> None:
    tracker = SequenceTracker(8, 2)
    tracker.place(0, 2)
    assert tracker.place(3, 2, commit=False).gap_before == 4
    assert tracker.place(1, 2).gap_before == 0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 300),
    st.integers(1, 9),
    st.integers(0, 10**6),
    st.lists(st.integers(0, 400), min_size=1, max_size=150),
)
def test_any_loss_pattern_shorter_than_the_counter_is_counted_exactly(
    modulus, per_packet, offset, runs
) -> None:
    """Packets k = 0, 1, 2, ... carry counter (offset + k) % modulus; before each received one
    a run of fewer than ``modulus`` packets is lost."""
    tracker = SequenceTracker(modulus, per_packet)
    k, received = 0, []
    for run in runs:
        if received:
            k += 1 + run % modulus
        received.append(k)
        place = tracker.place((offset + k) % modulus, per_packet)
        assert place.start == (k - received[0]) * per_packet
        assert place.lost_packets == (0 if len(received) == 1 else run % modulus)
    span = (received[-1] - received[0] + 1) * per_packet
    assert tracker.next_index == span
    assert tracker.total_lost_samples == span - len(received) * per_packet
    assert tracker.total_lost_packets == received[-1] - received[0] + 1 - len(received)
