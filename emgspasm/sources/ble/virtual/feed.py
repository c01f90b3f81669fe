"""What a virtual sensor measures, and when: a recording's samples on the device's own clock.

The virtual sensor is switched on at host time ``origin`` and from then on takes sample ``w``
(the *world index*: samples since power-on) at host time ``origin + w / rate``, with
``rate = fs * speed * (1 + drift_ppm / 1e6)``. ``speed`` replays faster than real time;
``drift_ppm`` makes its crystal run fast (positive) or slow like a real device's. The world index
goes on while no host is connected, so samples taken during a drop are simply never sent, as on
a real device.

:class:`SampleFeed` gives the values of world samples from a :class:`~emgspasm.recording.Recording`
(the simulator's or a file's); after its end, or after ``duration_s``, the sensor stops taking
samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike

import numpy as np

from ....errors import ConfigError
from ....recording import Recording

_EPS = 1e-6  # fraction of a sample: keeps floor() on the right side of exact sample times


@dataclass(frozen=True)
class DeviceClock:
    """When a virtual device takes each sample, in host (event loop) seconds."""

    fs: float
    origin: float
    speed: float = 1.0
    drift_ppm: float = 0.0

    def __post_init__(self) -> None:
        if not (self.fs > 0 and self.speed > 0 and math.isfinite(self.speed)):
            raise ConfigError("sample rate and speed must be positive")
        if not abs(self.drift_ppm) < 1e5:
            raise ConfigError("clock drift must be well below 100000 ppm")

    @property
    def rate(self) -> float:
        """Samples per host second."""
        return self.fs * self.speed * (1.0 + self.drift_ppm * 1e-6)

    def taken_by(self, host_time: float) -> int:
        """Number of samples taken at or before ``host_time`` (world indices 0..n-1)."""
        if host_time < self.origin:
            return 0
        return math.floor((host_time - self.origin) * self.rate + _EPS) + 1

    def host_time_of(self, world_index: float) -> float:
        """Host time at which world sample ``world_index`` is taken."""
        return self.origin + world_index / self.rate

    def host_seconds(self, device_seconds: float) -> float:
        """A device duration in host seconds."""
        return device_seconds * self.fs / self.rate


class SampleFeed:
    """The signal of a virtual sensor, by world index: ``samples(start, stop)`` in the
    recording's unit (NaN samples of a recording's gaps read as 0: a device sends a value)."""

    def __init__(self, recording: Recording, duration_s: float | None = None) -> None:
        self.recording = recording
        n = recording.n_samples
        if duration_s is not None:
            if not duration_s > 0:
                raise ConfigError("duration must be positive")
            n = min(n, round(duration_s * recording.fs))
        self.n_samples = n
        self._values = np.nan_to_num(recording.samples[:n], nan=0.0).astype(np.float32)

    @property
    def fs(self) -> float:
        return self.recording.fs

    @property
    def channels(self) -> tuple[str, ...]:
        return self.recording.channels

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def samples(self, start: int, stop: int) -> np.ndarray:
        """float32 ``(k, channels)`` for world indices ``start..stop-1`` within the feed."""
        start, stop = max(0, start), min(stop, self.n_samples)
        return self._values[start : max(start, stop)]

    @classmethod
    def simulated(
        cls,
        scenario: str = "night",
        duration_s: float = 60.0,
        fs: float = 1000.0,
        channels: int = 1,
        seed: int = 0,
        mains_hz: float = 50.0,
    ) -> SampleFeed:
        """A feed from :func:`emgspasm.sources.simulator.simulate` (µV, with ground truth)."""
        from ...simulator import simulate

        return cls(
            simulate(scenario, duration_s, fs=fs, seed=seed, channels=channels, mains_hz=mains_hz)
        )

    @classmethod
    def from_file(cls, path: str | PathLike[str], duration_s: float | None = None) -> SampleFeed:
        """A feed from a recording file (any format :func:`emgspasm.io.read_recording` reads)."""
        from ....io import read_recording

        return cls(read_recording(path), duration_s)
