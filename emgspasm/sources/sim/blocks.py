"""The blocks a scenario's timeline is made of: cramp, voluntary movement, running period (with
an optional cramp during or right after it), motion artifact and electrode pop.

A block spec holds the drawn parameters and knows its length, the rest it needs around it and how
far it can be shortened; ``build`` turns it into a :class:`Plan` timed from the block's start.
Excitation levels are chosen from a target RMS (a multiple of the channel's amplifier noise),
converted through the channel's motor-unit pool, so amplitudes are controlled and realistic while
the recruitment and firing stay physiological.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

import numpy as np

from .envelopes import GRID_DT, burst_train, cramp_envelope, movement_envelope, smooth_noise
from .plan import Activation, Label, Motion, Plan, Pop
from .pool import MotorUnitPool

SPASM_REST_S = 5.0
"""Rest required before and after a cramp."""

MIN_SPASM_S = 3.0
MIN_SPREAD_RATIO = 12.0
"""A cramp that spreads is still clearly present on the other channel: RMS >= 12x its noise
(and, like any cramp, lasts at least MIN_SPASM_S there, or it does not spread)."""
MIN_RUN_S = 5.0


@dataclass(frozen=True)
class FasciculatingUnits:
    """The few large units of a channel that fasciculate (each keeps its own MUAP shape)."""

    peaks_uv: np.ndarray
    lams: np.ndarray
    mixes: np.ndarray
    weights: np.ndarray


@dataclass(frozen=True)
class Context:
    """Per-channel models a block needs: motor-unit pools, amplifier noise RMS (µV), and
    fasciculating units."""

    pools: tuple[MotorUnitPool, ...]
    noise_rms: tuple[float, ...]
    fasciculating: tuple[FasciculatingUnits, ...]

    @property
    def channels(self) -> int:
        return len(self.pools)

    def level(self, channel: int, ratio: float) -> float:
        """Excitation at which channel ``channel`` has an RMS of ``ratio`` times its noise."""
        return self.pools[channel].excitation_for_rms(ratio * self.noise_rms[channel])

    def visible(self, channel: int, env: np.ndarray) -> tuple[float, float]:
        """Where an activation can be seen: from the first to the last moment its expected RMS
        reaches the channel's noise RMS (the onset an expert would mark on the trace, rather
        than the start of the drive, when no unit has fired yet). Seconds from ``env``'s start."""
        rms = np.sqrt(self.pools[channel].mean_square(env))
        seen = np.flatnonzero(rms >= self.noise_rms[channel])
        if seen.size == 0:
            return 0.0, env_end(env)
        return float(seen[0] * GRID_DT), float(seen[-1] * GRID_DT)


def env_end(env: np.ndarray) -> float:
    """Duration (s) covered by an envelope on the grid."""
    return (env.size - 1) * GRID_DT


@dataclass(frozen=True)
class Spread:
    """How a cramp spreads to another channel: lower amplitude, starting later, ending earlier."""

    channel: int
    factor: float
    delay_frac: float
    end_frac: float


@dataclass(frozen=True)
class SpasmSpec:
    """A cramp: irregular firing (CV ~0.45, ~4 % doublets) under a waxing and waning excitation."""

    duration_s: float
    channel: int
    ratio: float
    ramp_on_s: float
    ramp_off_s: float
    wobble: float
    wobble_step_s: float
    cv: float
    spread: tuple[Spread, ...] = ()
    essential: bool = True
    rest_s: float = SPASM_REST_S

    @property
    def length(self) -> float:
        return self.duration_s

    @property
    def min_length(self) -> float:
        return MIN_SPASM_S

    def shrunk(self, f: float) -> SpasmSpec:
        return replace(self, duration_s=MIN_SPASM_S + (self.duration_s - MIN_SPASM_S) * f)

    def build(self, ctx: Context, rng: np.random.Generator) -> Plan:
        n = int(round(self.duration_s / GRID_DT)) + 1
        mod = smooth_noise(n, GRID_DT, self.wobble_step_s, rng)
        ramp_on = min(self.ramp_on_s, self.duration_s / 3)
        ramp_off = min(self.ramp_off_s, self.duration_s / 3)
        level = ctx.level(self.channel, self.ratio)
        env = cramp_envelope(self.duration_s, level, ramp_on, ramp_off, self.wobble, mod)
        plan = Plan(busy=[(0.0, env_end(env))])
        plan.activations.append(Activation(self.channel, 0.0, env, self.cv, 0.04))
        plan.labels.append(Label("spasm", *ctx.visible(self.channel, env), self.channel))
        for s in self.spread:
            delay = max(0.5, s.delay_frac * self.duration_s)
            length = self.duration_s - delay - s.end_frac * self.duration_s
            if length < MIN_SPASM_S:
                continue
            k = int(round(delay / GRID_DT))
            lvl = ctx.level(s.channel, max(self.ratio * s.factor, MIN_SPREAD_RATIO))
            sub = cramp_envelope(length, lvl, ramp_on, ramp_off, self.wobble, mod[k:])
            t0 = k * GRID_DT
            plan.activations.append(Activation(s.channel, t0, sub, self.cv, 0.04))
            on, off = ctx.visible(s.channel, sub)
            plan.labels.append(Label("spasm", t0 + on, t0 + off, s.channel))
        return plan


class FixedLength:
    """A block whose length is its ``duration_s`` and that a crowded plan cannot shrink."""

    duration_s: float

    @property
    def length(self) -> float:
        return self.duration_s

    @property
    def min_length(self) -> float:
        return self.duration_s

    def shrunk(self, f: float) -> Self:
        return self


@dataclass(frozen=True)
class VoluntarySpec(FixedLength):
    """A brief voluntary movement (0.3-1.5 s), regular firing (CV 0.15-0.2)."""

    duration_s: float
    ratios: tuple[tuple[int, float], ...]
    edge_s: float
    cv: float
    essential: bool = False
    rest_s: float = 1.5

    def build(self, ctx: Context, rng: np.random.Generator) -> Plan:
        plan = Plan(busy=[(0.0, self.duration_s)])
        edge = min(self.edge_s, self.duration_s / 3)
        for channel, ratio in self.ratios:
            env = movement_envelope(self.duration_s, ctx.level(channel, ratio), edge)
            plan.activations.append(Activation(channel, 0.0, env, self.cv))
            plan.labels.append(Label("voluntary", *ctx.visible(channel, env), channel))
        return plan


@dataclass(frozen=True)
class MotionSpec(FixedLength):
    """A motion artifact: a large low-frequency transient seen on every channel."""

    duration_s: float
    peak_uv: float
    cutoff_hz: float
    gains: tuple[float, ...]
    essential: bool = False
    rest_s: float = 1.0

    def build(self, ctx: Context, rng: np.random.Generator) -> Plan:
        plan = Plan(busy=[(0.0, self.duration_s)])
        plan.motions.append(Motion(0.0, self.duration_s, self.peak_uv, self.cutoff_hz, self.gains))
        for c in range(ctx.channels):
            plan.labels.append(Label("motion_artifact", 0.0, self.duration_s, c))
        return plan


@dataclass(frozen=True)
class PopSpec:
    """An electrode pop on one channel (step + exponential decay, labelled over 5 tau)."""

    channel: int
    amplitude_uv: float
    tau_s: float
    essential: bool = False
    rest_s: float = 1.0

    @property
    def length(self) -> float:
        return 5.0 * self.tau_s

    @property
    def min_length(self) -> float:
        return self.length

    def shrunk(self, f: float) -> PopSpec:
        return self

    def build(self, ctx: Context, rng: np.random.Generator) -> Plan:
        plan = Plan(busy=[(0.0, self.length)])
        plan.pops.append(Pop(0.0, self.channel, self.amplitude_uv, self.tau_s))
        plan.labels.append(Label("electrode_pop", 0.0, self.length, self.channel))
        return plan


@dataclass(frozen=True)
class RunSpec:
    """A running period: a burst per stride on every channel (each muscle at its own phase of the
    gait cycle), relaxing between bursts; optionally ending in a cramp on one channel, either
    "during" running (a burst that never relaxes: the runner stops) or "after" it (a short rest,
    then a cramp)."""

    run_s: float
    period_s: float
    width_s: float
    phases: tuple[float, ...]
    ratios: tuple[float, ...]
    cv: float
    cramp: SpasmSpec | None = None
    mode: str = "after"
    gap_s: float = 1.0
    essential: bool = True

    @property
    def rest_s(self) -> float:
        return SPASM_REST_S if self.cramp is not None else 3.0

    @property
    def _tail(self) -> float:
        """Upper bound of what follows the running time: one more stride, the gap, the cramp."""
        if self.cramp is None:
            return 1.6 * self.period_s
        extra = 1.6 * self.period_s if self.mode == "during" else 1.6 * self.period_s + self.gap_s
        return extra + self.cramp.duration_s

    @property
    def length(self) -> float:
        return self.run_s + self._tail

    @property
    def min_length(self) -> float:
        return (
            self.length
            - (self.run_s - MIN_RUN_S)
            - (self.cramp.duration_s - MIN_SPASM_S if self.cramp is not None else 0.0)
        )

    def shrunk(self, f: float) -> RunSpec:
        cramp = self.cramp.shrunk(f) if self.cramp is not None else None
        return replace(self, run_s=MIN_RUN_S + (self.run_s - MIN_RUN_S) * f, cramp=cramp)

    def build(self, ctx: Context, rng: np.random.Generator) -> Plan:
        n_max = int(np.ceil(self.run_s / (0.9 * self.period_s))) + 3
        steps = self.period_s * (1.0 + 0.02 * rng.standard_normal(n_max))
        strides = np.concatenate([[0.0], np.cumsum(steps)])[:n_max]
        n_run = int(np.searchsorted(strides, self.run_s))
        plan = Plan()
        cut = np.inf
        if self.cramp is not None and self.mode == "during":
            cut = strides[n_run] + self.phases[self.cramp.channel] * self.period_s
        end = 0.0
        for c in range(ctx.channels):
            onsets = strides[:n_run] + self.phases[c] * self.period_s
            onsets = onsets[onsets < cut]
            widths = self.width_s * (1.0 + 0.05 * rng.standard_normal(onsets.size))
            level = ctx.level(c, self.ratios[c])
            levels = np.clip(level * (1.0 + 0.1 * rng.standard_normal(onsets.size)), 0.03, 1.0)
            if onsets.size == 0:
                continue
            stop = float(onsets[-1] + widths[-1])
            env = burst_train(int(np.ceil(stop / GRID_DT)) + 2, onsets, widths, levels)
            plan.activations.append(Activation(c, 0.0, env, self.cv))
            plan.labels += [
                Label("stride", a, a + w, c) for a, w in zip(onsets, widths, strict=True)
            ]
            end = max(end, stop)
        if self.cramp is not None:
            onset = cut if self.mode == "during" else end + self.gap_s
            cramp = self.cramp.build(ctx, rng)
            plan.extend(cramp, onset)
            end = max(end, onset + cramp.busy[0][1])
        plan.busy = [(0.0, end)]
        return plan
