"""A muscle's motor-unit pool: sizes, recruitment thresholds and firing-rate laws.

Following Fuglevand et al. (1993): recruitment thresholds grow exponentially with unit index, so
that many small units are recruited first and a few large ones last (size principle); MUAP
amplitudes also grow exponentially with index. A unit fires once the excitation exceeds its
threshold, from a minimum rate that rises linearly with excitation up to a peak rate that is lower
for late-recruited units. Excitation is normalised: 1 is a maximal contraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .muap import Templates, sample_templates, unit_energy

RECRUITMENT_RANGE = 30.0
"""Ratio of the largest to the smallest recruitment threshold (Fuglevand's RR)."""

LAST_RECRUITED = 0.7
"""Excitation at which the last unit is recruited."""

AMPLITUDE_RANGE = 40.0
"""Ratio of the largest to the smallest MUAP amplitude in a pool."""

MIN_RATE = 6.0
"""Firing rate (Hz) of a unit just above its threshold."""

PEAK_RATE_FIRST = 25.0
PEAK_RATE_LAST = 18.0
"""Peak firing rates (Hz) of the first and of the last recruited unit."""

RATE_GAIN = 45.0
"""Rise of the firing rate (Hz) per unit of excitation above threshold."""


@dataclass(frozen=True)
class MotorUnitPool:
    """The motor units of one muscle, ordered by recruitment threshold.

    ``amplitudes`` are analog MUAP peaks in µV, ``lams`` the Hermite-Rodriguez time scales (s),
    ``mixes`` the shape/sign angles seen by this channel's electrode.
    """

    thresholds: np.ndarray
    peak_rates: np.ndarray
    amplitudes: np.ndarray
    lams: np.ndarray
    mixes: np.ndarray

    @property
    def size(self) -> int:
        return int(self.thresholds.size)

    def rates(self, excitation: np.ndarray, units: np.ndarray) -> np.ndarray:
        """Firing rates (Hz) of ``units`` for excitation values: ``(len(units), len(excitation))``.

        Zero where the excitation is below a unit's threshold (the unit is not recruited).
        """
        thr = self.thresholds[units, None]
        drive = excitation[None, :] - thr
        rate = np.minimum(MIN_RATE + RATE_GAIN * drive, self.peak_rates[units, None])
        return np.where(drive > 0.0, rate, 0.0)

    def mean_square(self, excitation: np.ndarray) -> np.ndarray:
        """Expected mean square (µV²) of the pool's analog signal at steady excitation levels.

        A train of zero-mean MUAPs at rate r has a mean square close to r times the MUAP's energy,
        and independent units add.
        """
        energy = self.amplitudes**2 * unit_energy(self.lams, self.mixes)
        units = np.arange(self.size)
        return energy @ self.rates(np.atleast_1d(excitation), units)

    def excitation_for_rms(self, rms: float) -> float:
        """The steady excitation at which the pool's RMS is ``rms`` µV (clipped to 0.05..1)."""
        grid = np.linspace(0.0, 1.0, 2001)
        curve = np.sqrt(self.mean_square(grid))
        return float(np.clip(np.interp(rms, curve, grid), 0.05, 1.0))

    def templates(self, fs: float) -> Templates:
        """The units' MUAPs sampled at ``fs``."""
        return sample_templates(self.lams, self.mixes, self.amplitudes, fs)


def make_pool(rng: np.random.Generator, max_rms: float) -> MotorUnitPool:
    """Draw a pool of 100-200 units whose maximal contraction has an RMS of ``max_rms`` µV."""
    n = int(rng.integers(100, 201))
    i = np.arange(1, n + 1) / n
    rte = np.exp(np.log(RECRUITMENT_RANGE) * i)
    thresholds = LAST_RECRUITED * rte / RECRUITMENT_RANGE
    frac = (rte - rte[0]) / (rte[-1] - rte[0])
    peak_rates = PEAK_RATE_FIRST - (PEAK_RATE_FIRST - PEAK_RATE_LAST) * frac
    size = np.exp(np.log(AMPLITUDE_RANGE) * i) * rng.lognormal(0.0, 0.25, n)
    lams = np.exp(rng.uniform(np.log(1.2e-3), np.log(3.5e-3), n))
    mixes = rng.uniform(0.0, 2.0 * np.pi, n)
    pool = MotorUnitPool(thresholds, peak_rates, size, lams, mixes)
    scale = max_rms / np.sqrt(pool.mean_square(np.array([1.0]))[0])
    return MotorUnitPool(thresholds, peak_rates, size * scale, lams, mixes)
