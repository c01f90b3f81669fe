"""Everything in a surface-EMG recording that is not muscle: amplifier noise, mains interference,
baseline drift, motion artifacts, electrode pops and ECG crosstalk. All in µV, added in place to
an ``(n, channels)`` float64 array sampled at ``fs``.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .envelopes import smooth_noise
from .plan import Ecg, Motion, Pop

MAINS_HARMONICS = (1, 3, 5, 7)
MAINS_RELATIVE = ((1.0, 1.0), (0.1, 0.3), (0.03, 0.1), (0.01, 0.05))
"""Range of each odd harmonic's amplitude relative to the fundamental."""


def add_noise(out: np.ndarray, rms: np.ndarray, rng: np.random.Generator) -> None:
    """White amplifier noise of the given RMS per channel."""
    out += rng.standard_normal(out.shape, dtype=np.float32) * rms[None, :]


def add_mains(out: np.ndarray, fs: float, mains_hz: float, rng: np.random.Generator) -> None:
    """Mains interference: the fundamental (2-20 µV, channel-dependent) and its odd harmonics up
    to 0.45 fs, with an amplitude that wanders slowly (±~20 % over tens of seconds)."""
    n, channels = out.shape
    t = np.arange(n) / fs
    base = rng.uniform(np.log(2.0), np.log(20.0), channels)
    for c in range(channels):
        wander = 1.0 + 0.2 * smooth_noise(n, 1.0 / fs, 20.0, rng)
        amp = np.exp(base[c])
        wave = np.zeros(n)
        for h, (lo, hi) in zip(MAINS_HARMONICS, MAINS_RELATIVE, strict=True):
            f = h * mains_hz
            if f >= 0.45 * fs:
                continue
            phase = rng.uniform(0, 2 * np.pi)
            wave += amp * rng.uniform(lo, hi) * np.sin(2 * np.pi * f * t + phase)
        out[:, c] += wave * wander


def add_drift(out: np.ndarray, fs: float, rng: np.random.Generator) -> None:
    """Baseline drift below 1 Hz with an RMS of 10-50 µV per channel."""
    n, channels = out.shape
    for c in range(channels):
        curve = smooth_noise(n, 1.0 / fs, rng.uniform(1.5, 4.0), rng)
        out[:, c] += rng.uniform(10.0, 50.0) * curve


def add_motion(out: np.ndarray, fs: float, motion: Motion, rng: np.random.Generator) -> None:
    """A motion artifact: low-passed noise (below ``cutoff_hz``) under a Hann window, shared by
    the channels with their gains plus a smaller channel-specific part."""
    n, channels = out.shape
    a = int(round(motion.onset_s * fs))
    b = min(int(round((motion.onset_s + motion.duration_s) * fs)), n)
    if b - a < 4:
        return
    sos = signal.butter(4, min(motion.cutoff_hz, 0.4 * fs), fs=fs, output="sos")
    pad = int(fs)
    raw = signal.sosfiltfilt(sos, rng.standard_normal((channels + 1, b - a + 2 * pad)), axis=1)
    raw = raw[:, pad:-pad] * np.hanning(b - a)[None, :]
    raw /= np.max(np.abs(raw), axis=1, keepdims=True)
    for c in range(channels):
        shape = 0.75 * raw[0] + 0.25 * raw[c + 1]
        out[a:b, c] += motion.peak_uv * motion.gains[c] * shape / np.max(np.abs(shape))


def add_pop(out: np.ndarray, fs: float, pop: Pop) -> None:
    """An electrode pop: a step at ``onset_s`` decaying exponentially back to the baseline."""
    a = int(np.ceil(pop.onset_s * fs))
    b = min(a + int(np.ceil(8.0 * pop.tau_s * fs)), out.shape[0])
    if b > a:
        t = (np.arange(a, b) / fs) - pop.onset_s
        out[a:b, pop.channel] += pop.amplitude_uv * np.exp(-t / pop.tau_s)


def ecg_beat(t: np.ndarray, s_ratio: float) -> np.ndarray:
    """One ECG beat (R peak = 1 at t = 0) as a sum of Gaussian waves: P, Q, R, S and T."""
    waves = (
        (0.10, -0.16, 0.020),
        (-0.12, -0.025, 0.007),
        (1.0, 0.0, 0.010),
        (-s_ratio, 0.028, 0.008),
        (0.25, 0.26, 0.045),
    )
    return sum(a * np.exp(-0.5 * ((t - mu) / sd) ** 2) for a, mu, sd in waves)


def add_ecg(out: np.ndarray, fs: float, ecg: Ecg, rng: np.random.Generator) -> None:
    """ECG crosstalk: the same beat at every R peak (±3 % amplitude), channel-specific gain and
    S-wave depth; placed by convolving an impulse train with the sampled beat."""
    n, channels = out.shape
    idx = np.rint(ecg.r_peaks * fs).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    train = np.bincount(
        idx[keep], weights=1.0 + 0.03 * rng.standard_normal(int(keep.sum())), minlength=n
    )
    before, after = int(np.ceil(0.25 * fs)), int(np.ceil(0.45 * fs))
    t = np.arange(-before, after + 1) / fs
    for c in range(channels):
        beat = ecg.amplitude_uv * ecg.gains[c] * ecg_beat(t, ecg.s_ratios[c])
        full = signal.oaconvolve(train, beat)
        out[:, c] += full[before : before + n]
