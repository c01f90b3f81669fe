"""Scenarios: which blocks a recording contains, where they sit, and the fasciculations and ECG
beats around them.

Blocks never overlap: each one is followed by the rest it needs (5 s after a cramp), so the ground
truth is never ambiguous. Fasciculations are placed at Poisson times in the rest between blocks,
at least 0.3 s from any other event and 0.1 s from any ECG R peak.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np

from .blocks import (
    Context,
    MotionSpec,
    PopSpec,
    RunSpec,
    SpasmSpec,
    Spread,
    VoluntarySpec,
)
from .plan import Discharge, Ecg, Label, Plan

SCENARIOS: tuple[str, ...] = ("night", "training", "fasciculation", "quiet")

FASCICULATION_CLEARANCE_S = 0.3
"""Minimum distance of a fasciculation from any other event on its channel."""

ECG_CLEARANCE_S = 0.1
"""Minimum distance of a fasciculation from an ECG R peak."""

QRS_HALF_S = 0.05
"""Half length of the labelled QRS complex."""


def loguniform(rng: np.random.Generator, lo: float, hi: float, size=None):
    """Values spread evenly on a log scale between ``lo`` and ``hi``."""
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def stratified_durations(rng: np.random.Generator, k: int, lo: float, hi: float) -> np.ndarray:
    """``k`` log-uniform durations, one from each of k equal log strata in random order, so even a
    few draws cover short and long ones."""
    u = (rng.permutation(k) + rng.uniform(0.0, 1.0, k)) / k
    return lo * (hi / lo) ** u


def draw_spread(rng: np.random.Generator, primary: int, channels: int, confined: bool):
    """Other channels a cramp spreads to (none if ``confined``; at least one otherwise)."""
    if confined or channels == 1:
        return ()
    others = [c for c in range(channels) if c != primary]
    chosen = [c for c in others if rng.random() < 0.7] or [others[int(rng.integers(len(others)))]]
    return tuple(
        Spread(c, rng.uniform(0.25, 0.5), rng.uniform(0.05, 0.25), rng.uniform(0.0, 0.15))
        for c in chosen
    )


def draw_spasm(
    rng: np.random.Generator, duration: float, channels: int, confined: bool, burst_onset=None
) -> SpasmSpec:
    """A cramp of ``duration`` s at 25-180x the noise RMS. ``burst_onset`` (a burst width) makes
    its onset a stride burst that keeps rising instead of relaxing."""
    primary = int(rng.integers(channels))
    ramp_on = (
        rng.uniform(0.2, 0.6) if burst_onset is None else burst_onset / 2 + rng.uniform(0.1, 0.4)
    )
    return SpasmSpec(
        duration_s=float(duration),
        channel=primary,
        ratio=float(loguniform(rng, 25.0, 180.0)),
        ramp_on_s=float(ramp_on),
        ramp_off_s=float(rng.uniform(0.5, 2.0)),
        wobble=float(rng.uniform(0.15, 0.35)),
        wobble_step_s=float(rng.uniform(1.5, 5.0)),
        cv=float(rng.uniform(0.4, 0.5)),
        spread=draw_spread(rng, primary, channels, confined),
    )


def confinement(rng: np.random.Generator, k: int) -> list[bool]:
    """Whether each of k cramps stays in one channel: the first does, the second spreads, the
    rest at random (Khan & Burne 2007: a cramp may stay in one head of a muscle)."""
    return [i == 0 or (i > 1 and rng.random() < 0.5) for i in range(k)]


def draw_voluntary(rng: np.random.Generator, channels: int) -> VoluntarySpec:
    primary = int(rng.integers(channels))
    ratio = float(loguniform(rng, 8.0, 40.0))
    ratios = [(primary, ratio)]
    ratios += [
        (c, ratio * rng.uniform(0.3, 0.7))
        for c in range(channels)
        if c != primary and rng.random() < 0.4
    ]
    return VoluntarySpec(
        float(rng.uniform(0.3, 1.5)),
        tuple(sorted(ratios)),
        float(rng.uniform(0.08, 0.2)),
        float(rng.uniform(0.15, 0.2)),
    )


def channel_gains(rng: np.random.Generator, channels: int, lo: float) -> tuple[float, ...]:
    """Signed gains of a common source on each channel, the largest being 1 in magnitude."""
    mags = rng.uniform(lo, 1.0, channels)
    mags[int(rng.integers(channels))] = 1.0
    signs = rng.choice([-1.0, 1.0], channels)
    return tuple(float(x) for x in mags * signs)


def draw_motion(rng: np.random.Generator, channels: int) -> MotionSpec:
    return MotionSpec(
        float(rng.uniform(0.3, 2.0)),
        float(loguniform(rng, 100.0, 2000.0)),
        float(rng.uniform(3.0, 15.0)),
        channel_gains(rng, channels, 0.3),
    )


def draw_pop(rng: np.random.Generator, channels: int) -> PopSpec:
    sign = rng.choice([-1.0, 1.0])
    return PopSpec(
        int(rng.integers(channels)),
        float(sign * loguniform(rng, 300.0, 5000.0)),
        float(rng.uniform(0.05, 0.5)),
    )


def draw_run(rng: np.random.Generator, channels: int, cramp: SpasmSpec | None) -> RunSpec:
    period = float(rng.uniform(0.6, 0.8))
    phases = [0.0] + [float(rng.uniform(0.0, 0.5)) for _ in range(channels - 1)]
    return RunSpec(
        run_s=float(loguniform(rng, 20.0, 150.0)),
        period_s=period,
        width_s=float(rng.uniform(0.2, 0.35)),
        phases=tuple(phases),
        ratios=tuple(float(x) for x in loguniform(rng, 20.0, 100.0, channels)),
        cv=float(rng.uniform(0.15, 0.2)),
        cramp=cramp,
        mode=str(rng.choice(["during", "after"])),
        gap_s=float(rng.uniform(0.5, 3.0)),
    )


def night_specs(rng: np.random.Generator, d: float, channels: int) -> list:
    """Several cramps (3-120 s), occasional voluntary movements, motion artifacts and pops."""
    k = max(1, round(min(d, 600.0) / 150.0 + max(d - 600.0, 0.0) / 400.0))
    durations = stratified_durations(rng, k, 3.0, 120.0)
    specs: list = [
        draw_spasm(rng, dur, channels, conf)
        for dur, conf in zip(durations, confinement(rng, k), strict=True)
    ]
    specs += [draw_voluntary(rng, channels) for _ in range(rng.poisson(d / 120.0))]
    specs += [draw_motion(rng, channels) for _ in range(rng.poisson(d / 240.0))]
    specs += [draw_pop(rng, channels) for _ in range(rng.poisson(d / 360.0))]
    return specs


def training_specs(rng: np.random.Generator, d: float, channels: int) -> list:
    """Running periods, most ending in a cramp during or right after running, with voluntary
    movements, motion artifacts and pops in the rest between them."""
    n_runs = max(1, round(d / 130.0))
    has_cramp = [i == 0 or rng.random() < 0.8 for i in range(n_runs)]
    k = sum(has_cramp)
    durations = iter(stratified_durations(rng, k, 3.0, 120.0))
    confined = iter(confinement(rng, k))
    specs: list = []
    for with_cramp in has_cramp:
        run = draw_run(rng, channels, None)
        if with_cramp:
            onset = run.width_s if run.mode == "during" else None
            cramp = draw_spasm(rng, next(durations), channels, next(confined), onset)
            run = replace(run, cramp=cramp)
        specs.append(run)
    specs += [draw_voluntary(rng, channels) for _ in range(rng.poisson(d / 90.0))]
    specs += [draw_motion(rng, channels) for _ in range(rng.poisson(d / 300.0))]
    specs += [draw_pop(rng, channels) for _ in range(rng.poisson(d / 600.0))]
    return specs


def gaps_between(order: list) -> float:
    """Total rest required between consecutive blocks."""
    return float(sum(max(a.rest_s, b.rest_s) for a, b in pairwise(order)))


def fit(order: list, available: float) -> tuple[list, float]:
    """Make the blocks fit in ``available`` s: drop optional blocks (last first), then shorten
    cramps and runs, then drop essential blocks (last first). Returns the blocks and the spare
    time left."""
    order = list(order)
    while order:
        need = gaps_between(order)
        total = sum(s.length for s in order)
        if need + total <= available:
            return order, available - need - total
        optional = [i for i, s in enumerate(order) if not s.essential]
        if optional:
            del order[optional[-1]]
            continue
        least = sum(s.min_length for s in order)
        if need + least <= available:
            f = (available - need - least) / (total - least)
            return [s.shrunk(f) for s in order], 0.0
        del order[-1]
    return [], available


def place(rng: np.random.Generator, specs: list, d: float) -> list[tuple[float, object]]:
    """Put the blocks in random order on the timeline, spreading the spare rest at random."""
    lead_in, lead_out = min(5.0, 0.2 * d), min(2.0, 0.1 * d)
    order = [specs[i] for i in rng.permutation(len(specs))]
    order, spare = fit(order, d - lead_in - lead_out)
    if not order:
        return []
    extra = spare * rng.dirichlet(np.ones(len(order) + 1))
    t = lead_in + extra[0]
    placed = []
    for i, spec in enumerate(order):
        placed.append((float(t), spec))
        if i + 1 < len(order):
            t += spec.length + max(spec.rest_s, order[i + 1].rest_s) + extra[i + 1]
    return placed


def draw_ecg(
    rng: np.random.Generator, d: float, ctx: Context, bpm: tuple[float, float]
) -> tuple[Ecg, list[Label]]:
    """ECG crosstalk: R peaks at a heart rate within ``bpm`` with respiratory and random
    variability, the same beat shape each time; a label per beat on each channel where the R wave
    stands clear of the noise (3x its RMS)."""
    rr = 60.0 / rng.uniform(*bpm)
    n = int(np.ceil(d / (0.9 * rr))) + 2
    k = np.arange(n)
    resp = 0.03 * np.sin(2 * np.pi * 0.25 * k * rr + rng.uniform(0, 2 * np.pi))
    steps = rr * (1.0 + resp + 0.01 * rng.standard_normal(n))
    peaks = rng.uniform(0.0, rr) + np.concatenate([[0.0], np.cumsum(steps[:-1])])
    peaks = peaks[peaks < d]
    amp = float(loguniform(rng, 10.0, 60.0))
    gains = channel_gains(rng, ctx.channels, 0.2)
    s_ratios = tuple(float(x) for x in rng.uniform(0.2, 0.6, ctx.channels))
    labels = [
        Label("ecg", max(0.0, t - QRS_HALF_S), min(d, t + QRS_HALF_S), c)
        for c in range(ctx.channels)
        if abs(gains[c]) * amp >= 3.0 * ctx.noise_rms[c]
        for t in peaks
    ]
    return Ecg(peaks, amp, gains, s_ratios), labels


def merged(spans: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, merged starts and stops of possibly overlapping spans."""
    if not spans:
        return np.zeros(0), np.zeros(0)
    spans = sorted(spans)
    out = [list(spans[0])]
    for a, b in spans[1:]:
        if a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    arr = np.array(out)
    return arr[:, 0], arr[:, 1]


def inside(times: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Whether each time lies inside one of the merged spans."""
    if starts.size == 0:
        return np.zeros(times.size, bool)
    i = np.searchsorted(starts, times, side="right") - 1
    return (i >= 0) & (times <= stops[np.maximum(i, 0)])


def fasciculations(
    rng: np.random.Generator, d: float, plan: Plan, ctx: Context, per_min: float
) -> list[Discharge]:
    """Poisson discharges of each channel's fasciculating units at ``per_min`` per minute, kept
    only at rest: clear of blocks, of other events on the channel and of ECG R peaks."""
    margin = FASCICULATION_CLEARANCE_S + 0.02
    out: list[Discharge] = []
    for c in range(ctx.channels):
        n = rng.poisson(per_min / 60.0 * d)
        times = np.sort(rng.uniform(0.05, d - 0.05, n)) if d > 0.1 else np.zeros(0)
        units = rng.choice(ctx.fasciculating[c].weights.size, n, p=ctx.fasciculating[c].weights)
        gains = 1.0 + 0.05 * rng.standard_normal(n)
        spans = [(a - margin, b + margin) for a, b in plan.busy]
        spans += [
            (x.onset_s - margin, x.offset_s + margin)
            for x in plan.labels
            if x.channel == c and x.kind != "ecg"
        ]
        ok = ~inside(times, *merged(spans))
        if plan.ecg is not None and plan.ecg.r_peaks.size:
            r = plan.ecg.r_peaks
            j = np.clip(np.searchsorted(r, times), 0, r.size - 1)
            near = np.minimum(np.abs(times - r[j]), np.abs(times - r[np.maximum(j - 1, 0)]))
            ok &= near >= ECG_CLEARANCE_S
        last = -np.inf
        for t, u, g, good in zip(times, units, gains, ok, strict=True):
            if good and t - last >= FASCICULATION_CLEARANCE_S:
                out.append(Discharge(c, int(u), float(t), float(g)))
                last = t
    return out


def plan_scenario(scenario: str, d: float, ctx: Context, rng: np.random.Generator) -> Plan:
    """Draw and lay out everything that happens in ``scenario`` over ``d`` seconds."""
    c = ctx.channels
    if scenario == "night":
        specs, fasc, ecg_p, bpm = night_specs(rng, d, c), rng.uniform(5, 15), 0.5, (60, 78)
    elif scenario == "training":
        specs, fasc, ecg_p, bpm = training_specs(rng, d, c), rng.uniform(1, 4), 0.5, (80, 130)
    elif scenario == "fasciculation":
        specs, fasc, ecg_p, bpm = [], rng.uniform(15, 40), 1.0, (60, 78)
    else:
        specs, fasc, ecg_p, bpm = [], 0.0, 0.5, (60, 78)
    plan = Plan()
    for start, spec in place(rng, specs, d):
        plan.extend(spec.build(ctx, rng), start)
    if rng.random() < ecg_p:
        plan.ecg, labels = draw_ecg(rng, d, ctx, bpm)
        plan.labels += labels
    if fasc > 0:
        plan.discharges = fasciculations(rng, d, plan, ctx, fasc)
    return plan
