"""Turn a :class:`Plan` into samples: the muscles' motor-unit activity, fasciculations and
crosstalk between channels, then the interference on top."""

from __future__ import annotations

import numpy as np
from scipy import signal

from .blocks import Context, FasciculatingUnits
from .envelopes import GRID_DT
from .firing import render, spike_train
from .interference import add_drift, add_ecg, add_mains, add_motion, add_noise, add_pop
from .muap import Templates, analog_waveforms, half_span, peak_and_width, resample_at
from .plan import Discharge, Label, Plan

CROSSTALK_CUTOFF_HZ = 150.0
"""Volume conduction low-passes what one muscle's electrode picks up from another."""


def render_activations(
    out: np.ndarray, plan: Plan, ctx: Context, fs: float, rng: np.random.Generator
) -> None:
    """Add the MUAP trains of every activation to its channel of ``out``."""
    templates: dict[int, Templates] = {}
    for act in plan.activations:
        pool = ctx.pools[act.channel]
        units, times = spike_train(
            pool, act.excitation, GRID_DT, act.start_s, act.cv, act.doublets, rng
        )
        if act.channel not in templates:
            templates[act.channel] = pool.templates(fs)
        render(out[:, act.channel], units, times, templates[act.channel])


def render_fasciculations(
    out: np.ndarray, discharges: list[Discharge], ctx: Context, fs: float
) -> list[Label]:
    """Add each fasciculation's MUAP at its exact (sub-sample) time and label it from the time of
    its main peak, lasting its width."""
    labels: list[Label] = []
    for c in range(ctx.channels):
        mine = [x for x in discharges if x.channel == c]
        if not mine:
            continue
        fu: FasciculatingUnits = ctx.fasciculating[c]
        wave, t = analog_waveforms(fu.lams, fu.mixes, fu.peaks_uv, fs)
        shape = [peak_and_width(w, t) for w in wave]
        tau = np.array([x.time_s for x in mine])
        unit = np.array([x.unit for x in mine])
        gain = np.array([x.gain for x in mine])
        h = half_span(fs)
        first = np.ceil((tau - h) * fs).astype(np.int64)
        idx = first[:, None] + np.arange(int(np.floor(2 * h * fs)) + 1)[None, :]
        rel = idx / fs - tau[:, None]
        vals = (
            np.stack([resample_at(wave[u], t, r) for u, r in zip(unit, rel, strict=True)])
            * gain[:, None]
        )
        ok = (idx >= 0) & (idx < out.shape[0]) & (rel >= t[0]) & (rel <= t[-1])
        np.add.at(out[:, c], idx[ok], vals[ok])
        for x in mine:
            peak, width = shape[x.unit]
            labels.append(Label("fasciculation", x.time_s + peak, x.time_s + peak + width, c))
    return labels


def add_crosstalk(muscle: np.ndarray, gains: np.ndarray, fs: float) -> np.ndarray:
    """Each channel also picks up the other muscles, low-passed and scaled by gains[src, dst]."""
    channels = muscle.shape[1]
    if channels == 1:
        return muscle
    sos = signal.butter(2, min(CROSSTALK_CUTOFF_HZ, 0.4 * fs), fs=fs, output="sos")
    mixed = muscle.copy()
    for src in range(channels):
        if not np.any(muscle[:, src]):
            continue
        low = signal.sosfilt(sos, muscle[:, src])
        for dst in range(channels):
            if dst != src:
                mixed[:, dst] += gains[src, dst] * low
    return mixed


def add_interference(
    out: np.ndarray,
    plan: Plan,
    ctx: Context,
    fs: float,
    mains_hz: float,
    rng: np.random.Generator,
) -> None:
    """Amplifier noise, mains, drift, motion artifacts, pops and ECG crosstalk."""
    add_noise(out, np.asarray(ctx.noise_rms), rng)
    add_mains(out, fs, mains_hz, rng)
    add_drift(out, fs, rng)
    for motion in plan.motions:
        add_motion(out, fs, motion, rng)
    for pop in plan.pops:
        add_pop(out, fs, pop)
    if plan.ecg is not None:
        add_ecg(out, fs, plan.ecg, rng)
