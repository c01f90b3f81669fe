"""Filter design for the detector, adapted to the sample rate (scipy does the design).

All filters are second-order sections so that one streaming kernel runs them all. Designs are
kept once made (a batch of recordings asks for the same few again and again); callers get their
own copy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal


def band_edges(fs: float, low_hz: float, high_hz: float) -> tuple[float, float]:
    """The usable surface-EMG band at this sample rate.

    The upper edge is pulled below Nyquist (to 0.45 fs) when the rate is too low for it, so a
    200 Hz armband gets 20-90 Hz and a 4 kHz lab system the full 20-450 Hz.
    """
    high = min(high_hz, 0.45 * fs)
    low = min(low_hz, 0.5 * high)
    return low, high


def bandpass_sos(
    fs: float, low_hz: float = 20.0, high_hz: float = 450.0, order: int = 2
) -> np.ndarray:
    """Butterworth band-pass (``2 * order`` poles) as second-order sections."""
    return _bandpass(float(fs), float(low_hz), float(high_hz), int(order)).copy()


@lru_cache(maxsize=64)
def _bandpass(fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    low, high = band_edges(fs, low_hz, high_hz)
    return signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def mains_sos(
    fs: float,
    mains_hz: float,
    highest_harmonic: int = 3,
    q: float = 25.0,
    band_high_hz: float | None = None,
) -> np.ndarray:
    """Notches at the odd harmonics of the mains frequency that fall inside the pass band.

    Even harmonics are weak in mains pick-up; harmonics above the band are left to the
    low-pass. Returns an empty ``(0, 6)`` array when no harmonic is in band.
    """
    return _notches(float(fs), float(mains_hz), int(highest_harmonic), float(q),
                    None if band_high_hz is None else float(band_high_hz)).copy()


@lru_cache(maxsize=64)
def _notches(
    fs: float, mains_hz: float, highest_harmonic: int, q: float, band_high_hz: float | None
) -> np.ndarray:
    top = min(0.45 * fs, band_high_hz if band_high_hz else 0.45 * fs)
    sections = []
    for k in range(1, highest_harmonic + 1, 2):
        f0 = k * mains_hz
        if f0 >= top:
            break
        b, a = signal.iirnotch(f0, q * k, fs=fs)  # constant bandwidth across harmonics
        sections.append(signal.tf2sos(b, a))
    if not sections:
        return np.zeros((0, 6))
    return np.vstack(sections)


def detect_mains(
    samples: np.ndarray,
    fs: float,
    candidates: tuple[float, ...] = (50.0, 60.0),
    min_prominence: float = 4.0,
) -> float | None:
    """The mains frequency whose line stands out of the spectrum, or None if none does.

    ``samples`` is ``(n, channels)``; the line must be ``min_prominence`` times the median power
    of its neighbourhood on the channels summed. Needs about a second of signal.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    if n < int(0.25 * fs):
        return None
    x = x[: int(fs)]  # at most a second, in one Hann-windowed periodogram
    n = x.shape[0]
    spectrum = np.fft.rfft((x - x.mean(axis=0)) * _hann(n)[:, None], axis=0)
    p = (spectrum.real**2 + spectrum.imag**2).sum(axis=1)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    best, best_score = None, min_prominence
    for f0 in candidates:
        if f0 >= 0.5 * fs:
            continue
        line = p[np.argmin(np.abs(f - f0))]
        near = (np.abs(f - f0) > 3.0) & (np.abs(f - f0) < 15.0)
        if not near.any():
            continue
        score = line / max(float(np.median(p[near])), 1e-30)
        if score > best_score:
            best, best_score = f0, score
    return best


@lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    return signal.get_window("hann", n)
