"""The simulator: deterministic, its ground truth matches its signal, and its arguments are checked.

Signal checks look at the signal the way a detector would: band-limited to 20-450 Hz with the
mains and its harmonics notched out, compared with the same channel at rest.
"""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
from scipy import signal

from emgspasm.errors import ConfigError, RecordingError
from emgspasm.recording import Recording
from emgspasm.sources.sim.envelopes import GRID_DT, cramp_envelope
from emgspasm.sources.sim.firing import spike_train
from emgspasm.sources.sim.pool import make_pool
from emgspasm.sources.simulator import (
    SCENARIOS,
    TRUTH_KINDS,
    TruthEvent,
    read_truth_json,
    simulate,
    truth_events,
    write_truth_json,
)

MUSCLE_KINDS = {"spasm", "voluntary", "stride", "fasciculation"}


def band(rec: Recording, mains_hz: float = 50.0) -> np.ndarray:
    """The samples band-passed to 20-450 Hz (or 0.45 fs) with the mains harmonics notched."""
    fs = rec.fs
    sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    y = signal.sosfiltfilt(sos, rec.samples.astype(np.float64), axis=0)
    for h in (1, 3, 5, 7):
        if h * mains_hz < 0.45 * fs:
            b, a = signal.iirnotch(h * mains_hz, 30.0, fs)
            y = signal.filtfilt(b, a, y, axis=0)
    return y


def rest_mask(events: list[TruthEvent], channel: str, n: int, fs: float, pad: float = 0.5):
    """Samples of ``channel`` at least ``pad`` s away from any labelled event but ECG beats."""
    mask = np.ones(n, bool)
    for e in events:
        if e.channel == channel and e.kind != "ecg":
            mask[max(0, int((e.onset_s - pad) * fs)) : int((e.offset_s + pad) * fs)] = False
    return mask


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def span(e: TruthEvent, fs: float) -> slice:
    return slice(int(round(e.onset_s * fs)), int(round(e.offset_s * fs)))


@pytest.fixture(scope="module")
def night() -> Recording:
    return simulate("night", 300.0, fs=2000.0, seed=4, channels=2)


@pytest.fixture(scope="module")
def training() -> Recording:
    return simulate("training", 240.0, fs=1000.0, seed=3, channels=1, mains_hz=60.0)


def test_same_seed_gives_identical_samples_and_truth():
    a = simulate("night", 40.0, fs=1000.0, seed=11, channels=2)
    b = simulate("night", 40.0, fs=1000.0, seed=11, channels=2)
    assert a.samples.tobytes() == b.samples.tobytes()
    assert a.annotations == b.annotations


def test_different_seed_gives_different_samples_and_truth():
    a = simulate("night", 40.0, fs=1000.0, seed=11)
    b = simulate("night", 40.0, fs=1000.0, seed=12)
    assert not np.array_equal(a.samples, b.samples)
    assert truth_events(a) != truth_events(b)


def test_timeline_does_not_depend_on_sample_rate():
    """Cramps and movements sit at the same times whatever the rate (only sampling differs)."""
    lo = simulate("night", 200.0, fs=500.0, seed=5)
    hi = simulate("night", 200.0, fs=2000.0, seed=5)
    keep = {"spasm", "voluntary", "motion_artifact", "electrode_pop"}
    assert [e for e in truth_events(lo) if e.kind in keep] == [
        e for e in truth_events(hi) if e.kind in keep
    ]


def test_recording_metadata(night):
    assert night.channels == ("EMG1", "EMG2")
    assert night.units == ("uV", "uV")
    assert night.start_time is None
    assert night.format == "simulated"
    assert night.samples.shape == (600000, 2)
    assert all(a.channel in night.channels for a in night.annotations)


def test_spasms_are_far_above_rest(night):
    y = band(night)
    events = truth_events(night)
    spasms = [e for e in events if e.kind == "spasm"]
    assert len(spasms) >= 2
    for c, ch in enumerate(night.channels):
        rest = rms(y[rest_mask(events, ch, len(y), night.fs), c])
        for e in (e for e in spasms if e.channel == ch):
            assert rms(y[span(e, night.fs), c]) > 10.0 * rest, e


def test_spasm_durations_and_separation():
    rec = simulate("night", 900.0, fs=500.0, seed=2)
    spasms = [e for e in truth_events(rec) if e.kind == "spasm"]
    assert len(spasms) >= 4
    assert all(3.0 <= e.duration_s <= 120.0 for e in spasms)
    assert max(e.duration_s for e in spasms) > 40.0
    for a, b in pairwise(spasms):
        assert b.onset_s - a.offset_s >= 5.0


def test_a_spasm_stays_in_one_channel(night):
    """Khan & Burne 2007: a cramp may leave the other head of the muscle silent."""
    y = band(night)
    events = truth_events(night)
    confined = [
        e
        for e in events
        if e.kind == "spasm"
        and not any(
            f.kind == "spasm"
            and f.channel != e.channel
            and f.onset_s < e.offset_s
            and f.offset_s > e.onset_s
            for f in events
        )
    ]
    assert confined
    for e in confined:
        other = 1 - night.channels.index(e.channel)
        och = night.channels[other]
        rest = rms(y[rest_mask(events, och, len(y), night.fs), other])
        assert rms(y[span(e, night.fs), other]) < 1.5 * rest


def test_a_spasm_spreads_to_another_channel(night):
    events = truth_events(night)
    spasms = [e for e in events if e.kind == "spasm"]
    assert any(
        a.channel != b.channel and a.onset_s < b.offset_s and b.onset_s < a.offset_s
        for a in spasms
        for b in spasms
    )


@pytest.mark.parametrize("fs", [1000.0, 2000.0, 4000.0])
def test_fasciculation_peaks_at_labelled_times(fs):
    rec = simulate("fasciculation", 60.0, fs=fs, seed=1)
    y = band(rec)[:, 0]
    noise = float(np.median(np.abs(y)) / 0.6745)
    fasc = [e for e in truth_events(rec) if e.kind == "fasciculation"]
    assert len(fasc) >= 10
    w = int(0.015 * fs)
    for e in fasc:
        i = int(round(e.onset_s * fs))
        local = np.abs(y[i - w : i + w + 1])
        assert abs(int(np.argmax(local)) - w) / fs <= 0.005, e
        assert local.max() > 8.0 * noise, e
        assert 0.001 < e.duration_s < 0.02


def test_fasciculations_only_at_rest():
    for scenario, seed in (("night", 8), ("training", 6)):
        rec = simulate(scenario, 300.0, fs=500.0, seed=seed, channels=2)
        events = truth_events(rec)
        fasc = [e for e in events if e.kind == "fasciculation"]
        others = [e for e in events if e.kind not in ("fasciculation", "ecg")]
        assert fasc
        for f in fasc:
            for o in others:
                if o.channel == f.channel:
                    assert f.onset_s > o.offset_s + 0.3 or f.offset_s < o.onset_s - 0.3, (f, o)


def test_fasciculation_rate_scales_with_scenario():
    fasc = {
        s: sum(e.kind == "fasciculation" for e in truth_events(simulate(s, 120.0, 500.0, seed=1)))
        for s in ("fasciculation", "quiet")
    }
    assert fasc["fasciculation"] >= 20
    assert fasc["quiet"] == 0


def test_quiet_is_rest_only():
    """The negative control: no muscle events, only ECG crosstalk (on for this seed)."""
    rec = simulate("quiet", 120.0, fs=1000.0, seed=5)
    assert {e.kind for e in truth_events(rec)} == {"ecg"}
    y = band(rec)[:, 0]
    win = int(0.25 * rec.fs)
    windows = np.sqrt(np.mean(y[: y.size // win * win].reshape(-1, win) ** 2, axis=1))
    assert windows.max() < 3.0 * np.median(windows)


def test_training_strides_relax_between_bursts(training):
    events = truth_events(training)
    strides = [e for e in events if e.kind == "stride"]
    assert len(strides) >= 30
    periods = np.diff([e.onset_s for e in strides])
    assert 0.55 < np.median(periods) < 0.85
    assert all(0.15 < e.duration_s < 0.45 for e in strides)
    y = band(training, 60.0)[:, 0]
    fs = training.fs
    rest = rms(y[rest_mask(events, "EMG1", len(y), fs)])
    active, relaxed = [], []
    for a, b in pairwise(strides):
        if b.onset_s - a.onset_s < 1.0:
            active.append(rms(y[span(a, fs)]))
            mid = 0.5 * (a.offset_s + b.onset_s)
            relaxed.append(rms(y[int((mid - 0.05) * fs) : int((mid + 0.05) * fs)]))
    assert np.median(active) > 5.0 * rest
    assert np.median(relaxed) < 1.5 * rest
    assert np.percentile(relaxed, 90) < 2.0 * rest


def test_training_has_cramps_during_or_after_running(training):
    events = truth_events(training)
    strides = [e for e in events if e.kind == "stride"]
    spasms = [e for e in events if e.kind == "spasm"]
    assert spasms
    for s in spasms:
        before = [e for e in strides if e.onset_s < s.onset_s]
        assert before and s.onset_s - before[-1].offset_s < 4.0


@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
def test_mains_peak_at_configured_frequency(mains_hz):
    rec = simulate("quiet", 30.0, fs=1000.0, seed=3, mains_hz=mains_hz)
    f, p = signal.welch(rec.samples[:, 0], fs=rec.fs, nperseg=4096)
    band_ = (f > 30) & (f < 100)
    assert abs(f[band_][np.argmax(p[band_])] - mains_hz) < 0.5
    assert p[np.argmin(np.abs(f - mains_hz))] > 100 * np.median(p[f > 20])


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0, 4000.0])
def test_every_scenario_runs_at_every_rate(scenario, fs):
    rec = simulate(scenario, 20.0, fs=fs, seed=7, channels=2)
    assert rec.samples.dtype == np.float32
    assert rec.samples.shape == (int(round(20.0 * fs)), 2)
    assert np.all(np.isfinite(rec.samples))
    for e in truth_events(rec):
        assert e.kind in TRUTH_KINDS
        assert 0.0 <= e.onset_s < e.offset_s <= rec.duration_s


def test_cramp_firing_statistics():
    """Minetto 2009: cramp discharges at 14.5 +- 5.1 Hz, CV ~0.45, ~4 % doublets."""
    rng = np.random.default_rng(0)
    pool = make_pool(rng, 500.0)
    env = cramp_envelope(40.0, pool.excitation_for_rms(130.0), 0.3, 1.0, 0.0, np.zeros(8001))
    units, times = spike_train(pool, env, GRID_DT, 0.0, 0.45, 0.04, rng)
    rates, cvs, doublets = [], [], []
    for u in np.unique(units):
        isi = np.diff(np.sort(times[units == u]))
        doublets.append(np.mean(isi < 0.012))
        isi = isi[isi >= 0.012]
        rates.append(1.0 / isi.mean())
        cvs.append(isi.std() / isi.mean())
    assert 11.0 < np.mean(rates) < 18.0
    assert 6.0 <= np.min(rates) and np.max(rates) <= 26.0
    assert 0.38 < np.median(cvs) < 0.52
    assert 0.025 < np.mean(doublets) < 0.06


def test_truth_json_round_trip(tmp_path):
    rec = simulate("night", 60.0, fs=500.0, seed=9, channels=2, mains_hz=60.0)
    path = tmp_path / "night.truth.json"
    write_truth_json(rec, path, scenario="night", seed=9, mains_hz=60.0)
    assert read_truth_json(path) == truth_events(rec)
    doc = json.loads(path.read_text())
    assert doc["scenario"] == "night" and doc["seed"] == 9 and doc["mains_hz"] == 60.0
    assert doc["fs"] == 500.0 and doc["duration_s"] == 60.0
    assert doc["channels"] == ["EMG1", "EMG2"]
    onsets = [e["onset_s"] for e in doc["events"]]
    assert onsets == sorted(onsets) and len(onsets) > 0


def test_unreadable_truth_json_is_a_recording_error(tmp_path):
    path = tmp_path / "bad.truth.json"
    path.write_text('{"events": [{"kind": "spasm"}]}')
    with pytest.raises(RecordingError):
        read_truth_json(path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scenario": "nap"},
        {"duration_s": 0.0},
        {"duration_s": -5.0},
        {"duration_s": float("nan")},
        {"fs": 50.0},
        {"fs": 20000.0},
        {"channels": 0},
        {"channels": 1.5},
        {"seed": -1},
        {"mains_hz": 0.0},
    ],
)
def test_invalid_arguments_raise_config_error(kwargs):
    args = {"scenario": "quiet", "duration_s": 5.0, **kwargs}
    with pytest.raises(ConfigError):
        simulate(**args)


def _samples_table():
    """The sample list of recordings/make_samples.py (loaded from its path)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "recordings" / "make_samples.py"
    spec = importlib.util.spec_from_file_location("make_samples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path.parent, module.SAMPLES


@pytest.mark.parametrize("index", range(4))
def test_sample_recordings_match_the_simulator(index):
    """The committed samples are what make_samples.py produces, and carry their truth."""
    from emgspasm.io import read_recording

    folder, samples = _samples_table()
    name, scenario, duration, fs, seed, channels, mains = samples[index]
    rec = read_recording(folder / f"{name}.bdf")
    sim = simulate(scenario, duration, fs=fs, seed=seed, channels=channels, mains_hz=mains)
    assert rec.fs == fs and rec.channels == sim.channels and rec.samples.shape == sim.samples.shape
    step = float(np.ptp(sim.samples, axis=0).max()) / 2**24
    assert np.max(np.abs(rec.samples - sim.samples)) <= step
    truth = read_truth_json(folder / f"{name}.truth.json")
    assert truth == truth_events(sim)
    assert [(e.kind, e.channel) for e in truth_events(rec)] == [(e.kind, e.channel) for e in truth]
    assert all(
        abs(a.onset_s - b.onset_s) < 1e-6 and abs(a.offset_s - b.offset_s) < 1e-6
        for a, b in zip(truth_events(rec), truth, strict=True)
    )
