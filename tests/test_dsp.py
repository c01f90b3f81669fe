"""The streaming filter kernel against scipy, and filter design across sample rates."""

import numpy as np
import pytest
from scipy import signal

from emgspasm.dsp.design import band_edges, bandpass_sos, detect_mains, mains_sos
from emgspasm.dsp.kernels import (
    LANES_FROM,
    sos_state,
    sosfilt_block,
    sosfilt_stream,
)


@pytest.mark.parametrize("fs", [200.0, 500.0, 1000.0, 2000.0, 4000.0])
def test_kernel_matches_scipy_sosfilt_across_blocks(fs):
    sos = np.vstack([bandpass_sos(fs), mains_sos(fs, 50.0, 5)])
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(5000, 3)) * 50 + 300).astype(np.float32)
    z1, z2 = sos_state(sos, x[0])
    cuts = [0, 1, 17, 1000, 1001, 4096, 5000]
    y = np.vstack(
        [sosfilt_stream(sos, x[a:b], z1, z2) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    )
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0].astype(np.float64)[None, None, :]
    ref, _ = signal.sosfilt(sos, x.astype(np.float64), axis=0, zi=zi)
    scale = np.abs(ref).max()
    assert np.max(np.abs(y - ref)) < 1e-4 * scale


def test_band_is_narrowed_below_1khz():
    assert band_edges(4000.0, 20, 450) == (20, 450)
    low, high = band_edges(200.0, 20, 450)
    assert low == 20 and high == pytest.approx(90.0)
    assert bandpass_sos(200.0).shape == (2, 6)


def test_mains_notches_only_odd_harmonics_in_band():
    assert mains_sos(2000.0, 50.0, 7, band_high_hz=450.0).shape[0] == 4  # 50 150 250 350
    assert mains_sos(200.0, 60.0, 7).shape[0] == 1  # only 60 Hz is below 90 Hz
    w, h = signal.sosfreqz(mains_sos(1000.0, 60.0, 3), worN=[60.0, 180.0, 100.0], fs=1000.0)
    gain = np.abs(h)
    assert gain[0] < 0.01 and gain[1] < 0.01 and gain[2] > 0.9


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_mains_frequency_is_detected_from_the_signal(mains):
    fs = 2000.0
    rng = np.random.default_rng(0)
    t = np.arange(int(fs)) / fs
    x = rng.normal(0, 2, t.size) + 3 * np.sin(2 * np.pi * mains * t)
    assert detect_mains(x[:, None], fs) == mains
    assert detect_mains(rng.normal(0, 2, (int(fs), 1)), fs) is None


# -- kernel loop orders, block cuts and channel groups ----------------------------------------


def _cascade(fs: float, harmonics: int) -> np.ndarray:
    return np.vstack([bandpass_sos(fs), mains_sos(fs, 50.0, harmonics)])


@pytest.mark.parametrize(("fs", "harmonics"), [(2000.0, 3), (2000.0, 5), (2000.0, 9), (200.0, 3)])
def test_kernel_output_is_bit_identical_across_cuts_loop_orders_and_groups(fs, harmonics):
    """Every sample gets the same arithmetic: any cut, either loop order, any channel group."""
    sos = _cascade(fs, harmonics)  # 3 to 8 sections: every grouping of sections is used
    sos32 = sos.astype(np.float32)
    x = (np.random.default_rng(2).normal(size=(3000, 9)) * 40 + 250).astype(np.float32)
    z1, z2 = sos_state(sos, x[0])
    whole = sosfilt_stream(sos, x, z1, z2)  # channels side by side (9 >= LANES_FROM)
    assert x.shape[1] >= LANES_FROM
    z1c, z2c = sos_state(sos, x[0])
    cuts = [0, 1, 2, 500, 2047, 3000]
    pieces = [
        sosfilt_stream(sos, x[a:b], z1c, z2c) for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    np.testing.assert_array_equal(np.vstack(pieces), whole)
    np.testing.assert_array_equal(z1c, z1)
    np.testing.assert_array_equal(z2c, z2)
    # Channel groups of every width (both loop orders) against the stream's state arrays.
    z1g, z2g = sos_state(sos, x[0])
    grouped = np.empty_like(x)
    for c0, c1, in_place in [(0, 1, False), (1, 3, True), (3, 7, False), (7, 9, False)]:
        block = np.ascontiguousarray(x[:, c0:c1])
        out = block if in_place else np.empty_like(block)
        sosfilt_block(sos32, block, out, z1g, z2g, c0)
        grouped[:, c0:c1] = out
    np.testing.assert_array_equal(grouped, whole)
    np.testing.assert_array_equal(z1g, z1)


@pytest.mark.parametrize("channels", [1, 8])
def test_filters_running_ahead_in_a_thread_give_the_same_episodes(channels, monkeypatch):
    """In large frames the filters run a block ahead of detection in another thread; nothing
    may change, gaps included."""
    from emgspasm import Frame
    from emgspasm.config import profile
    from emgspasm.detect import Detector
    from emgspasm.detect import detector as detector_module

    from .synthetic import rest_with_events

    fs = 2000.0
    base = rest_with_events(fs=fs, duration_s=80.0, mains_hz=50.0)[:, 0]
    x = np.stack([np.roll(base, 7919 * c) * (1 + 0.2 * c) for c in range(channels)], axis=1)
    x = x.astype(np.float32)
    names = tuple(f"EMG{c}" for c in range(channels))
    split = []
    real = Detector._filter_detect
    monkeypatch.setattr(
        Detector,
        "_filter_detect",
        lambda self, *a: (a[-1] > 1 and split.append(a[-1])) or real(self, *a),
    )
    lost = (30000, 30500)  # samples left out of the stream

    def run(threads: int, block: int) -> tuple[list, list]:
        monkeypatch.setattr(detector_module, "THREADS", threads)
        det = Detector(profile("night"))
        eps = []
        for a, b in ((0, lost[0]), (lost[1], len(x))):
            for s in range(a, b, block):
                gap = lost[1] - lost[0] if s == lost[1] else 0
                eps += det.process(Frame(x[s : min(s + block, b)], s, fs, names, gap_before=gap))
        eps += det.flush()
        return eps, det.quality

    monkeypatch.setattr(detector_module._Pace, "choose", lambda self, threads: threads)
    serial = run(1, 4096)
    assert any(e.kind == "spasm" for e in serial[0]) and not split
    assert run(2, 70_000) == serial  # frames above PARALLEL_MIN
    assert run(2, 9_011) == serial
    assert set(split) == {2}


def test_the_filter_thread_hands_back_an_error_and_serves_on():
    from emgspasm.detect.filter_thread import FilterThread

    def start(job):
        number = helper.prepare(job)
        if number:
            helper.posted[0] = number
        helper.announced()

    helper = FilterThread()
    assert helper.claim() and not helper.claim()  # one detector at a time
    start(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        helper.finish()
    done = []
    start(lambda: done.append(True))
    helper.finish()
    assert done == [True]
    start(lambda: [].pop())
    with pytest.raises(IndexError):
        helper.release(wait=True)  # given back even so
    assert helper.claim()


def test_detectors_in_two_threads_at_once_give_their_own_episodes(monkeypatch):
    """Only one detector at a time has the filter thread; the other goes on alone."""
    import threading

    from emgspasm import Frame
    from emgspasm.config import profile
    from emgspasm.detect import Detector
    from emgspasm.detect import detector as detector_module

    from .synthetic import rest_with_events

    monkeypatch.setattr(detector_module, "THREADS", 2)
    monkeypatch.setattr(detector_module._Pace, "choose", lambda self, threads: threads)
    fs = 2000.0
    streams = [
        np.tile(rest_with_events(fs=fs, duration_s=40.0, mains_hz=hz, seed=seed), (1, 8))
        .astype(np.float32)
        for hz, seed in ((50.0, 1), (60.0, 2))
    ]
    names = tuple(f"EMG{c}" for c in range(8))

    def run(x, into):
        det = Detector(profile("night"))
        for s in range(0, len(x), 20_000):
            into += det.process(Frame(x[s : s + 20_000], s, fs, names))
        into += det.flush()

    alone = []
    for x in streams:
        alone.append([])
        run(x, alone[-1])
    together = [[], []]
    threads = [
        threading.Thread(target=run, args=(x, out))
        for x, out in zip(streams, together, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone
    assert all(any(e.kind == "spasm" for e in eps) for eps in alone)
