"""MNE-Python reads what ``emgspasm record`` writes: the samples, and the detected episodes as
annotations, both from a finished recording and from one whose writer was killed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyedflib
import pytest

from emgspasm.record import SensorSpec, record_session
from emgspasm.sources.ble.virtual.virtual_time import run_virtual

mne = pytest.importorskip("mne", reason="MNE-Python is not installed (pip install -e .[test])")


def test_mne_reads_a_recording_and_its_episode_annotations(tmp_path: Path) -> None:
    out = tmp_path / "night.bdf"
    spec = SensorSpec("virtual:bridge", simulate="fasciculation", fs=1000, channels=2, seed=1)
    summary = run_virtual(record_session(spec, out, duration_s=10.0))
    assert len(summary.episodes) >= 2

    raw = mne.io.read_raw_bdf(out, preload=True, verbose="error")
    assert raw.ch_names == ["EMG1", "EMG2"] and raw.info["sfreq"] == 1000.0
    with pyedflib.EdfReader(str(out)) as edf:
        expected = np.stack([edf.readSignal(c) for c in range(2)])
        step = (edf.getPhysicalMaximum(0) - edf.getPhysicalMinimum(0)) / (2**24 - 1)
    data = raw.get_data() * 1e6  # MNE gives volts; the file says µV
    assert data.shape[1] >= 10_000
    assert np.abs(data[:, :10_000] - expected[:, :10_000]).max() <= step

    annotations = raw.annotations
    notes = list(zip(annotations.onset, annotations.duration, annotations.description, strict=True))
    seen = sorted(
        (text, round(onset * 1000), round((onset + duration) * 1000))
        for onset, duration, text in notes
        if text.startswith("detected ")
    )
    assert seen == sorted(
        (f"detected {e.kind}@{e.channel}", e.onset, e.offset) for e in summary.episodes
    )
    texts = [text for _, _, text in notes]
    assert texts[0].startswith("connected emgspasm-bridge") and "recording end" in texts


def test_mne_reads_the_file_of_a_writer_that_never_finished(tmp_path: Path) -> None:
    from emgspasm.frames import Episode, Frame
    from emgspasm.sinks.recorder import Recorder

    out, names = tmp_path / "cut.bdf", ("EMG1",)
    recorder = Recorder(out, 500.0, names, ("uV",), (-100.0, 100.0))
    signal = (np.sin(np.arange(2300) / 20.0) * 50).astype(np.float32)[:, None]
    recorder.write(Frame(signal[:1200], 0, 500.0, names))
    recorder.add_episodes([Episode("spasm", "EMG1", 100, 600, 300, 500.0, 50.0, 30.0, 2.0)])
    recorder.write(Frame(signal[1200:], 1200, 500.0, names))
    snapshot = tmp_path / "as-killed.bdf"
    snapshot.write_bytes(out.read_bytes())  # what a kill would leave: 4 records, 300 in memory
    recorder.close()

    raw = mne.io.read_raw_bdf(snapshot, preload=True, verbose="error")
    assert raw.n_times == 2000
    np.testing.assert_allclose(raw.get_data()[0] * 1e6, signal[:2000, 0], atol=200 / 2**24 + 1e-4)
    spans = [
        (round(o * 500), round((o + d) * 500))
        for o, d, t in zip(
            raw.annotations.onset,
            raw.annotations.duration,
            raw.annotations.description,
            strict=True,
        )
        if t == "detected spasm@EMG1"
    ]
    assert spans == [(100, 600)]
