"""Spike trains of a motor-unit pool driven by an excitation time course, and their rendering.

Each recruited unit fires as a gamma renewal process whose rate follows the excitation: a
stationary gamma process of unit rate (shape 1/CV^2, so the inter-spike CV is set directly) is
run in "operational time", the integral of the unit's rate, and mapped back to real time. This
gives irregular, rate-modulated firing for all units at once with a few array operations, and a
unit pauses while the excitation is below its threshold. Doublets (a second discharge a few ms
after the first, typical of cramps) are added to a fraction of the discharges.
"""

from __future__ import annotations

import numpy as np

from .muap import Templates
from .pool import MotorUnitPool

DOUBLET_INTERVAL = (0.003, 0.010)
"""Range (s) of the interval between the two discharges of a doublet."""


def spike_train(
    pool: MotorUnitPool,
    excitation: np.ndarray,
    dt: float,
    start_s: float,
    cv: float,
    doublets: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Discharges of the pool for ``excitation`` sampled every ``dt`` s from ``start_s``.

    Returns ``(units, times_s)``: the pool index and the time of each discharge, unsorted.
    """
    units = np.nonzero(pool.thresholds < excitation.max())[0]
    if units.size == 0 or excitation.size < 2:
        return np.zeros(0, np.int64), np.zeros(0)
    rate = pool.rates(excitation, units)
    grid = excitation.size
    op = np.zeros((units.size, grid))
    np.cumsum(0.5 * (rate[:, 1:] + rate[:, :-1]) * dt, axis=1, out=op[:, 1:])
    total = op[:, -1]
    n_max = int(np.ceil(total.max() + 6.0 * np.sqrt(total.max()) + 6.0))
    shape = 1.0 / (cv * cv)
    steps = rng.gamma(shape, 1.0 / shape, (units.size, n_max))
    phase = rng.uniform(0.0, 1.0, (units.size, 1))
    events = np.cumsum(steps, axis=1) - phase * steps[:, :1]
    valid = events < total[:, None]
    row = np.broadcast_to(np.arange(units.size)[:, None], valid.shape)[valid]
    stride = total.max() + 1.0
    flat_op = (op + stride * np.arange(units.size)[:, None]).ravel()
    flat_ev = events[valid] + stride * row
    hi = np.searchsorted(flat_op, flat_ev, side="left")
    lo = hi - 1
    frac = (flat_ev - flat_op[lo]) / (flat_op[hi] - flat_op[lo])
    times = start_s + ((lo % grid) + frac) * dt
    who = units[row]
    if doublets > 0.0 and times.size:
        pick = rng.random(times.size) < doublets
        extra = times[pick] + rng.uniform(*DOUBLET_INTERVAL, int(pick.sum()))
        keep = extra < start_s + (grid - 1) * dt
        times = np.concatenate([times, extra[keep]])
        who = np.concatenate([who, who[pick][keep]])
    return who, times


def render(out: np.ndarray, units: np.ndarray, times: np.ndarray, templates: Templates) -> None:
    """Add the MUAP of each discharge (rounded to the nearest sample) to the 1-D signal ``out``.

    Adds one template tap at a time with ``np.bincount`` over a segment covering the discharges,
    which keeps the work proportional to (discharges + segment) times the template length.
    """
    if times.size == 0:
        return
    first = np.rint(times * templates.fs).astype(np.int64) - templates.center
    lo = int(first.min())
    rel = first - lo
    seg_len = int(rel.max()) + templates.length
    seg = np.zeros(seg_len)
    for k in range(templates.length):
        seg += np.bincount(rel + k, weights=templates.values[units, k], minlength=seg_len)
    a, b = max(lo, 0), min(lo + seg_len, out.size)
    if b > a:
        out[a:b] += seg[a - lo : b - lo]
