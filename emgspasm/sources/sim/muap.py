"""Surface motor-unit action potentials (MUAPs) as Hermite-Rodriguez functions.

A surface MUAP is well described by a mix of the first- and second-order Hermite-Rodriguez
functions (Lo Conte et al. 1994): a biphasic and a triphasic wave sharing one time scale
``lambda``. The mixing angle sets the sign and shape seen by an electrode. Waveforms are built on a
fine time grid (the "analog" signal), low-passed as an amplifier's anti-alias filter would, and
then sampled at the recording's rate: a 4 kHz recording sees a sharp MUAP, a 200 Hz one a smooth
and smaller one, as a real device would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

HR1_PEAK = 1.0 / np.sqrt(2.0 * np.e)
"""Peak of x*exp(-x^2), used to give the first-order function a unit peak."""

ANTI_ALIAS = 0.4
"""Cut-off of the simulated anti-alias filter as a fraction of the sample rate."""


def hermite_rodriguez(t: np.ndarray, lam: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """Unit-scale MUAP shape at times ``t`` (s): cos(mix)*HR1 + sin(mix)*HR2, both peak-normalised.

    HR1 (biphasic) and HR2 (triphasic) are orthogonal and integrate to zero, so a train of them
    has no DC component, like a real surface MUAP.
    """
    x = t / lam
    g = np.exp(-x * x)
    return np.cos(mix) * (x * g / HR1_PEAK) + np.sin(mix) * ((1.0 - 2.0 * x * x) * g)


def fine_rate(fs: float) -> float:
    """Rate of the fine ("analog") grid: well above both 40 kHz and the recording's rate."""
    return max(40000.0, 8.0 * fs)


def half_span(fs: float) -> float:
    """Half length (s) of a template window: the MUAP plus the anti-alias filter's ringing."""
    return 0.012 + 8.0 / fs


def analog_waveforms(
    lams: np.ndarray, mixes: np.ndarray, amps: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fine-grid waveforms ``(units, m)`` in µV, anti-alias filtered for ``fs``, and their times.

    The filter is zero-phase so that a MUAP's peak stays where the unfiltered one is (the truth
    of a fasciculation is the time of its main peak).
    """
    ffs = fine_rate(fs)
    h = half_span(fs)
    t = np.arange(-round(h * ffs), round(h * ffs) + 1) / ffs
    wave = amps[:, None] * hermite_rodriguez(t[None, :], lams[:, None], mixes[:, None])
    sos = signal.butter(4, ANTI_ALIAS * fs, fs=ffs, output="sos")
    return signal.sosfiltfilt(sos, wave, axis=1), t


@dataclass(frozen=True)
class Templates:
    """MUAPs of a set of units sampled at ``fs``: ``values[u, k]`` is at ``(k - center) / fs`` s
    after the unit's discharge."""

    values: np.ndarray
    center: int
    fs: float

    @property
    def length(self) -> int:
        return int(self.values.shape[1])


def sample_templates(lams: np.ndarray, mixes: np.ndarray, amps: np.ndarray, fs: float) -> Templates:
    """Sample the anti-aliased waveforms of the units at the recording's rate."""
    wave, t = analog_waveforms(lams, mixes, amps, fs)
    center = int(np.floor(t[-1] * fs))
    ts = (np.arange(2 * center + 1) - center) / fs
    return Templates(resample_at(wave, t, ts), center, fs)


def resample_at(wave: np.ndarray, t: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Linear interpolation of fine-grid rows ``wave`` (times ``t``, uniform) at times ``ts``."""
    pos = (ts - t[0]) / (t[1] - t[0])
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, t.size - 2)
    w = pos - i0
    return wave[..., i0] * (1.0 - w) + wave[..., i0 + 1] * w


def peak_and_width(wave: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """Time of the main (largest absolute) peak of a waveform, and its width.

    The width is the time from the first to the last sample above 10 % of the peak: the duration
    of the visible potential.
    """
    mag = np.abs(wave)
    peak = int(np.argmax(mag))
    above = np.nonzero(mag >= 0.1 * mag[peak])[0]
    return float(t[peak]), float(t[above[-1]] - t[above[0]])


def unit_energy(lams: np.ndarray, mixes: np.ndarray) -> np.ndarray:
    """Integral of the squared unit-scale shape (s), for predicting the power of a MUAP train."""
    t = np.linspace(-0.02, 0.02, 4001)
    shape = hermite_rodriguez(t[None, :], lams[:, None], mixes[:, None])
    return np.sum(shape * shape, axis=1) * (t[1] - t[0])
