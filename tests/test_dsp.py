"""The streaming filter kernel against scipy, and filter design across sample rates."""

import numpy as np
import pytest
from scipy import signal

from emgspasm.dsp.design import band_edges, bandpass_sos, detect_mains, mains_sos
from emgspasm.dsp.kernels import sos_state, sosfilt_stream


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
