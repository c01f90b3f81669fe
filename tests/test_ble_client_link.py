"""End to end over the in-process Bluetooth link: the real bleak client code (BleakScanner,
BleakClient on the bumble backend) talking GATT to virtual sensors, through BleSource.

The tests run on the virtual-time loop (same code; the loop's clock jumps to the next timer
instead of waiting), so what arrives when is exact and does not depend on how busy the machine
is. One test runs in real time, to show that the same exchange holds up on the real clock and
its scheduling noise (see its comments for the tolerances). Every check compares with the
virtual sensor's own log of what it sent and lost.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from emgspasm import DeviceError, EmgSpasmError, Frame, Recording
from emgspasm.sources.ble.backoff import ReconnectPolicy
from emgspasm.sources.ble.bumble_backend import BumbleLinkClient
from emgspasm.sources.ble.bumble_link import VirtualRadio
from emgspasm.sources.ble.client import BleSource, ConnectOptions, Resumption
from emgspasm.sources.ble.discovery import DeviceTarget
from emgspasm.sources.ble.identify import ProfileOptions
from emgspasm.sources.ble.link_status import LinkState, LinkStats, LinkStatus
from emgspasm.sources.ble.profiles.ganglion import UV_PER_COUNT
from emgspasm.sources.ble.virtual import (
    FaultPlan,
    SampleFeed,
    VirtualBridge,
    VirtualGanglion,
    VirtualMyo,
    VirtualPeripheral,
)
from emgspasm.sources.ble.virtual.virtual_time import run_virtual

FAST = ConnectOptions(
    scan_timeout_s=2.0,
    connect_timeout_s=2.0,
    ambiguity_s=0.2,
    reconnect=ReconnectPolicy(initial_delay_s=0.05, max_delay_s=0.4, max_attempts=40),
)


@dataclass
class Run:
    frames: list[Frame]
    status: LinkStatus
    stats: LinkStats
    states: list[LinkState]
    error: BaseException | None
    resumptions: list[Resumption] = field(default_factory=list)


async def stream_from(
    sensor: VirtualPeripheral,
    radio: VirtualRadio,
    *,
    target: DeviceTarget | None = None,
    profile: ProfileOptions | None = None,
    connect: ConnectOptions = FAST,
    deadline_s: float = 60.0,
    until: Callable[[list[Frame]], bool] | None = None,
    **options: object,
) -> Run:
    """Stream from ``sensor`` until it has sent its whole feed and every delivered notification
    has been received, or ``until(frames so far)`` is true (or the source fails, or the
    deadline passes); then close."""
    source = BleSource(
        target or DeviceTarget(address=sensor.address),
        profile=profile,
        connect=connect,
        **radio.bleak_backends(),
        **options,  # type: ignore[arg-type]
    )
    frames: list[Frame] = []
    states: list[LinkState] = []
    source.monitor.subscribe(lambda status: states.append(status.state))
    error: list[BaseException] = []

    async def consume() -> None:
        try:
            async for frame in source:
                frames.append(frame)
        except EmgSpasmError as exc:
            error.append(exc)

    consumer = asyncio.ensure_future(consume())
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while loop.time() < end and not consumer.done():
        if sensor.done and source.stats.packets_received >= len(sensor.log.delivered()):
            break
        if until is not None and until(frames):
            break
        await asyncio.sleep(0.05)
    await source.close()
    await consumer
    failure = error[0] if error else None
    return Run(frames, source.status, source.stats, states, failure, list(source.resumptions))


def bridge_values(sensor: VirtualBridge, start: int, stop: int) -> np.ndarray:
    """What a host decodes from the bridge's codes (PROTOCOL.md: (code - zero) * nV / 1000)."""
    codes = sensor.codes(start, stop)
    scale = np.float32(sensor.info.nv_per_count / 1000.0)
    return (codes.astype(np.float32) - np.float32(sensor.info.zero_code)) * scale


def myo_values(sensor: VirtualMyo, start: int, stop: int) -> np.ndarray:
    return sensor.counts(start, stop).astype(np.float32)


def values_of(sensor: VirtualPeripheral, start: int, stop: int) -> np.ndarray:
    if isinstance(sensor, VirtualBridge):
        return bridge_values(sensor, start, stop)
    if isinstance(sensor, VirtualGanglion):
        return (sensor.sent_counts(start, stop) * UV_PER_COUNT).astype(np.float32)
    assert isinstance(sensor, VirtualMyo)
    return myo_values(sensor, start, stop)


def assemble(frames: list[Frame], length: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(received mask, values) over stream indices 0..length-1; checks that every Frame starts
    where the previous one stopped plus its gap."""
    mask = np.zeros(length, dtype=bool)
    data = np.full((length, channels), np.nan, dtype=np.float32)
    stop = 0
    for frame in frames:
        assert frame.start == stop + frame.gap_before, "a gap is not where the Frame says"
        assert frame.stop <= length, "samples beyond what the device delivered"
        mask[frame.start : frame.stop] = True
        data[frame.start : frame.stop] = frame.samples
        stop = frame.stop
    return mask, data


def check_exact(run: Run, sensor: VirtualPeripheral, base: int | None = None) -> np.ndarray:
    """The stream holds exactly the samples the sensor delivered, each at world index minus
    ``base`` (default: the world sample of the first START), with gaps exactly where it lost
    any, and the loss counts agree. Returns the mask of delivered samples."""
    delivered = sensor.log.delivered()
    if base is None:
        base = sensor.log.sessions[0].world_start
    length = max(n.stop for n in delivered) - base
    covered = np.zeros(length, dtype=bool)
    for n in delivered:
        covered[n.first - base : n.stop - base] = True
    mask, data = assemble(run.frames, length, len(run.status.channels))
    assert run.frames[-1].stop == length
    np.testing.assert_array_equal(mask, covered)
    expected = values_of(sensor, base, base + length)
    np.testing.assert_array_equal(data[covered], expected[covered])
    assert run.stats.samples_received == int(covered.sum())
    assert run.stats.total_samples_lost == int((~covered).sum())
    return covered


def detectable_losses(sensor: VirtualPeripheral) -> tuple[int, int]:
    """(notifications, samples) lost between two delivered notifications of one session: what
    a packet counter reveals."""
    packets = samples = 0
    by_session: dict[int, list] = {}
    for n in sensor.log.notifications:
        by_session.setdefault(n.session, []).append(n)
    for notes in by_session.values():
        delivered = [k for k, n in enumerate(notes) if not n.lost]
        if not delivered:
            continue
        for n in notes[delivered[0] : delivered[-1]]:
            if n.lost:
                packets += 1
                samples += n.n
    return packets, samples


def simulated(fs: float, seconds: float, channels: int, seed: int) -> SampleFeed:
    return SampleFeed.simulated("night", seconds, fs=fs, channels=channels, seed=seed)


def random_feed(fs: float, seconds: float, channels: int, seed: int) -> SampleFeed:
    """A cheap feed for long runs: white noise in µV (the link does not care what it carries)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    samples = rng.normal(0.0, 300.0, (n, channels)).astype(np.float32)
    names = tuple(f"EMG{k + 1}" for k in range(channels))
    return SampleFeed(Recording(samples, fs, names, ("uV",) * channels))


# -- virtual time ------------------------------------------------------------------------------
def test_bridge_frames_equal_the_device_samples() -> None:
    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        feed = simulated(1000.0, 2.5, 2, seed=4)
        # a long latency lets packets fill up to what the exchanged MTU allows
        async with VirtualBridge(radio, feed, latency_ms=200) as sensor:
            return await stream_from(sensor, radio, target=DeviceTarget(name=sensor.name)), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    check_exact(run, sensor)
    assert run.stats.total_samples_lost == 0 and run.stats.packets_lost == 0
    assert run.stats.packets_received == len(sensor.log.notifications) > 10
    assert run.states[0] is LinkState.CONNECTING and run.states[-1] is LinkState.CLOSED
    assert LinkState.STREAMING in run.states
    status = run.status
    assert (status.device_address, status.device_name) == (sensor.address, "emgspasm-bridge")
    assert (status.profile, status.fs) == ("emgspasm-bridge", 1000.0)
    assert status.channels == ("EMG1", "EMG2")
    assert status.units == "uV" and status.mtu == 247 and status.battery == 87
    assert sensor.replies == [(1, 0), (2, 0)]  # START and, at close, STOP answered OK
    # MTU 247 and two channels: 14 + 3 * 76 = 242 bytes fit in 244, 76 samples (PROTOCOL.md);
    # with 200 ms of latency every packet is full but the one that ends the feed
    sizes = [n.n for n in sensor.log.notifications]
    assert max(sizes) == 76 and set(sizes[:-1]) == {76}


def test_myo_frames_equal_the_device_samples() -> None:
    async def main() -> tuple[Run, VirtualMyo]:
        radio = VirtualRadio()
        async with VirtualMyo(radio, simulated(200.0, 2.0, 8, seed=5)) as sensor:
            run = await stream_from(sensor, radio, profile=ProfileOptions(kind="myo"))
            return run, sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    check_exact(run, sensor)
    assert run.status.profile == "myo"
    assert run.status.channels == tuple(f"ch{k}" for k in range(1, 9))
    assert run.status.battery == 64 and sensor.sleep_mode == 0  # never-sleep, then normal at close
    assert len({n.first for n in sensor.log.notifications}) == len(sensor.log.notifications)
    assert len(sensor.log.notifications) > 100


def test_the_source_connects_only_to_the_device_asked_for() -> None:
    async def main() -> None:
        radio = VirtualRadio()
        feed_a, feed_b = simulated(1000.0, 2.0, 1, seed=7), simulated(1000.0, 2.0, 1, seed=8)
        a = VirtualBridge(radio, feed_a, address="F0:00:00:00:00:0A")
        b = VirtualBridge(radio, feed_b, address="F0:00:00:00:00:0B")
        async with a, b:
            # by address: the other bridge, with the same name and service, is never touched
            run = await stream_from(b, radio, target=DeviceTarget(address=b.address))
            assert run.error is None and a.log.connections == []
            assert b.log.connections == [radio.central_address]
            check_exact(run, b)
            assert run.stats.samples_received > 1000
            # by name when two devices carry it: refused, nobody connected
            quick = ConnectOptions(scan_timeout_s=1.0, ambiguity_s=0.3, connect_attempts=1)
            source = BleSource("emgspasm-bridge", connect=quick, **radio.bleak_backends())
            with pytest.raises(DeviceError, match="more than one device"):
                async for _ in source:
                    pass
            assert source.status.state is LinkState.FAILED
            assert a.log.connections == [] and len(b.log.connections) == 1
            # a device that is not there: not found, with what was seen instead
            source = BleSource("F0:00:00:00:00:0C", connect=quick, **radio.bleak_backends())
            with pytest.raises(DeviceError, match="not found.*F0:00:00:00:00:0A"):
                async for _ in source:
                    pass

    run_virtual(main())


def test_bridge_drops_become_gaps_at_their_index_with_exact_counts() -> None:
    faults = FaultPlan(
        drop_notifications=frozenset({3, 4, 5, 17}), drop_probability=0.08, drop_burst=4, seed=11
    )

    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        async with VirtualBridge(radio, simulated(1000.0, 8.0, 1, 9), faults=faults) as sensor:
            return await stream_from(sensor, radio), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    covered = check_exact(run, sensor)
    packets, samples = detectable_losses(sensor)
    assert packets >= 8 and (~covered).sum() == samples
    assert (run.stats.packets_lost, run.stats.samples_lost) == (packets, samples)
    assert run.stats.reconnect_samples_lost == 0
    sent = packets + len(sensor.log.delivered())
    assert run.stats.packet_loss_percent == pytest.approx(100 * packets / sent)


def test_bridge_counters_wrap_around_without_losing_count() -> None:
    # counters started just below their wrap (a test aid: the firmware starts at 0)
    faults = FaultPlan(drop_notifications=frozenset({4, 5, 6, 7, 9}))

    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        sensor = VirtualBridge(
            radio,
            simulated(1000.0, 3.0, 1, 10),
            faults=faults,
            first_sequence=2**16 - 6,
            first_index=2**32 - 150,
        )
        async with sensor:
            return await stream_from(sensor, radio), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    check_exact(run, sensor)
    notes = sensor.log.notifications
    assert [n.sequence for n in notes[4:8]] == [65534, 65535, 0, 1]  # lost across the wrap
    start = sensor.log.sessions[0].world_start
    assert notes[7].first - start < 150 < notes[7].stop - start  # so is the index's wrap
    assert run.stats.packets_lost == 5
    assert run.stats.samples_lost == sum(n.n for n in sensor.log.lost())


def test_myo_drops_are_counted_from_the_characteristic_rotation() -> None:
    faults = FaultPlan(drop_notifications=frozenset({7, 30, 31, 32}), drop_probability=0.03, seed=2)

    async def main() -> tuple[Run, VirtualMyo]:
        radio = VirtualRadio()
        async with VirtualMyo(radio, simulated(200.0, 6.0, 8, 12), faults=faults) as sensor:
            run = await stream_from(sensor, radio, profile=ProfileOptions(myo_check_rotation=True))
            return run, sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    first_delivered = sensor.log.delivered()[0].first
    check_exact(run, sensor, base=first_delivered)
    packets, samples = detectable_losses(sensor)
    assert (run.stats.packets_lost, run.stats.samples_lost) == (packets, samples)
    assert packets >= 6


def test_ganglion_firmware_3_is_chosen_from_its_revision_and_placed_exactly() -> None:
    faults = FaultPlan(drop_notifications=frozenset({50, 51, 99, 150}))

    async def main() -> tuple[Run, VirtualGanglion]:
        radio = VirtualRadio()
        async with VirtualGanglion(radio, simulated(200.0, 6.0, 4, 18), faults=faults) as sensor:
            return await stream_from(sensor, radio, target=DeviceTarget(name=sensor.name)), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    covered = check_exact(run, sensor)
    assert run.status.profile == "ganglion" and run.status.units == "uV"
    packets, samples = detectable_losses(sensor)
    assert run.stats.packets_lost == packets == 4
    # firmware 3 never sends sample 200 of its 201-sample cycle: a gap of one at each wrap
    cycles = (len(covered) - 1) // 201
    assert cycles >= 4 and run.stats.samples_lost == samples + cycles
    assert all(not covered[201 * k + 200] for k in range(cycles))


@pytest.mark.parametrize(("kind", "jitter_s"), [("bridge", 0.003), ("myo", 0.012)])
def test_disconnects_resume_the_same_recording_with_exact_gaps(kind: str, jitter_s: float) -> None:
    # delivery jitter of a few connection events; the reconnect gap is estimated from arrival
    # times and comes out exact while the jitter stays small next to a sample period times the
    # number of packets held (see emgspasm.sources.ble.stitch)
    faults = FaultPlan(
        disconnect_at_s=(2.0, 5.5),
        outage_s=0.7,
        delay_s=(0.0, jitter_s),
        drop_notifications=frozenset({12}),
        seed=3,
    )

    async def main() -> tuple[Run, VirtualPeripheral]:
        radio = VirtualRadio()
        if kind == "bridge":
            sensor: VirtualPeripheral = VirtualBridge(
                radio, simulated(1000.0, 8.0, 2, 13), faults=faults
            )
        else:
            sensor = VirtualMyo(radio, simulated(200.0, 8.0, 8, 14), faults=faults)
        async with sensor:
            run = await stream_from(sensor, radio, profile=ProfileOptions(myo_check_rotation=True))
            return run, sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    assert len(sensor.log.sessions) == 3 and len(sensor.log.drops) == 2
    base = sensor.log.sessions[0].world_start if kind == "bridge" else None
    if base is None:
        base = sensor.log.delivered()[0].first
    covered = check_exact(run, sensor, base=base)
    packets, samples = detectable_losses(sensor)
    assert (run.stats.packets_lost, run.stats.samples_lost) == (packets, samples)
    assert run.stats.reconnect_samples_lost == (~covered).sum() - samples > 0
    assert run.stats.reconnects == 2
    assert run.states.count(LinkState.RECONNECTING) >= 2
    for session in sensor.log.sessions[1:]:  # each resumes right after a marked gap
        first = min(n.first for n in sensor.log.delivered() if n.session == session.number)
        [resumed] = [f for f in run.frames if f.start == first - base]
        assert resumed.gap_before > 0


def test_reconnect_gaps_under_heavy_jitter_stay_within_a_few_samples() -> None:
    # 12 ms of jitter at 1 kHz: about 25 packets held give ~0.5 ms per estimate
    faults = FaultPlan(disconnect_at_s=(2.0, 4.0, 6.0), outage_s=0.5, delay_s=(0.0, 0.012), seed=8)

    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        async with VirtualBridge(radio, random_feed(1000.0, 8.0, 1, 3), faults=faults) as sensor:
            return await stream_from(sensor, radio), sensor

    run, sensor = run_virtual(main())
    assert run.error is None and run.stats.reconnects == 3
    base = sensor.log.sessions[0].world_start
    for session in sensor.log.sessions[1:]:
        first = min(n.first for n in sensor.log.delivered() if n.session == session.number)
        resumed = next(f for f in run.frames if f.start >= first - base - 10)
        error = resumed.start - (first - base)
        assert abs(error) <= 3
        expected = bridge_values(sensor, first, first + resumed.n)
        np.testing.assert_array_equal(resumed.samples, expected)  # the data itself is intact


def test_the_clock_mapping_absorbs_a_100_ppm_device_drift() -> None:
    # five minutes, then a drop: at the nominal rate the gap would be 15 samples off
    fs, drift = 500.0, 100.0
    faults = FaultPlan(disconnect_at_s=(300.0,), outage_s=3.0, delay_s=(0.0, 0.004), seed=5)

    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        feed = random_feed(fs, 306.0, 1, seed=1)
        # 100 ms packets keep the run cheap; hold 2 s of them to place the reconnect
        sensor = VirtualBridge(radio, feed, drift_ppm=drift, faults=faults, latency_ms=100)
        async with sensor:
            return await stream_from(sensor, radio, deadline_s=400.0, settle_s=2.0), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    check_exact(run, sensor)
    assert run.stats.reconnects == 1
    assert run.status.clock is not None
    assert run.status.clock.drift_ppm == pytest.approx(drift, abs=5.0)
    first, second = sensor.log.sessions
    elapsed = second.host_time - first.host_time
    nominal_error = elapsed * fs - (second.world_start - first.world_start)
    assert abs(nominal_error) > 14  # what ignoring the drift would have got wrong


def test_reconnecting_gives_up_after_the_attempts_allowed() -> None:
    faults = FaultPlan(disconnect_at_s=(1.0,), outage_s=1000.0)
    connect = ConnectOptions(
        scan_timeout_s=0.5,
        reconnect=ReconnectPolicy(initial_delay_s=0.1, factor=2.0, max_attempts=4),
    )

    async def main() -> tuple[Run, float]:
        radio = VirtualRadio()
        async with VirtualBridge(radio, random_feed(1000.0, 20.0, 1, 15), faults=faults) as sensor:
            loop = asyncio.get_running_loop()
            start = loop.time()
            run = await stream_from(sensor, radio, connect=connect)
            return run, loop.time() - start

    run, elapsed = run_virtual(main())
    assert isinstance(run.error, DeviceError)
    assert "could not reconnect after 4 attempts" in str(run.error)
    assert run.status.state is LinkState.FAILED and run.frames
    assert "not found after scanning 0.5 s" in str(run.error)
    # the drop at 1 s, four scans of 0.5 s, back-off waits of 0.1, 0.2, 0.4 s between them
    assert elapsed == pytest.approx(1.0 + 4 * 0.5 + 0.1 + 0.2 + 0.4, abs=0.06)


class RefusingClient(BumbleLinkClient):
    """A stand-in backend whose connection attempts all fail (as a device out of range does)."""

    async def connect(self, pair: bool, **kwargs: object) -> None:
        from bleak.exc import BleakError

        raise BleakError("connection refused by the test stand-in")


def test_a_connection_that_keeps_failing_ends_with_a_device_error() -> None:
    async def main() -> Run:
        radio = VirtualRadio()
        backends = radio.bleak_backends()
        refusing = type("RefusingClient", (RefusingClient,), {"radio": radio})
        async with VirtualBridge(radio, simulated(1000.0, 1.0, 1, 16)) as sensor:
            source = BleSource(
                DeviceTarget(address=sensor.address),
                connect=ConnectOptions(connect_attempts=3, scan_timeout_s=1.0),
                client_backend=refusing,
                scanner_backend=backends["scanner_backend"],
            )
            with pytest.raises(DeviceError, match="failed after 3 attempts: .*refused"):
                async for _ in source:
                    pass
            return Run([], source.status, source.stats, [], None)

    run = run_virtual(main())
    assert run.status.state is LinkState.FAILED


def test_a_device_of_another_kind_is_refused() -> None:
    async def main() -> None:
        radio = VirtualRadio()
        async with VirtualBridge(radio, simulated(1000.0, 1.0, 1, 17)) as sensor:
            source = BleSource(
                sensor.address, profile=ProfileOptions(kind="myo"), **radio.bleak_backends()
            )
            with pytest.raises(DeviceError, match="is not a myo"):
                async for _ in source:
                    pass
            assert sensor.log.sessions == []  # never started

    run_virtual(main())


@pytest.mark.slow
def test_an_hour_with_drops_disconnects_and_drift_stays_exact() -> None:
    faults = FaultPlan(
        drop_probability=0.01,
        drop_burst=5,
        disconnect_at_s=tuple(600.0 * k + 37.0 for k in range(1, 6)),
        outage_s=4.0,
        delay_s=(0.0, 0.002),
        seed=21,
    )

    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        feed = random_feed(1000.0, 3600.0, 1, seed=2)
        sensor = VirtualBridge(radio, feed, drift_ppm=-60.0, faults=faults, latency_ms=50)
        async with sensor:
            return await stream_from(sensor, radio, deadline_s=4000.0, settle_s=1.0), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    covered = check_exact(run, sensor)
    packets, samples = detectable_losses(sensor)
    assert (run.stats.packets_lost, run.stats.samples_lost) == (packets, samples)
    assert run.stats.reconnect_samples_lost == (~covered).sum() - samples
    assert run.stats.reconnects == 5
    assert run.status.clock is not None
    assert run.status.clock.drift_ppm == pytest.approx(-60.0, abs=2.0)


def test_closing_while_still_scanning_ends_promptly() -> None:
    async def main() -> tuple[float, LinkStatus, list[Frame]]:
        radio = VirtualRadio()
        source = BleSource("nobody-here", **radio.bleak_backends())  # scans for 10 s
        await source.start()
        await asyncio.sleep(0.5)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await source.close(grace_s=0.2)
        return loop.time() - start, source.status, [f async for f in source]

    took, status, frames = run_virtual(main())
    assert took == pytest.approx(0.2, abs=0.05)
    assert status.state is LinkState.CLOSED and frames == []


# -- real time ---------------------------------------------------------------------------------
class LoopHoldUps:
    """The longest time the running event loop was held up while in use: a timer every
    ``period_s`` notes how late it fires. Whatever delays it (the loop busy with other
    callbacks, the process waiting for a CPU) delays every callback due meanwhile by as much,
    the handling of arriving notifications included."""

    def __init__(self, period_s: float = 0.002) -> None:
        self.period_s = period_s
        self.worst_s = 0.0
        self._task: asyncio.Future[None] | None = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period_s
            await asyncio.sleep(self.period_s)
            self.worst_s = max(self.worst_s, loop.time() - due)

    async def __aenter__(self) -> LoopHoldUps:
        self._task = asyncio.ensure_future(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def test_a_drop_in_real_time_resumes_the_recording_with_a_gap() -> None:
    # The same exchange as the virtual-time tests, on the real clock: the client notices the
    # drop, finds the device again, resumes, and places the new samples from arrival times that
    # now carry the machine's scheduling noise.
    fs = 500.0
    faults = FaultPlan(disconnect_at_s=(1.0,), outage_s=0.3)

    def resumed_for_half_a_second(frames: list[Frame]) -> bool:
        gaps = [k for k, f in enumerate(frames) if f.gap_before > 0]
        return bool(gaps) and sum(f.n for f in frames[gaps[0] :]) >= fs / 2

    async def main() -> tuple[Run, VirtualBridge, float]:
        radio = VirtualRadio()
        # The device clock, and with it the drop at 1 s, starts with the stream however long
        # connecting took; the feed outlasts any reconnect, the test stops half a second of
        # samples after the resumption.
        feed = simulated(fs, 20.0, 1, seed=6)
        async with LoopHoldUps() as holdups:
            sensor = VirtualBridge(radio, feed, faults=faults, play_from_start=True)
            async with sensor:
                run = await stream_from(sensor, radio, until=resumed_for_half_a_second)
        return run, sensor, holdups.worst_s

    run, sensor, held_up_s = asyncio.run(main())
    assert run.error is None
    first, second = sensor.log.sessions
    assert first.world_start == 0
    assert run.stats.reconnects == 1 and run.states.count(LinkState.RECONNECTING) >= 1
    [(dropped_at, _)] = sensor.log.drops
    [resumption] = run.resumptions
    resumed = next(k for k, f in enumerate(run.frames) if f.start == resumption.start)
    frame = run.frames[resumed]

    # before the drop the device's counters place every sample exactly, nothing missing
    stop = 0
    for f in run.frames[:resumed]:
        assert (f.start, f.gap_before) == (stop, 0)
        np.testing.assert_array_equal(f.samples, bridge_values(sensor, f.start, f.stop))
        stop = f.stop

    # The resumption is placed from host arrival times: the least-delayed arrivals after the
    # drop against the lower envelope of those before it. Each arrival time carries however
    # long the event loop was held up before handling it, between 0 and the longest hold-up H,
    # on both sides of the comparison (and in the expected delay subtracted), so the estimate is
    # off by at most about 2 * H * fs samples beyond the 3 an idle machine stays within (the
    # virtual-time tests check it exact). H is measured on this run: a few milliseconds when
    # idle, tens when the machine is loaded, so the bound is tight on a quiet machine and never
    # fails on a busy one; a gap not estimated at all would be off by the whole outage.
    error = frame.start - second.world_start
    tolerance = 3 + math.ceil(2 * held_up_s * fs)
    assert abs(error) <= tolerance, (
        f"reconnect gap off by {error} samples; longest hold-up {held_up_s * 1000:.1f} ms"
    )
    before = run.frames[resumed - 1].stop
    assert frame.gap_before == frame.start - before > 0
    assert run.stats.reconnect_samples_lost == frame.gap_before == resumption.estimated
    for f in run.frames[resumed:]:  # the data after it is intact, shifted by that error alone
        world = f.start - error
        np.testing.assert_array_equal(f.samples, bridge_values(sensor, world, world + f.n))
    # back within 5 s of the drop: nominally the 0.3 s outage, a 0.05 s back-off, a scan and
    # the setup of the connection, well under a second even on a loaded machine
    assert 0.3 < resumption.host_time - dropped_at < 5.0


def test_a_consumer_that_falls_behind_loses_frames_reported_never_silently() -> None:
    # the Frame queue holds 1 s of samples; the consumer stops taking Frames for 3 s of stream
    fs = 1000.0

    async def main() -> tuple[list[Frame], BleSource, VirtualBridge, list[LinkStatus]]:
        radio = VirtualRadio()
        async with VirtualBridge(radio, random_feed(fs, 8.0, 1, seed=31)) as sensor:
            source = BleSource(
                DeviceTarget(address=sensor.address),
                connect=FAST,
                max_queued_s=1.0,
                **radio.bleak_backends(),
            )
            statuses: list[LinkStatus] = []
            source.monitor.subscribe(statuses.append)
            frames: list[Frame] = []

            async def consume() -> None:
                async for frame in source:
                    frames.append(frame)
                    if len(frames) == 100:
                        await asyncio.sleep(3.0)  # busy elsewhere, as a stuck consumer would be

            consumer = asyncio.ensure_future(consume())
            while not (
                sensor.done and source.stats.packets_received >= sensor.log.delivered_count()
            ):
                await asyncio.sleep(0.05)
            await source.close()
            await consumer  # the Frames still queued, then the end
            return frames, source, sensor, statuses

    frames, source, sensor, statuses = run_virtual(main())
    [overflow] = source.overflows
    stats = source.stats
    assert stats.overflow_samples_lost == overflow.samples > 1000
    assert stats.total_samples_lost == 0  # the link lost nothing: this is not counted as its loss
    # the dropped samples are one gap, exactly the overflow's span, and nothing after it moved
    base = sensor.log.sessions[0].world_start
    length = max(n.stop for n in sensor.log.delivered()) - base
    mask, data = assemble(frames, length, 1)
    assert runs_of(~mask) == [(overflow.start, overflow.stop - overflow.start)]
    assert overflow.samples == overflow.stop - overflow.start
    expected = bridge_values(sensor, base, base + length)
    np.testing.assert_array_equal(data[mask], expected[mask])
    assert int(mask.sum()) + overflow.samples == stats.samples_received == length
    assert any("fell 1 s of samples behind" in s.message for s in statuses)


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def test_malformed_notifications_are_counted_and_never_become_samples() -> None:
    faults = FaultPlan(garbage_probability=0.1, drop_probability=0.02, seed=9)

    async def main() -> tuple[Run, VirtualBridge]:
        radio = VirtualRadio()
        async with VirtualBridge(
            radio, random_feed(1000.0, 6.0, 2, seed=4), faults=faults
        ) as sensor:
            return await stream_from(sensor, radio), sensor

    run, sensor = run_virtual(main())
    assert run.error is None
    check_exact(run, sensor)  # every sample where the sensor sent it, none made up
    delivered = sum(sensor.log.garbage_delivered.values())
    assert set(sensor.log.garbage_delivered) == {"short", "long", "crc", "random"}
    assert run.stats.decode_errors == delivered >= 10
    assert run.stats.packets_received == sensor.log.delivered_count()
    # the garbage did not disturb the loss count from the sequence numbers
    packets, samples = detectable_losses(sensor)
    assert (run.stats.packets_lost, run.stats.samples_lost) == (packets, samples)
