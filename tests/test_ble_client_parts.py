"""The parts of the Bluetooth client that need no link: clock mapping, stitching, back-off,
link status and device targets."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from emgspasm import DeviceError
from emgspasm.sources.ble.backoff import ReconnectPolicy
from emgspasm.sources.ble.clock import ClockMapping
from emgspasm.sources.ble.discovery import DeviceTarget
from emgspasm.sources.ble.link_status import LinkMonitor, LinkState, LinkStats
from emgspasm.sources.ble.packet import DecodedPacket
from emgspasm.sources.ble.stitch import SessionStitcher


def arrivals(fs, drift_ppm, seconds, packet, seed, t0=5000.0, stall_every=700):
    """(last index, arrival) of packets of ``packet`` samples from a device whose clock runs
    ``drift_ppm`` fast: 4 ms minimum latency, exponential jitter, occasional 150 ms stalls."""
    rng = np.random.default_rng(seed)
    period = 1.0 / (fs * (1 + drift_ppm * 1e-6))
    last = np.arange(packet - 1, int(seconds * fs), packet)
    delay = 0.004 + rng.exponential(0.003, last.size)
    delay[rng.integers(0, last.size, last.size // stall_every)] += 0.150
    return last, t0 + last * period + delay, t0, period


def test_clock_mapping_absorbs_a_100_ppm_drift_over_an_hour() -> None:
    fs = 1000.0
    last, arrival, t0, period = arrivals(fs, 100.0, 3600, 20, seed=3)
    clock = ClockMapping(fs)
    for k, a in zip(last, arrival, strict=True):
        clock.observe(int(k), float(a))
    estimate = clock.estimate()
    assert estimate is not None
    assert estimate.drift_ppm == pytest.approx(100.0, abs=0.5)
    end = int(last[-1])
    # nominal rate would misplace the last sample by 360 ms; the fit is off by the 4 ms latency
    assert (end / fs - end * period) == pytest.approx(0.36, abs=0.001)
    assert clock.host_time(end) - (t0 + end * period) == pytest.approx(0.004, abs=0.0005)
    assert clock.index_at(t0 + end * period + 0.004) == pytest.approx(end, abs=0.5)


def test_clock_mapping_follows_a_drift_that_changes() -> None:
    fs = 200.0
    clock = ClockMapping(fs, block_s=1.0, window_blocks=120)
    t, k = 0.0, 0
    rng = np.random.default_rng(0)
    for ppm in (-40.0, 60.0):  # ten minutes at each, the window is two minutes
        for _ in range(600 * 100):
            k += 2
            t += 2 / (fs * (1 + ppm * 1e-6))
            clock.observe(k - 1, t + 0.002 + rng.exponential(0.002))
        assert clock.estimate().drift_ppm == pytest.approx(ppm, abs=2.0)


def test_clock_mapping_before_two_blocks_uses_the_nominal_rate() -> None:
    clock = ClockMapping(500.0)
    assert clock.estimate() is None and not clock.ready
    clock.observe(49, 10.0 + 0.05)
    clock.observe(99, 10.0 + 0.30)  # held up
    clock.observe(149, 10.0 + 0.301)
    assert clock.rate_hz == 500.0
    assert clock.host_time(49) == pytest.approx(10.05)


def packet(start: int, n: int, gap: int = 0) -> DecodedPacket:
    return DecodedPacket(np.zeros((n, 1), np.float32), start=start, gap_before=gap)


def test_the_first_connection_is_placed_as_decoded() -> None:
    stitcher = SessionStitcher(ClockMapping(100.0))
    stitcher.new_session()
    placed = stitcher.push(packet(0, 10), 1.0) + stitcher.push(packet(14, 10, gap=4), 1.2)
    assert [(p.start, p.gap_before, p.reconnect_gap) for p in placed] == [(0, 0, 0), (14, 4, 0)]
    assert stitcher.push(packet(24, 0), 1.3) == []


def test_a_reconnect_gap_comes_from_the_arrival_that_waited_least() -> None:
    fs = 100.0
    clock = ClockMapping(fs)
    stitcher = SessionStitcher(clock, settle_packets=4)
    stitcher.new_session()
    for j in range(50):  # 10 s, arrivals 5 ms after the last sample of each packet
        stitcher.push(packet(20 * j, 20), 100.0 + (20 * j + 19) / fs + 0.005)
    assert stitcher.next_index == 1000
    stitcher.new_session()  # back after a drop: the device counts from 0 again at index 1234
    delays = [0.045, 0.005, 0.030, 0.012]
    out = []
    for j, d in enumerate(delays):
        out += stitcher.push(packet(10 * j, 10), 100.0 + (1234 + 10 * j + 9) / fs + d)
        assert (out == []) == (j < 3)  # held until four packets are in
    assert [p.start for p in out] == [1234, 1244, 1254, 1264]
    assert out[0].gap_before == out[0].reconnect_gap == 234


def test_a_reconnect_never_overlaps_samples_already_given_out() -> None:
    clock = ClockMapping(100.0)
    stitcher = SessionStitcher(clock, settle_packets=1)
    stitcher.new_session()
    stitcher.push(packet(0, 100), 10.0)
    stitcher.new_session()
    [placed] = stitcher.push(packet(0, 10), 9.0)  # an arrival the clock puts in the past
    assert placed.start == 100 and placed.gap_before == 0


def test_held_packets_are_released_by_a_new_session_or_a_flush() -> None:
    stitcher = SessionStitcher(ClockMapping(100.0), settle_packets=10)
    stitcher.new_session()
    stitcher.push(packet(0, 10), 1.0)
    stitcher.new_session()
    assert stitcher.push(packet(0, 10), 2.0) == []
    assert [p.start for p in stitcher.flush()] == [100]
    assert stitcher.flush() == []


def test_backoff_doubles_up_to_its_ceiling_and_counts_attempts() -> None:
    policy = ReconnectPolicy(initial_delay_s=0.5, factor=2.0, max_delay_s=3.0, max_attempts=4)
    assert [policy.delay(k) for k in range(6)] == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert not policy.exhausted(3) and policy.exhausted(4)
    assert not ReconnectPolicy().exhausted(10**6)
    with pytest.raises(ValueError):
        ReconnectPolicy(max_attempts=0)


def test_link_stats_percentages() -> None:
    stats = LinkStats(
        packets_received=95,
        packets_lost=5,
        samples_received=900,
        samples_lost=60,
        reconnect_samples_lost=40,
    )
    assert stats.packet_loss_percent == pytest.approx(5.0)
    assert stats.total_samples_lost == 100
    assert stats.loss_percent == pytest.approx(10.0)
    assert LinkStats().loss_percent == 0.0


def test_link_monitor_publishes_state_changes_at_once_and_counts_at_a_rate() -> None:
    now = [0.0]
    monitor = LinkMonitor(interval_s=1.0, clock=lambda: now[0])
    seen: list = []
    unsubscribe = monitor.subscribe(seen.append)
    monitor.set_state(LinkState.CONNECTING)
    monitor.update(battery=50)  # within the interval: kept, not published
    assert monitor.latest.state is LinkState.CONNECTING and monitor.latest.battery is None
    now[0] = 1.5
    monitor.update(battery=40)
    assert monitor.latest.battery == 40
    unsubscribe()
    monitor.set_state(LinkState.STREAMING)
    assert [s.state for s in seen] == [LinkState.CONNECTING, LinkState.CONNECTING]
    assert monitor.latest.since == 1.5


def test_link_monitor_updates_iterate_until_the_source_ends() -> None:
    async def main() -> list[LinkState]:
        monitor = LinkMonitor(interval_s=0.0)
        states: list[LinkState] = []

        async def watch() -> None:
            async for status in monitor.updates():
                states.append(status.state)

        task = asyncio.ensure_future(watch())
        await asyncio.sleep(0)
        for state in (LinkState.CONNECTING, LinkState.STREAMING, LinkState.CLOSED):
            monitor.set_state(state)
            await asyncio.sleep(0)
        await asyncio.wait_for(task, 1.0)
        return states

    states = asyncio.run(main())
    assert states[-1] is LinkState.CLOSED and LinkState.STREAMING in states


def test_device_target_needs_an_address_or_a_name() -> None:
    with pytest.raises(DeviceError):
        DeviceTarget()
    assert str(DeviceTarget(address="AA:BB:CC:DD:EE:FF", name="x")) == "'x' at AA:BB:CC:DD:EE:FF"
    assert DeviceTarget(name="x").pinned("AA:BB:CC:DD:EE:FF").address == "AA:BB:CC:DD:EE:FF"


def test_a_stream_start_packet_marks_the_origin_of_a_connection() -> None:
    stitcher = SessionStitcher(ClockMapping(100.0))
    stitcher.new_session()
    first = DecodedPacket(
        np.zeros((5, 1), np.float32), start=2**32 - 3, gap_before=2**32 - 3,
        flags=frozenset({"stream_start"}),
    )  # fmt: skip
    [placed] = stitcher.push(first, 1.0)
    assert (placed.start, placed.gap_before) == (0, 0)
    [placed] = stitcher.push(packet(2**32 + 4, 5, gap=2), 1.1)  # counters wrapped meanwhile
    assert (placed.start, placed.gap_before, placed.reconnect_gap) == (7, 2, 0)


def test_expected_min_delay_of_k_arrivals() -> None:
    clock = ClockMapping(100.0, recent=4000)
    rng = np.random.default_rng(4)
    for j in range(4000):  # 20 ms packets, delays uniform over 0..10 ms
        clock.observe(2 * j + 1, (2 * j + 1) / 100.0 + rng.uniform(0.0, 0.010))
    # the line sits at the lower envelope; the least of k uniform delays is about 10 ms / (k+1)
    assert clock.expected_min_delay(1) == pytest.approx(0.005, abs=0.0005)
    assert clock.expected_min_delay(9) == pytest.approx(0.001, abs=0.0003)
    assert clock.expected_min_delay(9) > clock.expected_min_delay(50) > 0.0


def test_targets_from_strings() -> None:
    from emgspasm.sources.ble.client import _as_target

    assert _as_target("F0:00:00:00:00:0A") == DeviceTarget(address="F0:00:00:00:00:0A")
    assert _as_target("emgspasm-bridge") == DeviceTarget(name="emgspasm-bridge")


def test_virtual_sensors_refuse_what_their_device_cannot_do() -> None:
    from emgspasm import ConfigError, Recording
    from emgspasm.sources.ble.bumble_link import VirtualRadio
    from emgspasm.sources.ble.virtual import (
        FaultPlan,
        SampleFeed,
        VirtualBridge,
        VirtualGanglion,
        VirtualMyo,
        start_virtual_sensor,
    )

    def feed(fs: float, channels: int) -> SampleFeed:
        return SampleFeed(
            Recording(np.zeros((10, channels)), fs, ("a",) * channels, ("uV",) * channels)
        )

    radio = VirtualRadio()
    with pytest.raises(ConfigError):
        VirtualMyo(radio, feed(1000.0, 8))
    with pytest.raises(ConfigError):
        VirtualGanglion(radio, feed(200.0, 5))
    with pytest.raises(ConfigError):
        VirtualBridge(radio, feed(999.5, 1))
    with pytest.raises(ConfigError):
        VirtualBridge(radio, feed(1000.0, 9))
    with pytest.raises(ConfigError):
        FaultPlan(drop_probability=1.5)
    with pytest.raises(ConfigError):
        FaultPlan(delay_s=(0.01, 0.0))
    with pytest.raises(ConfigError):
        asyncio.run(start_virtual_sensor("polar", radio, feed(1000.0, 1)))
    assert feed(1000.0, 1).samples(5, 100).shape == (5, 1)
    assert SampleFeed(feed(1000.0, 1).recording, duration_s=0.004).n_samples == 4
