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
