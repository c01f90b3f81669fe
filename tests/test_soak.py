"""Soak: a simulated night streamed through the virtual bridge into the real ``record`` pipeline
(the bleak client over the in-process Bluetooth link, the detector, the BDF+ writer and the
episode log on their thread) with every fault at once:

- notifications lost in bursts of 1 to 5, the loss rate moving between 1 and 5 % over the night;
- five link drops, the sensor away for 1 to 30 s (device time) each;
- malformed notifications (cut short, too long, a flipped bit under the CRC, random bytes);
- a device crystal running 100 ppm fast, and a few milliseconds of delivery jitter;
- a disk whose syncs stall for seconds for a while (:class:`SlowDiskMock`, at the writer's
  ``fdatasync``: nothing in the pipeline can make a real disk slow on demand).

Afterwards everything the sensor generated is accounted for, by its own log: each sample is in
the file at its index within half an ADC code of the simulated signal, or inside a ``gap`` mark
whose span is exactly what the sensor lost; the episode log equals ``emgspasm detect`` run on the
recorded file; every malformed notification is counted and noted in the file, every drop marked,
the slow disk reported; memory stays flat. The stream runs on the virtual-time loop (``record
--speed 0``): the link's exchange as in real time, without the waiting, so a reconnect's gap is
placed exactly and the run takes the CPU time of its packets.

The night is 8 hours of one channel at 500 Hz in 40 ms packets (the bridge's ``SET_LATENCY``;
20 samples each, 720 000 notifications); run it with ``python -m pytest -m slow
tests/test_soak.py -s`` to see its figures. The same code runs on ten minutes in the default
suite.
"""

from __future__ import annotations

import asyncio
import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyedflib
import pytest

import emgspasm.io.bdf_writer as bdf_writer
from emgspasm.cli import main
from emgspasm.config import profile
from emgspasm.frames import Gap
from emgspasm.record import RecordSummary, SensorSpec, record_session
from emgspasm.sinks.background import SLOW_S
from emgspasm.sources.ble.virtual import FaultPlan, VirtualBridge
from emgspasm.sources.ble.virtual.faults import CHUNK_ROWS, NOTIFICATION
from emgspasm.sources.ble.virtual.virtual_time import run_virtual

FS = 500
CHANNELS = 1
LATENCY_MS = 40
DRIFT_PPM = 100.0
SEED = 11
BDF_STEPS = 2**24 - 1
LOSS_PERCENT = (1.0, 2.5, 5.0, 3.0, 1.5, 4.0, 2.0, 1.0)
"""Packet loss over the eight parts of the night, in %."""
MEAN_BURST = 3.0
"""Bursts are 1..5 notifications long: 3 on average."""
CLEAN_END_S = 60.0
"""The last minute is free of loss, so that the file ends where the feed ends."""
DISCONNECTS = ((0.12, 1.0), (0.31, 30.0), (0.47, 5.0), (0.66, 12.0), (0.85, 2.5))
"""(fraction of the night, outage in device seconds) of each link drop."""
GARBAGE = 0.002
"""Fraction of notifications followed by a malformed one."""
SLOW_DISK_AT = 0.2
"""Fraction of the night at which the disk turns slow."""
STALL_S, STALLS = 1.2, 2
"""Each slow sync takes this long (wall clock), this many in a row."""
RSS_EVERY_S = 60.0
"""Device seconds between two memory samples."""


class SlowDiskMock:
    """Stand-in for the BDF writer's ``fdatasync``: once :meth:`arm` is called, the next
    ``stalls`` syncs each stall ``stall_s`` seconds (wall clock) before syncing for real, as a
    busy or worn disk does. Notes when each stall began and ended."""

    def __init__(self, real: object, stall_s: float, stalls: int) -> None:
        self.real = real
        self.stall_s = stall_s
        self.left = 0
        self.stalls = stalls
        self.spans: list[tuple[float, float]] = []

    def arm(self) -> None:
        self.left = self.stalls

    def __call__(self, fd: int) -> None:
        if self.left > 0:
            self.left -= 1
            began = time.perf_counter()
            time.sleep(self.stall_s)
            self.spans.append((began, time.perf_counter()))
        self.real(fd)  # type: ignore[operator]


def night_plan(duration_s: float) -> FaultPlan:
    """The faults of a night of ``duration_s`` (see module doc)."""
    parts = len(LOSS_PERCENT)
    schedule = []
    for k, percent in enumerate(LOSS_PERCENT):
        loss = percent / 100.0
        # a burst starts with p and loses MEAN_BURST notifications: loss = p b / (1 + p b)
        schedule.append((k * duration_s / parts, loss / (MEAN_BURST * (1.0 - loss))))
    schedule.append((duration_s - CLEAN_END_S, 0.0))
    return FaultPlan(
        drop_burst=5,
        drop_schedule=tuple(schedule),
        disconnect_at_s=tuple(f * duration_s for f, _ in DISCONNECTS),
        outages_s=tuple(o for _, o in DISCONNECTS),
        delay_s=(0.0, 0.002),
        garbage_probability=GARBAGE,
        seed=SEED,
    )


@dataclass
class Watch:
    """What a task beside the recording sees: memory every :data:`RSS_EVERY_S` of device time,
    and, from the moment the disk turns slow until a minute after it is back, the wall time of
    each half second of loop time (whether the loop ever waited on the disk)."""

    start: float = 0.0  # loop time at which it began
    rss: list[tuple[float, float]] = field(default_factory=list)  # (loop time - start, RSS bytes)
    beats: list[float] = field(default_factory=list)  # wall clock


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def watch(w: Watch, disk: SlowDiskMock, arm_at_s: float) -> None:
    loop = asyncio.get_running_loop()
    start = w.start = loop.time()
    next_rss = start
    armed = False
    beat_until = float("inf")
    while True:
        now = loop.time()
        if armed and now < beat_until:
            w.beats.append(time.perf_counter())
            if len(disk.spans) == disk.stalls and beat_until == float("inf"):
                beat_until = now + 60.0
        if now >= next_rss:
            w.rss.append((now - start, float(rss_bytes())))
            next_rss += RSS_EVERY_S
        if not armed and now - start >= arm_at_s:
            disk.arm()
            armed = True
        await asyncio.sleep(0.5)


def runs(mask: np.ndarray) -> list[Gap]:
    """The runs of True in ``mask``, as Gaps."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [Gap(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def delivered_mask(sensor: VirtualBridge, n: int) -> np.ndarray:
    """World samples the sensor's log says reached the host (play_from_start: world index =
    stream index)."""
    cols = sensor.log.notifications.columns()
    keep = ~cols["lost"]
    first, stop = cols["first"][keep], cols["first"][keep] + cols["n"][keep]
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, np.minimum(first, n), 1)
    np.add.at(edges, np.minimum(stop, n), -1)
    return np.cumsum(edges[:n]) > 0


def episode_rows(path: Path) -> list[tuple[str, str, int, int]]:
    with open(path, newline="") as fh:
        return [
            (r["kind"], r["channel"], int(r["onset_sample"]), int(r["offset_sample"]))
            for r in csv.DictReader(fh)
        ]


def slope_mb_per_hour(samples: list[tuple[float, float]], after_s: float) -> float:
    points = np.array([(t, b) for t, b in samples if t >= after_s])
    if len(points) < 3:
        return float("nan")
    slope, _ = np.polyfit(points[:, 0] / 3600.0, points[:, 1] / 1e6, 1)
    return float(slope)


def soak(tmp_path: Path, duration_s: float, monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Record a night of ``duration_s`` with every fault, check it, return its figures."""
    disk = SlowDiskMock(bdf_writer._datasync, STALL_S, STALLS)
    monkeypatch.setattr(bdf_writer, "_datasync", disk)
    spec = SensorSpec(
        "virtual:bridge",
        simulate="night",
        simulate_s=duration_s,
        fs=FS,
        channels=CHANNELS,
        seed=SEED,
        speed=0,
        drift_ppm=DRIFT_PPM,
        latency_ms=LATENCY_MS,
        fault_plan=night_plan(duration_s),
    )
    out, log = tmp_path / "night.bdf", tmp_path / "night.csv"
    said: list[str] = []  # what `record` prints as it goes, episodes aside (they are logged)

    def say(line: str) -> None:
        if not line.startswith("episode: "):
            said.append(line)

    w = Watch()

    async def run() -> RecordSummary:
        watcher = asyncio.ensure_future(watch(w, disk, SLOW_DISK_AT * duration_s))
        try:
            return await record_session(
                spec,
                out,
                config=profile("night"),
                episodes=log,
                duration_s=duration_s,
                on_event=say,
            )
        finally:
            watcher.cancel()

    wall = time.perf_counter()
    summary = run_virtual(run())
    wall = time.perf_counter() - wall
    sensor = summary.sensor
    assert isinstance(sensor, VirtualBridge) and summary.error is None, summary.error
    assert sensor.clock is not None and sensor.clock.drift_ppm == DRIFT_PPM
    n = round(duration_s * FS)
    assert summary.stop_reason in ("duration reached", "the virtual sensor's feed is over")
    assert summary.n_samples == n  # the night ends on a clean link: the file spans all of it

    # -- every sample: in the file at its index, or in a gap exactly where the sensor lost it --
    delivered = delivered_mask(sensor, n)
    expected_gaps = runs(~delivered)
    assert summary.gaps == expected_gaps
    assert summary.samples_received == int(delivered.sum())
    with pyedflib.EdfReader(str(out)) as edf:
        assert edf.filetype == pyedflib.FILETYPE_BDFPLUS
        data = edf.readSignal(0)[:n]
        onsets, durations, texts = edf.readAnnotations()
        step = (edf.getPhysicalMaximum(0) - edf.getPhysicalMinimum(0)) / BDF_STEPS
    notes = [(round(float(o) * FS), round(max(0.0, float(d)) * FS), str(t))
             for o, d, t in zip(onsets, durations, texts, strict=True)]  # fmt: skip
    assert [Gap(o, d) for o, d, t in notes if t == "gap"] == expected_gaps
    truth = sensor.feed.samples(0, n)[:, 0]
    lsb = sensor.info.nv_per_count / 1000.0
    assert np.abs(data[delivered] - truth[delivered]).max() <= lsb / 2 + step
    decoded = (sensor.codes(0, n)[:, 0].astype(np.float64) - sensor.info.zero_code) * lsb
    assert np.abs(data[delivered] - decoded[delivered]).max() <= step
    assert np.abs(data[~delivered]).max() <= step  # lost samples are zeros under the gap mark

    # -- the losses, as the sensor logged them and as the host counted them --------------------
    cols = sensor.log.notifications.columns()
    stats = summary.stats
    assert stats is not None
    assert stats.packets_received == int((~cols["lost"]).sum())
    assert stats.samples_lost + stats.reconnect_samples_lost == int((~delivered).sum())
    assert stats.overflow_samples_lost == 0 and not summary.overflows and not summary.unwritten
    part = len(cols["lost"]) // len(LOSS_PERCENT)
    measured = [100 * cols["lost"][k * part : (k + 1) * part].mean() for k in range(8)]
    for want, got in zip(LOSS_PERCENT, measured, strict=True):
        tolerance = 1.5 if duration_s >= 3600 else 3.0  # a few hundred draws per part when short
        assert abs(got - want) < tolerance, (LOSS_PERCENT, measured)

    # -- malformed notifications: each one counted, noted in the file, none became samples -----
    garbage = sum(sensor.log.garbage_delivered.values())
    assert garbage == stats.decode_errors == summary.rejections_noted > 0
    assert set(sensor.log.garbage_delivered) == {"short", "long", "crc", "random"}
    noted = [t for _, _, t in notes if t.startswith("rejected ")]
    assert sum(int(t.split()[1]) for t in noted) == garbage

    # -- five drops: marked in the file, seen as link events, each resumed at its place --------
    assert len(sensor.log.drops) == len(DISCONNECTS) == len(summary.resumptions)
    assert sum(t == "disconnected" for _, _, t in notes) == len(DISCONNECTS)
    reconnected = [(o, t) for o, _, t in notes if t.startswith("reconnected after")]
    assert [o for o, _ in reconnected] == [r.start for r in summary.resumptions]
    assert [e.state for e in summary.link_events].count("reconnecting") == len(DISCONNECTS)
    assert stats.reconnects == len(DISCONNECTS)
    for (_, outage), seconds in zip(DISCONNECTS, summary.outages_s, strict=True):
        assert outage <= seconds < outage + 5.0  # found again within seconds of coming back

    # -- the slow disk: acquisition went on, the data waited in memory, the episode reported ---
    assert len(disk.spans) == STALLS
    stalled = (disk.spans[0][0], disk.spans[-1][1])
    assert stalled[1] - stalled[0] >= STALLS * STALL_S
    [stall] = summary.disk_stalls
    assert stall.held_s >= STALLS * STALL_S * 0.95 and stall.longest_s >= SLOW_S
    assert stall.peak_waiting > 0 and stall.unwritten == 0
    assert [t for _, _, t in notes if t.startswith("disk slow")] == [stall.describe(FS)]
    assert stall.describe(FS) in said
    beats = np.array(w.beats)
    assert beats[0] < stalled[0] and beats[-1] > stalled[1]
    held_up = float(np.diff(beats).max())
    assert held_up < STALL_S / 2, f"the loop waited {held_up:.2f} s on the slow disk"

    # -- the episodes are those `emgspasm detect` finds in the recorded file --------------------
    offline = tmp_path / "offline.csv"
    assert main(["detect", str(out), "--out", str(offline), "--quiet"]) == 0
    logged = episode_rows(log)
    assert logged == episode_rows(offline)
    assert len(logged) >= duration_s / 600
    annotated = sorted((t, o, o + d) for o, d, t in notes if t.startswith("detected "))
    assert annotated == sorted((f"detected {k}@{c}", a, b) for k, c, a, b in logged)

    # -- memory ------------------------------------------------------------------------------
    # The sensor's log of every notification is the test's instrument (blocks of CHUNK_ROWS
    # rows of 33 bytes, allocated as it fills them): its blocks are taken off before the slope
    # is fitted.
    sampled_at = w.start + np.array([t for t, _ in w.rss])
    sent_by = np.searchsorted(cols["host_time"], sampled_at, side="right")
    blocks = -(-sent_by // CHUNK_ROWS)
    pipeline = [
        (t, rss - int(k) * CHUNK_ROWS * NOTIFICATION.itemsize)
        for (t, rss), k in zip(w.rss, blocks, strict=True)
    ]
    after = min(2 * 3600.0, duration_s / 4)  # past the warm-up and the slow disk
    slope = slope_mb_per_hour(pipeline, after)
    peak = max(rss for _, rss in w.rss) / 1e6
    figures = {
        "hours": duration_s / 3600.0,
        "wall_s": wall,
        "speedup": duration_s / wall,
        "notifications": float(len(cols["lost"])),
        "lost": float(cols["lost"].sum()),
        "garbage": float(garbage),
        "disconnects": float(len(sensor.log.drops)),
        "gap_samples": float((~delivered).sum()),
        "gaps": float(len(expected_gaps)),
        "episodes": float(len(logged)),
        "peak_rss_mb": peak,
        "slope_mb_h": slope,
        "raw_slope_mb_h": slope_mb_per_hour(w.rss, after),
        "stall_s": stall.held_s,
        "waited_s": stall.peak_waiting / FS,
        "loop_held_s": held_up,
    }
    print(
        f"\nsoak: {figures['hours']:.2f} h of signal ({CHANNELS} channel at {FS} Hz, "
        f"{LATENCY_MS} ms packets) in {wall:.0f} s wall ({figures['speedup']:.0f}x real time)\n"
        f"  notifications: {len(cols['lost'])} sent, {int(cols['lost'].sum())} lost "
        f"({100 * cols['lost'].mean():.2f} %, parts {', '.join(f'{m:.1f}' for m in measured)} "
        f"%), {garbage} malformed (all rejected and noted)\n"
        f"  disconnects: {len(sensor.log.drops)}, outages "
        f"{', '.join(f'{o:.1f}' for o in summary.outages_s)} s; gap samples "
        f"{int((~delivered).sum())} in {len(expected_gaps)} gaps, all exact\n"
        f"  slow disk: held up {stall.held_s:.1f} s, up to {figures['waited_s']:.0f} s of signal "
        f"waited in memory, none lost; longest loop step meanwhile {held_up * 1000:.0f} ms\n"
        f"  episodes: {len(logged)} (equal to emgspasm detect on the file)\n"
        f"  memory: peak RSS {peak:.0f} MB, slope {slope:+.2f} MB/h of signal "
        f"({figures['raw_slope_mb_h']:+.2f} MB/h with the sensor's log) after "
        f"{after / 3600:.2f} h"
    )
    return figures


def test_ten_minutes_of_night_with_every_fault_are_accounted_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = soak(tmp_path, 600.0, monkeypatch)
    assert figures["disconnects"] == 5 and figures["garbage"] > 0


@pytest.mark.slow
def test_an_eight_hour_night_with_every_fault_is_accounted_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = soak(tmp_path, 8 * 3600.0, monkeypatch)
    assert figures["peak_rss_mb"] < 1500
    assert abs(figures["slope_mb_h"]) < 2.0, figures
