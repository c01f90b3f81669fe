"""Recordings: a whole stored signal with its metadata, and the streaming reader interface.

Readers describe a file with a :class:`RecordingHeader` and hand out its samples as Frames, so a
long multi-channel recording can be processed without holding it in memory;
:class:`Recording` is the in-memory form for files that fit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

import numpy as np

from .frames import Annotation, Frame, Gap

COUNTS = "counts"
"""Unit label for samples whose physical unit is unknown (raw ADC values)."""


@dataclass(frozen=True)
class RecordingHeader:
    """What is known about a recording before reading its samples."""

    fs: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    n_samples: int
    start_time: datetime | None = None
    annotations: tuple[Annotation, ...] = ()
    gaps: tuple[Gap, ...] = ()
    format: str = ""
    path: str = ""
    notes: tuple[str, ...] = ()
    """Things the reader wants a user to know, e.g. how many bad lines were skipped."""

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


class RecordingReader(Protocol):
    """A source of a stored recording's samples, block by block."""

    header: RecordingHeader

    def frames(self, block_size: int) -> Iterator[Frame]:
        """Yield the samples as Frames of at most ``block_size`` samples, in order.

        A Frame that follows missing samples carries ``gap_before``; samples inside a gap are
        never yielded.
        """
        ...


@dataclass
class Recording:
    """A recording held in memory.

    ``samples`` is float32 ``(n, channels)`` covering every sample index from 0 to n; samples
    inside ``gaps`` are NaN (they were lost, not measured) and are never passed on as data.
    """

    samples: np.ndarray
    fs: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    start_time: datetime | None = None
    annotations: tuple[Annotation, ...] = ()
    gaps: tuple[Gap, ...] = ()
    format: str = ""
    path: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.samples = np.asarray(self.samples, dtype=np.float32)
        if self.samples.ndim == 1:
            self.samples = self.samples[:, None]
        self.channels = tuple(self.channels)
        self.units = tuple(self.units)
        if self.samples.shape[1] != len(self.channels) or len(self.units) != len(self.channels):
            raise ValueError("samples, channels and units disagree on the number of channels")

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def header(self) -> RecordingHeader:
        return RecordingHeader(
            fs=self.fs,
            channels=self.channels,
            units=self.units,
            n_samples=self.n_samples,
            start_time=self.start_time,
            annotations=self.annotations,
            gaps=self.gaps,
            format=self.format,
            path=self.path,
            notes=self.notes,
        )

    def frames(self, block_size: int) -> Iterator[Frame]:
        """Yield the recording as Frames of at most ``block_size`` samples, skipping gaps."""
        yield from frames_from_array(self.samples, self.fs, self.channels, self.gaps, block_size)

    def with_annotations(self, annotations: tuple[Annotation, ...]) -> Recording:
        return replace(self, annotations=tuple(annotations))


def frames_from_array(
    samples: np.ndarray,
    fs: float,
    channels: tuple[str, ...],
    gaps: tuple[Gap, ...],
    block_size: int,
    offset: int = 0,
) -> Iterator[Frame]:
    """Cut ``samples`` (whose first row has index ``offset``) into Frames, leaving gaps out."""
    if block_size < 1:
        raise ValueError("block_size must be at least 1")
    n = samples.shape[0]
    spans: list[tuple[int, int, int]] = []  # (start, stop, lost before start)
    pos = offset
    lost = 0
    for gap in sorted(gaps, key=lambda g: g.start):
        g0, g1 = max(gap.start, offset), min(gap.stop, offset + n)
        if g1 <= g0:
            continue
        if g0 > pos:
            spans.append((pos, g0, lost))
            lost = 0
        lost += g1 - max(g0, pos)
        pos = max(pos, g1)
    if pos < offset + n:
        spans.append((pos, offset + n, lost))
    for start, stop, lost in spans:
        for b0 in range(start, stop, block_size):
            b1 = min(b0 + block_size, stop)
            block = np.ascontiguousarray(samples[b0 - offset : b1 - offset], dtype=np.float32)
            yield Frame(block, b0, fs, tuple(channels), lost if b0 == start else 0)
