"""Excitation time courses: cramp (ramp, waxing and waning plateau, release), voluntary movement,
running-stride bursts, and the smooth random modulation they share.

Envelopes are sampled on a coarse grid (``GRID_DT``): excitation changes over hundreds of ms, and
spike times are interpolated between grid points anyway.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

GRID_DT = 0.005
"""Step (s) of the excitation grid."""


def smooth_noise(n: int, dt: float, step_s: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random curve of ``n`` points, about unit standard deviation, that wanders on a
    time scale of ``step_s`` (a cubic spline through Gaussian knots ``step_s`` apart)."""
    n_knots = int(np.ceil(n * dt / step_s)) + 2
    knots = rng.standard_normal(n_knots)
    spline = CubicSpline(np.arange(n_knots) * step_s, knots)
    return spline(np.arange(n) * dt)


def raised_cosine(x: np.ndarray) -> np.ndarray:
    """0 for x <= 0, 1 for x >= 1, a half cosine in between (a smooth ramp)."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def cramp_envelope(
    duration_s: float,
    level: float,
    ramp_on_s: float,
    ramp_off_s: float,
    wobble: float,
    modulation: np.ndarray,
) -> np.ndarray:
    """Excitation of a cramp on the grid: rises over ``ramp_on_s``, waxes and wanes around
    ``level`` by ``wobble`` times ``modulation`` (a unit curve, extended if short), and
    relaxes over ``ramp_off_s``; exactly 0 at the first and last point."""
    n = max(int(round(duration_s / GRID_DT)) + 1, 2)
    t = np.arange(n) * GRID_DT
    ramp = raised_cosine(t / ramp_on_s) * raised_cosine((t[-1] - t) / ramp_off_s)
    mod = np.pad(modulation[:n], (0, max(n - modulation.size, 0)), mode="edge")
    env = level * ramp * np.clip(1.0 + wobble * mod, 0.3, None)
    return np.clip(env, 0.0, 1.0)


def movement_envelope(duration_s: float, level: float, edge_s: float) -> np.ndarray:
    """Excitation of a brief voluntary movement: a plateau at ``level`` with smooth edges."""
    n = max(int(round(duration_s / GRID_DT)) + 1, 2)
    t = np.arange(n) * GRID_DT
    return level * raised_cosine(t / edge_s) * raised_cosine((t[-1] - t) / edge_s)


def burst_train(n: int, onsets: np.ndarray, widths: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Excitation of rhythmic bursts on an ``n``-point grid: a sin^2 bump of ``widths[j]`` s from
    ``onsets[j]`` s with peak ``levels[j]``, zero between bursts (the muscle relaxes)."""
    env = np.zeros(n)
    t = np.arange(n) * GRID_DT
    for on, width, level in zip(onsets, widths, levels, strict=True):
        a, b = int(np.ceil(on / GRID_DT)), min(int(np.floor((on + width) / GRID_DT)) + 1, n)
        if b > a:
            env[a:b] = np.maximum(env[a:b], level * np.sin(np.pi * (t[a:b] - on) / width) ** 2)
    return env
