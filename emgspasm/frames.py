"""The data that flows through emgspasm: Frames of samples in, Episodes out.

A Frame is one block of a stream; the sample index (not wall-clock time) is the time axis, so
that a hiccup of the transport never moves where anything sits in the recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A block of consecutive samples of a stream.

    ``samples`` is float32 ``(n, channels)`` in the stream's physical unit. ``start`` is the sample
    index of the first row. ``gap_before`` counts samples that were lost just before this frame:
    they are not in any frame, and ``start`` already counts them, so indices never shift.
    """

    samples: np.ndarray
    start: int
    fs: float
    channels: tuple[str, ...]
    gap_before: int = 0

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[1] != len(self.channels):
            raise ValueError(
                f"samples of shape {self.samples.shape} do not match {len(self.channels)} channels"
            )

    @property
    def n(self) -> int:
        """Number of samples (rows) in the frame."""
        return int(self.samples.shape[0])

    @property
    def stop(self) -> int:
        """Sample index one past the last sample of the frame."""
        return self.start + self.n

    @property
    def start_s(self) -> float:
        """Stream time of the first sample, in seconds."""
        return self.start / self.fs


@dataclass(frozen=True)
class Annotation:
    """A labelled span of a recording (EDF+ style): onset and duration in seconds.

    ``channel`` is None when the annotation applies to the whole recording.
    """

    onset_s: float
    duration_s: float
    description: str
    channel: str | None = None

    @property
    def offset_s(self) -> float:
        return self.onset_s + self.duration_s


@dataclass(frozen=True)
class Gap:
    """Samples that are missing from a stream: ``length`` samples from index ``start`` on."""

    start: int
    length: int

    @property
    def stop(self) -> int:
        return self.start + self.length


EPISODE_KINDS = ("spasm", "fasciculation")


@dataclass(frozen=True)
class Episode:
    """One detected event on one channel.

    Times are kept as sample indices (``onset``, ``offset`` exclusive, ``detected``) with the
    sample rate, and offered in seconds. ``detected`` is the sample index at which the detector
    first flagged the event: ``detected_s - onset_s`` is the detection latency. ``peak`` and ``rms``
    are amplitudes of the filtered signal in the recording's unit; ``baseline`` is the resting
    level (same unit) they can be compared with.
    """

    kind: str
    channel: str
    onset: int
    offset: int
    detected: int
    fs: float
    peak: float
    rms: float
    baseline: float = float("nan")
    quality: tuple[str, ...] = field(default_factory=tuple)

    @property
    def onset_s(self) -> float:
        return self.onset / self.fs

    @property
    def offset_s(self) -> float:
        return self.offset / self.fs

    @property
    def duration_s(self) -> float:
        return (self.offset - self.onset) / self.fs

    @property
    def detected_s(self) -> float:
        return self.detected / self.fs

    @property
    def relative_rms(self) -> float:
        """RMS amplitude as a multiple of the resting baseline (NaN when unknown)."""
        if not np.isfinite(self.baseline) or self.baseline <= 0:
            return float("nan")
        return self.rms / self.baseline
