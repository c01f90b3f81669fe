"""``--lsl``: a recording and the live view publish their samples and episodes on Lab Streaming
Layer, received here by a real pylsl inlet; without the flag no outlet is made."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from emgspasm.config import profile
from emgspasm.record import RecordSummary, SensorSpec, record_session
from emgspasm.sources.ble.virtual.virtual_time import run_virtual

try:
    import pylsl

    pylsl.local_clock()
except (ImportError, RuntimeError) as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"liblsl cannot be loaded here: {exc}", allow_module_level=True)

from emgspasm.sinks.lsl import MARKER_SUFFIX, LslOutlet  # noqa: E402


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("source_id", source_id, timeout=10)
    assert found, f"stream {source_id} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=120, recover=False)
    inlet.open_stream(timeout=10)
    return inlet


def _pull(inlet: pylsl.StreamInlet, count: int) -> list:
    """Pull until ``count`` samples came, or nothing more came for a second."""
    values: list = []
    quiet_since = time.monotonic()
    while len(values) < count and time.monotonic() - quiet_since < 1.0:
        chunk, _ = inlet.pull_chunk(timeout=0.1)
        if chunk:
            values.extend(chunk)
            quiet_since = time.monotonic()
    return values


def _connected_outlet(fs: float, channels: tuple[str, ...]) -> tuple[LslOutlet, list]:
    source = f"emgspasm-test-{uuid.uuid4().hex[:8]}"
    outlet = LslOutlet(fs, channels, ("uV",) * len(channels), source_id=source)
    inlets = [_inlet(source), _inlet(source + MARKER_SUFFIX)]
    assert outlet.emg_outlet.wait_for_consumers(10)
    assert outlet.marker_outlet.wait_for_consumers(10)
    return outlet, inlets


def test_a_recording_publishes_what_it_writes(tmp_path: Path) -> None:
    channels = ("EMG1", "EMG2")
    outlet, (emg, markers) = _connected_outlet(1000.0, channels)
    spec = SensorSpec("virtual:bridge", simulate="fasciculation", fs=1000, channels=2, seed=1)
    out = tmp_path / "published.bdf"
    summary: RecordSummary = run_virtual(record_session(spec, out, duration_s=8.0, lsl=outlet))
    assert summary.n_samples == summary.samples_received == 8000

    got = np.asarray(_pull(emg, 8000), dtype=np.float32)
    with pyedflib.EdfReader(str(out)) as edf:
        data = np.stack([edf.readSignal(c) for c in range(2)], axis=1)[:8000]
        step = (edf.getPhysicalMaximum(0) - edf.getPhysicalMinimum(0)) / (2**24 - 1)
    assert got.shape == (8000, 2)
    assert np.abs(got - data).max() <= step  # the same samples as the file, to its 24 bits

    events = [json.loads(m[0]) for m in _pull(markers, 10**6)]
    sent = [(e["kind"], e["channel"], e["onset_s"]) for e in events if e["event"] == "episode"]
    assert sent == [(e.kind, e.channel, round(e.onset_s, 6)) for e in summary.episodes]
    assert len(sent) >= 2
    texts = [e["text"] for e in events if e["event"] == "marker"]
    assert texts[0].startswith("connected emgspasm-bridge")
    assert texts[-1] == "recording stopped (duration reached)"
    assert not outlet.closed  # the caller's outlet: the caller closes it
    outlet.close()


def test_without_lsl_no_outlet_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import emgspasm.sinks.lsl

    def no_outlet(*_args: object, **_options: object) -> None:
        raise AssertionError("an LSL outlet was made without --lsl")

    monkeypatch.setattr(emgspasm.sinks.lsl, "LslOutlet", no_outlet)
    spec = SensorSpec("virtual:bridge", simulate="quiet", fs=500, channels=1)
    summary = run_virtual(record_session(spec, tmp_path / "quiet.bdf", duration_s=2.0))
    assert summary.n_samples == 1000


def test_the_live_worker_publishes_samples_spasm_onsets_and_episodes() -> None:
    from emgspasm.live.sources import ReplaySource
    from emgspasm.live.worker import LiveWorker
    from emgspasm.sources.simulator import simulate

    rec = simulate("night", 40.0, fs=1000.0, seed=4, channels=2)
    outlet, (emg, markers) = _connected_outlet(1000.0, rec.channels)
    worker = LiveWorker(ReplaySource("night.bdf", 0, reader=rec), profile("night"), [outlet])
    worker.start()
    assert worker.finished.wait(30)
    got = np.asarray(_pull(emg, rec.n_samples), dtype=np.float32)
    events = [json.loads(m[0]) for m in _pull(markers, 10**6)]
    worker.stop()
    assert outlet.closed
    np.testing.assert_array_equal(got, rec.samples)
    episodes = [e for e in events if e["event"] == "episode"]
    assert [(e["kind"], e["channel"]) for e in episodes] == [
        (e.kind, e.channel) for e in worker.episodes
    ]
    onsets = [e for e in events if e["event"] == "spasm_onset"]
    spasms = [e for e in worker.episodes if e.kind == "spasm"]
    assert spasms and [(e["channel"], e["onset_s"]) for e in onsets] == [
        (e.channel, round(e.onset_s, 6)) for e in spasms
    ]
