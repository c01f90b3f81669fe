"""Detector behaviour on hand-made signals: what it must find, what it must leave alone."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emgspasm import ConfigError, Frame
from emgspasm.config import DetectorConfig, profile
from emgspasm.detect import Detector
from emgspasm.detect import detector as detector_module

from .synthetic import rest_with_events


def run(x, fs, cfg=None, blocks=None, gaps=()):
    """Feed ``x`` in blocks; ``gaps`` are (start, length) sample spans left out of the stream."""
    det = Detector(cfg or profile("night"))
    out = []
    n = x.shape[0]
    lost = np.zeros(n, dtype=bool)
    for g0, gl in gaps:
        lost[g0 : g0 + gl] = True
    sizes = iter(blocks or [])
    i = 0
    pending_gap = 0
    while i < n:
        if lost[i]:
            j = i
            while j < n and lost[j]:
                j += 1
            pending_gap += j - i
            i = j
            continue
        size = next(sizes, None) or 4096
        j = i + size
        k = np.flatnonzero(lost[i:j])
        if k.size:
            j = i + int(k[0])
        out += det.process(Frame(x[i:j], i, fs, ("EMG",), gap_before=pending_gap))
        pending_gap = 0
        i = j
    out += det.flush()
    return det, out


@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0, 4000.0])
def test_spasm_fasciculations_found_and_brief_movement_ignored(fs):
    x = rest_with_events(fs=fs, mains_hz=60.0)
    det, eps = run(x, fs)
    spasms = [e for e in eps if e.kind == "spasm"]
    fasc = [e for e in eps if e.kind == "fasciculation"]
    assert det.mains_hz == 60.0
    assert len(spasms) == 1, spasms
    sp = spasms[0]
    assert abs(sp.onset_s - 8.0) < 0.05
    assert abs(sp.offset_s - 20.0) < 0.25
    assert sp.detected_s - 8.0 <= 2.0 + 0.25
    assert sp.relative_rms > 10
    if fs >= 1000:  # a 2 ms twitch is barely sampled at 200 Hz
        assert sorted(round(e.onset_s, 1) for e in fasc) == [28.0, 31.3, 35.2]


def test_rest_gives_nothing():
    fs = 1000.0
    x = rest_with_events(fs=fs, spasm=(0, 0), voluntary=(0, 0), fasciculations=())
    _, eps = run(x, fs)
    assert eps == []


def test_periodic_heartbeat_crosstalk_is_not_a_fasciculation():
    fs = 1000.0
    beats = tuple(np.arange(5.0, 39.0, 0.85))
    x = rest_with_events(fs=fs, spasm=(0, 0), voluntary=(0, 0), fasciculations=beats)
    _, eps = run(x, fs)
    assert [e for e in eps if e.kind == "fasciculation"] == []


def test_training_profile_ignores_strides_but_flags_a_cramp():
    fs, rng = 1000.0, np.random.default_rng(3)
    n = int(60 * fs)
    x = rng.normal(0, 2, n)
    for t0 in np.arange(5.0, 40.0, 0.7):  # strides: 0.25 s bursts, relaxed in between
        i = int(t0 * fs)
        x[i : i + 250] += rng.normal(0, 40, 250)
    x[int(45 * fs) : int(52 * fs)] += rng.normal(0, 40, int(7 * fs))
    _, eps = run(x.astype(np.float32)[:, None], fs, profile("training"))
    spasms = [e for e in eps if e.kind == "spasm"]
    assert len(spasms) == 1 and abs(spasms[0].onset_s - 45.0) < 0.05


def test_gap_ends_a_spasm_and_invents_nothing():
    fs = 1000.0
    x = rest_with_events(fs=fs, fasciculations=())
    # lose 1.5 s in the middle of the spasm, and 2 s of rest later on
    _, eps = run(x, fs, gaps=[(14000, 1500), (30000, 2000)])
    spasms = [e for e in eps if e.kind == "spasm"]
    assert spasms[0].offset <= 14000 and "ended by gap" in spasms[0].quality
    for e in eps:
        assert not (e.onset < 32000 and e.offset > 30000), e
    assert all(e.kind == "spasm" for e in eps)


def test_flat_line_is_marked_and_not_learnt_as_rest():
    fs = 1000.0
    x = rest_with_events(fs=fs, mains_hz=50.0)
    x[21000:24000] = 0.0  # lead-off for 3 s
    det, eps = run(x, fs)
    flats = [q for q in det.quality if q.kind == "flat"]
    assert len(flats) == 1 and 0 <= flats[0].start - 21000 < 1000  # after the notch rings out
    assert len([e for e in eps if e.kind == "spasm"]) == 1


def test_clipped_samples_are_counted_and_noted():
    fs = 1000.0
    x = rest_with_events(fs=fs)
    x = np.clip(x, -60, 60)
    _, eps = run(x, fs, profile("night").replace(clip_level=60.0))
    spasm = next(e for e in eps if e.kind == "spasm")
    assert any(q.startswith("clipped") for q in spasm.quality)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20000), min_size=1, max_size=40))
def test_episodes_do_not_depend_on_block_sizes(sizes):
    fs = 1000.0
    x = rest_with_events(fs=fs, duration_s=40.0)
    gaps = [(31000, 700)]
    _, whole = run(x, fs, blocks=[x.shape[0]], gaps=gaps)
    _, cut = run(x, fs, blocks=sizes, gaps=gaps)
    assert len(whole) >= 3
    assert cut == whole


def test_one_sample_blocks_equal_whole_stream():
    fs = 500.0
    x = rest_with_events(
        fs=fs, duration_s=30.0, spasm=(6.0, 12.0), voluntary=(14, 15), fasciculations=(20.0, 24.5)
    )
    _, whole = run(x, fs, blocks=[x.shape[0]])
    _, single = run(x, fs, blocks=[1] * x.shape[0])
    assert single == whole and len(whole) >= 2


@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0])
def test_the_calm_shortcut_changes_nothing(fs, monkeypatch):
    """The kernel's shortcut through calm signal is exact: with it or without, the same
    episodes, quality segments and final state, bit for bit, across a gap, a flat stretch,
    clipping and the end of the resting level's settling (30 s after learning)."""
    x = rest_with_events(fs=fs, duration_s=60.0, fasciculations=(28.0, 35.2, 44.0, 50.5))
    x[int(38 * fs) : int(41 * fs)] = 0.0
    x = np.clip(x, -60.0, 60.0)
    cfg = profile("night").replace(clip_level=60.0)
    seen = []
    for shortcut in (True, False):
        monkeypatch.setattr(detector_module, "SHORTCUT", shortcut)
        det, eps = run(x, fs, cfg, blocks=[1500, 777, 5000] * 40, gaps=[(int(31 * fs), 300)])
        seen.append((eps, det.quality, det._sf.copy(), det._si.copy()))
    (eps, quality, sf, si), (eps_full, quality_full, sf_full, si_full) = seen
    assert {e.kind for e in eps} == {"spasm", "fasciculation"}
    assert {q.kind for q in quality} == {"gap", "flat"}
    assert eps == eps_full and quality == quality_full
    np.testing.assert_array_equal(sf, sf_full)
    np.testing.assert_array_equal(si, si_full)


@pytest.mark.parametrize("channels", [3, 9])
def test_channels_side_by_side_get_what_each_gets_alone(channels, monkeypatch):
    """Several channels go through calm signal side by side in vector lanes: each must get, bit
    for bit, the episodes and final state it gets on its own, and what the full logic gives,
    with events at different times on each channel, a gap, a flat stretch and clipping."""
    fs = 2000.0
    x = np.hstack([
        rest_with_events(fs=fs, duration_s=60.0, spasm=(34.0 + c, 42.0 + 1.5 * c),
                         voluntary=(31.5 + 0.1 * c, 32.5 + 0.1 * c),
                         fasciculations=(33.0 + 0.7 * c, 47.5 + 0.3 * c, 57.0), seed=c)
        for c in range(channels)
    ])
    x[int(44 * fs) : int(47 * fs), 1] = 0.0
    x = np.clip(x, -60.0, 60.0)
    cfg = profile("night").replace(clip_level=60.0)
    names = tuple(f"EMG{c}" for c in range(channels))
    lost = (int(50 * fs), int(50 * fs) + 300)

    def feed(columns):
        det = Detector(cfg)
        eps = []
        sizes = itertools.cycle([1500, 777, 5000])
        for a, b in ((0, lost[0]), (lost[1], len(x))):
            i = a
            while i < b:
                j = min(b, i + next(sizes))
                gap = lost[1] - lost[0] if i == lost[1] else 0
                chunk = np.ascontiguousarray(x[i:j, columns])
                eps += det.process(Frame(chunk, i, fs, tuple(names[c] for c in columns),
                                         gap_before=gap))
                i = j
        eps += det.flush()
        return sorted(eps, key=lambda e: (e.channel, e.onset, e.kind)), det

    together, det = feed(list(range(channels)))
    assert {e.kind for e in together} == {"spasm", "fasciculation"}
    alone = [feed([c]) for c in range(channels)]
    assert together == sorted((e for eps, _ in alone for e in eps),
                              key=lambda e: (e.channel, e.onset, e.kind))
    for c, (_, single) in enumerate(alone):
        np.testing.assert_array_equal(det._sf[c], single._sf[0])
        np.testing.assert_array_equal(det._si[c], single._si[0])
    monkeypatch.setattr(detector_module, "SHORTCUT", False)
    full_logic, det_full = feed(list(range(channels)))
    assert together == full_logic
    np.testing.assert_array_equal(det._sf, det_full._sf)
    np.testing.assert_array_equal(det._si, det_full._si)


def test_config_toml_round_trip_and_errors(tmp_path):
    cfg = profile("training").replace(min_duration_s=1.2)
    path = tmp_path / "det.toml"
    cfg.to_toml(path)
    assert DetectorConfig.from_toml(path) == cfg
    path.write_text("[detector]\nmin_duration_s = 'long'\n")
    with pytest.raises(ConfigError, match="min_duration_s"):
        DetectorConfig.from_toml(path)
    path.write_text("[detector]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        DetectorConfig.from_toml(path)
    with pytest.raises(ConfigError):
        profile("sprint")


def test_a_ten_minute_cramp_is_not_adapted_away_and_rest_drift_is_followed():
    fs, rng = 200.0, np.random.default_rng(5)
    n = int(1500 * fs)
    # The resting noise doubles slowly over the first 20 minutes (electrode drying).
    noise = 2.0 * (1.0 + np.clip(np.arange(n) / (1200 * fs), 0, 1))
    x = rng.normal(0.0, 1.0, n) * noise
    i0, i1 = int(300 * fs), int(900 * fs)
    x[i0:i1] += rng.normal(0.0, 40.0, i1 - i0)
    det, eps = run(x.astype(np.float32)[:, None], fs)
    spasms = [e for e in eps if e.kind == "spasm"]
    assert len(spasms) == 1, spasms
    assert abs(spasms[0].onset_s - 300.0) < 0.1 and abs(spasms[0].offset_s - 900.0) < 0.6
    # After the drift the resting level is the new one (4 µV white noise through the band-pass).
    assert 2.5 < det.baseline_rms()[0] < 4.5


def test_the_unit_does_not_matter():
    fs = 1000.0
    x = rest_with_events(fs=fs)
    _, in_uv = run(x, fs)
    _, in_counts = run((x * 812.5).astype(np.float32), fs)
    assert [(e.kind, e.onset, e.offset) for e in in_uv] == [
        (e.kind, e.onset, e.offset) for e in in_counts
    ]


def test_qrs_shaped_crosstalk_near_the_threshold_is_not_a_fasciculation():
    """A QRS complex is tens of milliseconds wide after the band-pass: too wide for one unit."""
    from emgspasm.sources.sim.interference import ecg_beat

    fs, rng = 1000.0, np.random.default_rng(9)
    n = int(60 * fs)
    x = rng.normal(0.0, 2.0, n)
    beat = ecg_beat(np.arange(-250, 450) / fs, 0.4)
    t = 2.0
    while t < 58.0:  # an irregular rhythm, so only the shape can tell
        i = int(t * fs)
        x[i - 250 : i + 450] += rng.uniform(40.0, 120.0) * beat
        t += rng.uniform(0.6, 1.4)
    _, eps = run(x.astype(np.float32)[:, None], fs)
    assert [e for e in eps if e.kind == "fasciculation"] == []


@pytest.mark.parametrize("every, length", [(1000, 20), (201, 1)])
def test_short_gaps_do_not_chop_a_spasm(every, length):
    """A lossy link (a packet lost every second) or a sensor that skips one sample in 201."""
    fs = 1000.0
    x = rest_with_events(fs=fs, fasciculations=())
    gaps = [(i, length) for i in range(3500, x.shape[0] - 2000, every)]
    _, eps = run(x, fs, gaps=gaps)
    spasms = [e for e in eps if e.kind == "spasm"]
    assert len(spasms) == 1, spasms
    assert abs(spasms[0].onset_s - 8.0) < 0.05 and abs(spasms[0].offset_s - 20.0) < 0.25
    assert any(q.startswith("spans gaps") for q in spasms[0].quality)
    for e in eps:  # nothing starts inside lost samples
        assert not any(g <= e.onset < g + n for g, n in gaps), e


def test_a_coarse_converter_at_rest_gives_nothing():
    """A quiet channel of a 12-bit sensor barely moves between codes: no twitch, no spasm."""
    fs, rng = 1000.0, np.random.default_rng(4)
    step = 4.03
    x = np.round(rng.normal(0.0, 0.8, int(60 * fs)) / step) * step
    _, eps = run(x.astype(np.float32)[:, None], fs)
    assert eps == []
