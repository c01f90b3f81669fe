"""Small hand-made signals with known events, for detector tests that need no simulator."""

from __future__ import annotations

import numpy as np


def muap(fs: float, amplitude: float) -> np.ndarray:
    """A biphasic potential (derivative of a 2 ms Gaussian) with the given peak."""
    half = int(round(0.01 * fs))
    t = np.arange(-half, half + 1) / fs
    shape = -t * np.exp(-((t / 0.002) ** 2))
    return (amplitude * shape / np.abs(shape).max()).astype(np.float64)


def rest_with_events(
    fs: float = 1000.0,
    duration_s: float = 40.0,
    spasm: tuple[float, float] = (8.0, 20.0),
    voluntary: tuple[float, float] = (24.0, 25.0),
    fasciculations: tuple[float, ...] = (28.0, 31.3, 35.2),
    mains_hz: float = 50.0,
    seed: int = 0,
) -> np.ndarray:
    """One channel: white noise (2 µV) and mains hum, one spasm, one brief movement, twitches."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * fs)
    x = rng.normal(0.0, 2.0, n)
    for start, stop in (spasm, voluntary):
        i0, i1 = int(start * fs), int(stop * fs)
        x[i0:i1] += rng.normal(0.0, 40.0, i1 - i0)
    shape = muap(fs, 150.0)
    half = shape.size // 2
    for t in fasciculations:
        i = int(t * fs)
        x[i - half : i + half + 1] += shape
    x += 15.0 * np.sin(2 * np.pi * mains_hz * np.arange(n) / fs)
    return x.astype(np.float32)[:, None]
