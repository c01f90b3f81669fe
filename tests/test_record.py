"""Recording end to end: the real bleak client over the in-process Bluetooth link, a virtual
sensor playing a recording, the detector, and the BDF+ file read back by pyEDFlib.

Each run goes through :func:`emgspasm.record.record_session`, as ``emgspasm record`` does, on
the virtual-time loop (the link's exchange as in real time, without the waiting). What was
recorded is compared with what the virtual sensor's own log says it sent and lost.
"""

from __future__ import annotations

import contextlib
import csv
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from emgspasm import DeviceError
from emgspasm.cli import main
from emgspasm.frames import Episode, Frame, Gap
from emgspasm.io import read_recording
from emgspasm.record import RecordSummary, SensorSpec, record_session
from emgspasm.sinks.background import BackgroundRecorder
from emgspasm.sinks.recorder import Recorder
from emgspasm.sources.ble.backoff import ReconnectPolicy
from emgspasm.sources.ble.client import ConnectOptions
from emgspasm.sources.ble.virtual import VirtualBridge, VirtualMyo
from emgspasm.sources.ble.virtual.virtual_time import run_virtual

BDF_STEPS = 2**24 - 1


def record(spec: SensorSpec, path: Path, **options: object) -> RecordSummary:
    return run_virtual(record_session(spec, path, **options))  # type: ignore[arg-type]


def read_bdf(path: Path, n: int) -> tuple[np.ndarray, list[tuple[float, float, str]], float]:
    """(first ``n`` samples of every signal, annotations, one digital step of channel 0)."""
    with pyedflib.EdfReader(str(path)) as edf:
        assert edf.filetype == pyedflib.FILETYPE_BDFPLUS
        data = np.stack([edf.readSignal(c) for c in range(edf.signals_in_file)], axis=1)
        onsets, durations, texts = edf.readAnnotations()
        step = (edf.getPhysicalMaximum(0) - edf.getPhysicalMinimum(0)) / BDF_STEPS
    notes = [
        (float(o), max(0.0, float(d)), str(t))
        for o, d, t in zip(onsets, durations, texts, strict=True)
    ]
    return data[:n], notes, step


def episode_rows(path: Path) -> list[tuple[str, str, int, int]]:
    with open(path, newline="") as fh:
        return [
            (r["kind"], r["channel"], int(r["onset_sample"]), int(r["offset_sample"]))
            for r in csv.DictReader(fh)
        ]


def marks(notes: list[tuple[float, float, str]], fs: float, text: str) -> list[Gap]:
    """The spans (in samples) of the annotations called ``text``."""
    return [Gap(round(o * fs), round(d * fs)) for o, d, t in notes if t == text]


def runs(mask: np.ndarray) -> list[Gap]:
    """The runs of True in ``mask``, as Gaps."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [Gap(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def bridge_values(sensor: VirtualBridge, start: int, stop: int) -> np.ndarray:
    """What the host decodes from the bridge's codes (PROTOCOL.md: (code - zero) * nV / 1000)."""
    codes = sensor.codes(start, stop)
    scale = np.float32(sensor.info.nv_per_count / 1000.0)
    return (codes.astype(np.float32) - np.float32(sensor.info.zero_code)) * scale


def overlaps(episode: Episode, start: int, stop: int) -> bool:
    return episode.onset < stop and episode.offset > start


# -- a Myo replaying a real recording -----------------------------------------------------------
def test_a_myo_replay_is_recorded_count_exact_with_the_episodes_of_detect(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "myo" / "12345-1" / "7.txt"
    out, log = tmp_path / "myo.bdf", tmp_path / "myo.csv"
    summary = record(SensorSpec("virtual:myo", replay=str(source)), out, episodes=log)

    original = read_recording(source)
    # the armband sends two samples per notification: of an odd count the last never leaves
    n = original.n_samples // 2 * 2
    assert original.n_samples == n + 1
    assert summary.error is None and summary.stop_reason == "the virtual sensor's feed is over"
    assert (summary.n_samples, summary.samples_received, summary.gaps) == (n, n, [])
    assert summary.stats is not None and summary.stats.packets_received == n // 2
    assert isinstance(summary.sensor, VirtualMyo) and summary.sensor.counts_per_unit == 1.0

    data, notes, _ = read_bdf(out, n)
    counts = np.rint(data)
    assert np.abs(data - counts).max() < 1e-6  # whole counts come back whole
    np.testing.assert_array_equal(counts.astype(np.int8), original.samples[:n].astype(np.int8))
    assert ("recording end" in [t for _, _, t in notes]) and notes[-1][0] == n / 200.0

    # the same episodes as `emgspasm detect` on the samples the armband could send
    sent = tmp_path / "7-sent.txt"
    sent.write_text("".join(source.read_text().splitlines(keepends=True)[:n]))
    assert main(["detect", str(sent), "--out", str(tmp_path / "detect.csv"), "--quiet"]) == 0
    expected = episode_rows(tmp_path / "detect.csv")
    assert len(expected) >= 20  # six fists, each on several channels
    assert episode_rows(log) == expected
    annotated = sorted(
        (t, round(o * 200), round((o + d) * 200)) for o, d, t in notes if t.startswith("detected ")
    )
    assert annotated == sorted((f"detected {k}@{c}", on, off) for k, c, on, off in expected)


# -- the bridge and its 12-bit ADC -------------------------------------------------------------
def test_a_simulated_bridge_recording_is_within_the_12_bit_quantisation(tmp_path: Path) -> None:
    spec = SensorSpec("virtual:bridge", simulate="night", fs=1000, channels=2, seed=3)
    summary = record(spec, tmp_path / "bridge.bdf", duration_s=12.0)
    sensor = summary.sensor
    assert isinstance(sensor, VirtualBridge)
    truth = sensor.feed.recording.samples
    n = truth.shape[0]
    assert summary.n_samples == summary.samples_received == n == 12000 and not summary.gaps

    data, notes, step = read_bdf(tmp_path / "bridge.bdf", n)
    assert not any(t.startswith("clipped") for _, _, t in notes)
    lsb = sensor.info.nv_per_count / 1000.0  # µV per ADC code: 4.029
    low = -sensor.info.zero_code * lsb
    high = (4095 - sensor.info.zero_code) * lsb
    assert low < truth.min() and truth.max() < high  # nothing the ADC would clip
    error = np.abs(data - truth)
    # half a code of the ADC, plus one step of the file's 24 bits over the ADC's range
    assert step == pytest.approx((high - low) / BDF_STEPS, rel=1e-3)
    assert error.max() <= lsb / 2 + step
    assert error.max() > 0.45 * lsb  # the bound is the ADC's, not a loose one
    # and what the host decoded is in the file to the file's own resolution
    decoded = bridge_values(sensor, 0, n)
    assert np.abs(data - decoded).max() <= step


# -- packet loss and a link drop ---------------------------------------------------------------
def test_loss_and_a_drop_are_gaps_at_their_index_and_nothing_moves(tmp_path: Path) -> None:
    # a simulated night (one channel): fasciculations, a quiet stretch around 10 s, a spasm
    # from 21 s; 2 % of the notifications lost and the link dropped at 10.3 s for 0.5 s
    def night(**faults: object) -> SensorSpec:
        return SensorSpec("virtual:bridge", simulate="night", fs=1000, channels=1, **faults)

    out = tmp_path / "lossy.bdf"
    spec = night(drop=0.02, disconnect_at_s=(10.3,))
    summary = record(spec, out, episodes=tmp_path / "lossy.csv", duration_s=60.0)
    sensor = summary.sensor
    assert isinstance(sensor, VirtualBridge) and summary.error is None
    fs, n = 1000.0, 60000
    assert summary.n_samples == n

    # what the sensor delivered, by its own log (its first sample is sample 0 of the stream)
    log = sensor.log
    assert len(log.sessions) == 2 and len(log.drops) == 1
    delivered = np.zeros(n, dtype=bool)
    for note in log.delivered():
        delivered[note.first : note.stop] = True
    expected_gaps = runs(~delivered)
    first, second = ([x for x in log.notifications if x.session == s] for s in (1, 2))
    packets_lost = sum(x.lost for x in first[:-1]) + sum(x.lost for x in second)
    assert not first[-1].lost  # no loss hides in the drop (it would merge into its gap)

    # the loss counts are exact
    stats = summary.stats
    assert stats is not None
    assert stats.packets_lost == packets_lost >= 40
    assert 1.5 < stats.packet_loss_percent < 3.0  # the 2 % asked for, as drawn
    assert stats.samples_lost == sum(x.n for x in log.lost())
    assert summary.samples_lost == int((~delivered).sum()) == 1921
    assert summary.samples_received == int(delivered.sum())
    assert summary.loss_percent == pytest.approx(100 * 1921 / n)

    # every gap sits exactly where the sensor lost samples: in the summary and in the file
    assert summary.gaps == expected_gaps
    data, notes, step = read_bdf(out, n)
    assert marks(notes, fs, "gap") == expected_gaps

    # the drop: one gap from the last sample before it to the first after the reconnect
    last_before = first[-1].stop
    resumed_at = min(x.first for x in second if not x.lost)
    assert Gap(last_before, resumed_at - last_before) in expected_gaps
    [resumed] = summary.resumptions
    assert (resumed.start, resumed.gap) == (resumed_at, resumed_at - last_before) == (10821, 521)
    assert stats.reconnect_samples_lost == resumed.estimated == 521
    assert marks(notes, fs, "disconnected") == [Gap(last_before, 0)]
    [reconnected] = [x for x in notes if x[2].startswith("reconnected after")]
    assert round(reconnected[0] * fs) == resumed_at and "521 samples lost" in reconnected[2]

    # the client reconnected by itself, well within 5 s of the drop
    drop_time = log.drops[0][0]
    assert resumed.host_time - drop_time < 5.0
    assert summary.outages_s[0] == pytest.approx(resumed.host_time - drop_time, abs=0.01)
    assert stats.reconnects == 1
    states = [e.state for e in summary.link_events]
    assert states == ["connecting", "streaming", "reconnecting", "streaming", "closed"]

    # no sample moved: every one received is the sensor's value at the same index
    expected = bridge_values(sensor, 0, n)
    assert np.abs(data[delivered] - expected[delivered]).max() <= step
    assert np.abs(data[~delivered]).max() <= step  # lost samples: zeros under the gap mark

    # no episode starts or ends in lost samples, none is carried across the drop, and one carried
    # across short losses says so; around the drop the episodes are those of the same stream
    # recorded over a perfect link
    drop = Gap(last_before, resumed_at - last_before)
    for episode in summary.episodes:
        assert not overlaps(episode, drop.start, drop.stop), episode
        crossed = [g for g in expected_gaps if overlaps(episode, g.start, g.stop)]
        assert not any(g.start <= episode.onset < g.stop for g in crossed), episode
        if crossed:
            assert any(note.startswith("spans gaps") for note in episode.quality), episode
    clean = record(night(), tmp_path / "clean.bdf", duration_s=60.0)
    assert clean.samples_lost == 0
    near = (last_before - 1000, resumed_at + 1000)

    def around(episodes: list[Episode]) -> list[tuple[str, int, int]]:
        return [(e.kind, e.onset, e.offset) for e in episodes if overlaps(e, *near)]

    # Spasms are the same; a fasciculation next to a lost packet cannot be vouched for, so the
    # lossy link may report fewer of them, never others.
    lossy, perfect = around(summary.episodes), around(clean.episodes)
    assert [e for e in lossy if e[0] == "spasm"] == [e for e in perfect if e[0] == "spasm"]
    assert set(lossy) <= set(perfect)
    assert perfect != []


def test_a_source_that_gives_up_leaves_finished_files_and_its_error(tmp_path: Path) -> None:
    spec = SensorSpec(
        "virtual:bridge", simulate="night", fs=500, channels=1, disconnect_at_s=(3.0,), outage_s=60
    )
    connect = ConnectOptions(
        scan_timeout_s=0.5, reconnect=ReconnectPolicy(initial_delay_s=0.1, max_attempts=3)
    )
    out, log = tmp_path / "cut.bdf", tmp_path / "cut.jsonl"
    summary = record(spec, out, episodes=log, duration_s=30.0, connect=connect)
    assert isinstance(summary.error, DeviceError)
    assert "could not reconnect after 3 attempts" in str(summary.error)
    assert summary.stop_reason.startswith("failed: lost")
    assert summary.n_samples == summary.samples_received == 1500  # 3 s at 500 Hz
    rec = read_recording(out)
    assert rec.n_samples == 1500 and not rec.gaps
    texts = [a.description for a in rec.annotations]
    assert texts[0].startswith("connected emgspasm-bridge") and "recording stopped" in texts[-1]
    assert log.exists()


def test_a_device_that_is_not_there_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emgspasm.record
    from emgspasm.sources.ble.bumble_link import VirtualRadio
    from emgspasm.sources.ble.client import BleSource

    @contextlib.asynccontextmanager
    async def on_an_empty_link(
        spec: SensorSpec, **_options: object
    ) -> AsyncIterator[tuple[BleSource, None]]:
        radio = VirtualRadio()  # nobody advertises
        quick = ConnectOptions(scan_timeout_s=0.3, connect_attempts=1)
        source = BleSource(spec.device, connect=quick, **radio.bleak_backends())
        try:
            yield source, None
        finally:
            await source.close()

    monkeypatch.setattr(emgspasm.record, "open_sensor", on_an_empty_link)
    with pytest.raises(DeviceError, match="not found after scanning"):
        record(SensorSpec("F0:00:00:00:00:99"), tmp_path / "none.bdf", episodes=tmp_path / "e.csv")
    assert list(tmp_path.iterdir()) == []


# -- the recorder sink --------------------------------------------------------------------------
def test_recorder_files_are_owner_only_even_when_they_existed(tmp_path: Path) -> None:
    out, log = tmp_path / "r.bdf", tmp_path / "r.csv"
    for path in (out, log):
        path.write_text("old")
        os.chmod(path, 0o644)
    frame = Frame(np.zeros((250, 1), np.float32), 0, 250.0, ("EMG1",))
    with Recorder(out, 250.0, ("EMG1",), ("uV",), (-100.0, 100.0), episodes=log) as recorder:
        recorder.write(frame)
        recorder.write(Frame(np.ones((250, 1), np.float32), 300, 250.0, ("EMG1",), gap_before=50))
        recorder.add_episodes([Episode("spasm", "EMG1", 310, 500, 400, 250.0, 9.0, 3.0, 1.0)])
        assert episode_rows(log) == [("spasm", "EMG1", 310, 500)]  # in the log at once
        recorder.mark(100, "note")
    for path in (out, log):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (recorder.n_samples, recorder.samples_lost, recorder.gaps) == (550, 50, [Gap(250, 50)])
    rec = read_recording(out)
    assert rec.gaps == (Gap(250, 50),)
    spans = {(a.description, a.channel): (a.onset_s, a.duration_s) for a in rec.annotations}
    assert spans[("detected spasm", "EMG1")] == (1.24, 0.76)
    assert spans[("note", None)] == (0.4, 0.0)
    assert episode_rows(log) == [("spasm", "EMG1", 310, 500)]


# -- crash safety -------------------------------------------------------------------------------
def test_the_file_is_valid_whenever_the_process_could_die(tmp_path: Path) -> None:
    """A copy of the file taken between any two writes (what a kill leaves) opens in pyEDFlib
    as it is, holds every whole second written, and has each episode one record after it is
    known."""
    out, log = tmp_path / "live.bdf", tmp_path / "live.csv"
    fs, names = 250.0, ("EMG1", "EMG2")
    rng = np.random.default_rng(5)
    signal = rng.normal(0.0, 20.0, (4000, 2)).astype(np.float32)
    spasm = Episode("spasm", "EMG2", 300, 700, 400, fs, 90.0, 40.0, 5.0)
    record_bytes = 2 * 250 * 3 + 360
    with Recorder(out, fs, names, ("uV", "uV"), (-200.0, 200.0), episodes=log) as recorder:
        start, known_at = 0, None
        while start < len(signal):
            n = int(rng.integers(1, 90))
            recorder.write(Frame(signal[start : start + n], start, fs, names))
            start += n
            if known_at is None and start >= 760:
                recorder.add_episodes([spasm])
                known_at = start
                assert episode_rows(log) == [("spasm", "EMG2", 300, 700)]  # in the log at once
            snapshot = tmp_path / "snapshot.bdf"
            snapshot.write_bytes(out.read_bytes())
            records = start // 250
            assert recorder.records == records
            assert snapshot.stat().st_size == 256 * 4 + records * record_bytes
            assert int(snapshot.read_bytes()[236:244]) == (records or -1)
            if records == 0:
                continue
            with pyedflib.EdfReader(str(snapshot)) as edf:
                assert edf.getNSamples()[0] == records * 250
                np.testing.assert_allclose(
                    edf.readSignal(1), signal[: records * 250, 1], atol=400 / 2**24
                )
                texts = list(edf.readAnnotations()[2])
            # the record being filled when the episode became known, or the next one, holds it
            if known_at is not None and records * 250 >= (known_at // 250 + 1) * 250:
                assert "detected spasm@EMG2" in texts
            else:
                assert "detected spasm@EMG2" not in texts
    read = read_recording(out)
    assert read.n_samples == 4000


def test_records_are_synced_to_disk_before_the_header_counts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emgspasm.io.bdf_writer as bdf_writer

    calls: list[tuple[int, int]] = []  # (file size, header count) at each sync
    current: list[Path] = []

    def counting_datasync(fd: int) -> None:
        """Stand-in for fdatasync: notes what the disk would hold at each sync."""
        data = current[-1].read_bytes()
        calls.append((len(data), int(data[236:244])))

    monkeypatch.setattr(bdf_writer, "_datasync", counting_datasync)
    frame = Frame(np.zeros((900, 1), np.float32), 0, 250.0, ("EMG1",))
    record_bytes = 250 * 3 + 360
    for interval, expected in ((0.0, 8), (3600.0, 2), (None, 0)):
        calls.clear()
        path = tmp_path / f"sync-{interval}.bdf"
        current.append(path)
        with Recorder(path, 250.0, ("EMG1",), ("uV",), (-1.0, 1.0), sync_interval_s=interval) as r:
            r.write(frame)  # three records, the fourth one written (padded) at close
        assert len(calls) == expected + (1 if interval is not None else 0)  # and one at close
        for k, (size, count) in enumerate(calls[:expected]):
            # before the count moves the record is there; after it, the count names it
            assert size == 256 * 3 + (k // 2 + 1) * record_bytes
            assert count == (k // 2 + (k % 2) or -1)  # -1: "not known yet", before the first


def test_the_free_space_is_checked_again_once_the_sensor_says_its_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before connecting, a real device's layout is a guess; at its first sample the check is
    made again with the layout it streams, before anything is written."""
    import emgspasm.record
    from emgspasm.errors import RecordingError
    from emgspasm.record import SizePlan

    def a_small_guess(_spec: SensorSpec, duration_s: float | None) -> SizePlan:
        """Stand-in for the estimate made before connecting: 1 channel at 100 Hz."""
        return SizePlan(100.0, 1, duration_s or 0.0, estimated=True)

    def a_disk_with_50_kb_free(_folder: Path) -> int:
        """Stand-in for the free-space query: room for the guess, not for what streams."""
        return 50_000

    monkeypatch.setattr(emgspasm.record, "size_plan", a_small_guess)
    monkeypatch.setattr(emgspasm.record, "free_disk_bytes", a_disk_with_50_kb_free)
    spec = SensorSpec("virtual:bridge", simulate="quiet", fs=1000, channels=2)
    out = tmp_path / "full.bdf"
    with pytest.raises(RecordingError, match="not enough free disk space") as caught:
        record(spec, out, episodes=tmp_path / "full.csv", duration_s=20.0)
    assert "about 128 kB needed (2 channel(s) at 1000 Hz, for 20 s)" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


# -- a slow disk ----------------------------------------------------------------------------------
class StallingSync:
    """Stand-in for the BDF writer's fdatasync: the first ``stalls`` syncs take ``stall_s``
    seconds (a busy disk), or raise ``error`` when given (a disk that fails)."""

    def __init__(self, stall_s: float, stalls: int, error: OSError | None = None) -> None:
        self.stall_s, self.left, self.error = stall_s, stalls, error

    def __call__(self, fd: int) -> None:
        if self.error is not None:
            raise self.error
        if self.left > 0:
            self.left -= 1
            time.sleep(self.stall_s)


def noise_frames(fs: float, n: int, size: int, seed: int) -> tuple[np.ndarray, list[Frame]]:
    rng = np.random.default_rng(seed)
    signal = rng.normal(0.0, 20.0, (n, 1)).astype(np.float32)
    return signal, [Frame(signal[k : k + size], k, fs, ("EMG1",)) for k in range(0, n, size)]


def test_a_slow_disk_holds_up_the_writer_thread_never_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emgspasm.io.bdf_writer as bdf_writer

    monkeypatch.setattr(bdf_writer, "_datasync", StallingSync(0.4, 2))
    fs, out = 250.0, tmp_path / "slow.bdf"
    signal, frames = noise_frames(fs, 5000, 50, seed=1)
    inner = Recorder(out, fs, ("EMG1",), ("uV",), (-200.0, 200.0), sync_interval_s=0.0)
    recorder = BackgroundRecorder(inner, slow_s=0.3)
    longest = 0.0
    for frame in frames:
        began = time.perf_counter()
        recorder.write(frame)
        longest = max(longest, time.perf_counter() - began)
        time.sleep(0.002)
    recorder.close()
    assert longest < 0.05  # the caller never waited on the disk (each stall took 0.4 s)
    [stall] = recorder.stalls
    assert stall.held_s >= 0.8 and stall.longest_s >= 0.8  # both syncs of one record
    assert stall.peak_waiting > 0 and stall.unwritten == 0 and not recorder.unwritten
    rec = read_recording(out)
    np.testing.assert_allclose(rec.samples, signal, atol=400 / 2**24)
    [note] = [a for a in rec.annotations if a.description.startswith("disk slow")]
    assert note.description == stall.describe(fs)
    assert (round(note.onset_s * fs), round((note.onset_s + note.duration_s) * fs)) == (
        stall.start,
        stall.stop,
    )


def test_a_full_buffer_leaves_frames_out_marked_as_a_gap_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emgspasm.io.bdf_writer as bdf_writer

    monkeypatch.setattr(bdf_writer, "_datasync", StallingSync(0.5, 1))
    fs, out = 250.0, tmp_path / "full.bdf"
    signal, frames = noise_frames(fs, 6000, 50, seed=2)
    inner = Recorder(out, fs, ("EMG1",), ("uV",), (-200.0, 200.0), sync_interval_s=0.0)
    recorder = BackgroundRecorder(inner, buffer_s=2.0, slow_s=0.3)
    for frame in frames[:40]:  # 8 s at 20 times real time, while the first record's sync stalls
        recorder.write(frame)
        time.sleep(0.01)
    while recorder.waiting_s > 0:  # until the disk has caught up
        time.sleep(0.01)
    for frame in frames[40:]:  # then no faster than the disk takes them
        while recorder.waiting_s > 1.0:
            time.sleep(0.005)
        recorder.write(frame)
    recorder.close()

    [run] = recorder.unwritten
    assert run.stop <= 2000 and run.samples == run.stop - run.start > 0
    assert recorder.samples_unwritten == run.samples
    assert recorder.peak_waiting <= 2.0 * fs  # the bound held
    [stall] = recorder.stalls
    assert stall.unwritten == run.samples
    assert recorder.gaps == [Gap(run.start, run.samples)]
    rec = read_recording(out)
    assert rec.n_samples == 6000 and rec.gaps == (Gap(run.start, run.samples),)
    kept = np.ones(6000, dtype=bool)
    kept[run.start : run.stop] = False
    np.testing.assert_allclose(rec.samples[kept], signal[kept], atol=400 / 2**24)
    [note] = [a for a in rec.annotations if a.description.startswith("not written")]
    assert note.description == f"not written (disk too slow): {run.samples} samples"
    assert (round(note.onset_s * fs), round(note.duration_s * fs)) == (run.start, run.samples)


def test_a_failing_disk_is_reported_once_by_the_next_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import emgspasm.io.bdf_writer as bdf_writer
    from emgspasm.errors import RecordingError

    monkeypatch.setattr(
        bdf_writer, "_datasync", StallingSync(0, 0, OSError(errno.ENOSPC, "No space left"))
    )
    _, frames = noise_frames(250.0, 2000, 50, seed=3)
    inner = Recorder(
        tmp_path / "broken.bdf", 250.0, ("EMG1",), ("uV",), (-200.0, 200.0), sync_interval_s=0.0
    )
    recorder = BackgroundRecorder(inner)
    with pytest.raises(RecordingError, match="cannot be saved to disk .*No space left"):
        for frame in frames:
            recorder.write(frame)
            time.sleep(0.01)
    recorder.write(frames[-1])  # reported once; what follows is let go
    recorder.close()


def test_a_disk_too_slow_for_the_buffer_is_in_the_summary_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emgspasm.io.bdf_writer as bdf_writer

    monkeypatch.setattr(bdf_writer, "_datasync", StallingSync(1.2, 1))
    spec = SensorSpec("virtual:bridge", simulate="quiet", fs=500, channels=1)
    said: list[str] = []
    out = tmp_path / "slow.bdf"
    summary = record(spec, out, duration_s=60.0, buffer_s=2.0, on_event=said.append)
    assert summary.error is None and summary.n_samples == 30000 and summary.unwritten
    unwritten = sum(u.samples for u in summary.unwritten)
    assert summary.samples_received == 30000 - unwritten
    assert summary.samples_lost == unwritten and summary.stats is not None
    assert summary.stats.total_samples_lost == 0  # the link lost nothing
    assert any(line.startswith("  NOT RECORDED: ") for line in summary.lines())
    assert any(line.startswith("the disk is too slow") for line in said)
    [stall] = summary.disk_stalls
    assert stall.unwritten == unwritten
    rec = read_recording(out)
    assert rec.n_samples == 30000 and sum(g.length for g in rec.gaps) == unwritten
    noted = [a for a in rec.annotations if a.description.startswith("not written")]
    assert sum(int(a.description.split(": ")[1].split()[0]) for a in noted) == unwritten
