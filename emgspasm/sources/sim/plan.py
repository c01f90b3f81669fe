"""What a simulated recording contains, before it is rendered into samples.

A :class:`Plan` lists the excitation time courses that drive each channel's motor units, the
artifacts, the ECG beats and the fasciculation discharges, together with the ground-truth labels.
Channels are numbered from 0 here; the simulator names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Label:
    """A ground-truth event on one channel (times in s)."""

    kind: str
    onset_s: float
    offset_s: float
    channel: int

    def shifted(self, by: float) -> Label:
        return Label(self.kind, self.onset_s + by, self.offset_s + by, self.channel)


@dataclass(frozen=True)
class Activation:
    """Excitation (0..1, sampled every ``GRID_DT`` from ``start_s``) of one channel's motor units,
    with the inter-spike CV and the fraction of discharges that are doublets."""

    channel: int
    start_s: float
    excitation: np.ndarray
    cv: float
    doublets: float = 0.0

    def shifted(self, by: float) -> Activation:
        return Activation(self.channel, self.start_s + by, self.excitation, self.cv, self.doublets)


@dataclass(frozen=True)
class Motion:
    """A motion artifact on every channel: a low-frequency transient (< ``cutoff_hz``) whose peak
    on channel c is ``peak_uv * gains[c]``."""

    onset_s: float
    duration_s: float
    peak_uv: float
    cutoff_hz: float
    gains: tuple[float, ...]

    def shifted(self, by: float) -> Motion:
        return Motion(self.onset_s + by, self.duration_s, self.peak_uv, self.cutoff_hz, self.gains)


@dataclass(frozen=True)
class Pop:
    """An electrode pop on one channel: a step of ``amplitude_uv`` decaying with ``tau_s``."""

    onset_s: float
    channel: int
    amplitude_uv: float
    tau_s: float

    def shifted(self, by: float) -> Pop:
        return Pop(self.onset_s + by, self.channel, self.amplitude_uv, self.tau_s)


@dataclass(frozen=True)
class Discharge:
    """A fasciculation: one discharge of fasciculating unit ``unit`` of a channel at ``time_s``
    (the centre of its MUAP), scaled by ``gain``."""

    channel: int
    unit: int
    time_s: float
    gain: float


@dataclass(frozen=True)
class Ecg:
    """ECG crosstalk: R-peak times, beat amplitude (µV) and per-channel gain and shape."""

    r_peaks: np.ndarray
    amplitude_uv: float
    gains: tuple[float, ...]
    s_ratios: tuple[float, ...]


@dataclass
class Plan:
    """Everything that happens in a simulated recording, with its ground truth."""

    labels: list[Label] = field(default_factory=list)
    activations: list[Activation] = field(default_factory=list)
    motions: list[Motion] = field(default_factory=list)
    pops: list[Pop] = field(default_factory=list)
    busy: list[tuple[float, float]] = field(default_factory=list)
    """Spans (s) where no fasciculation may be placed on any channel."""
    discharges: list[Discharge] = field(default_factory=list)
    ecg: Ecg | None = None

    def extend(self, other: Plan, by: float) -> None:
        """Add the contents of ``other`` (timed from 0) shifted to start at ``by`` seconds."""
        self.labels += [x.shifted(by) for x in other.labels]
        self.activations += [x.shifted(by) for x in other.activations]
        self.motions += [x.shifted(by) for x in other.motions]
        self.pops += [x.shifted(by) for x in other.pops]
        self.busy += [(a + by, b + by) for a, b in other.busy]
