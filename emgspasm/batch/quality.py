"""Signal-quality shares of one recording: how much of it was flat, lost or clipped.

The detector reports flat line and gaps as per-channel segments; clipping comes from two places,
the ``clipped`` marks a file carries (the BDF+ writer sets them where it had to clip) and the
samples at or beyond the configured ``clip_level``, counted here by :class:`ClipTap` on the way
to the detector with the detector's own rule. Shares are of channel-samples, with overlapping
marks counted once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ..detect import QualitySegment
from ..frames import Frame
from ..recording import RecordingHeader, RecordingReader

Spans = dict[str, list[tuple[int, int]]]
"""Half-open sample spans ``[start, stop)`` per channel name."""


class ClipTap:
    """A reader that passes another reader's Frames on unchanged, noting clipped sample runs.

    A sample counts as clipped when its magnitude is at or beyond ``clip_level`` (compared in
    double precision, as the detector kernel does). Runs that continue across frames are merged.
    """

    def __init__(self, reader: RecordingReader, clip_level: float) -> None:
        self._reader = reader
        self._clip = np.float64(clip_level)
        self.spans: Spans = {ch: [] for ch in reader.header.channels}

    @property
    def header(self) -> RecordingHeader:
        return self._reader.header

    def frames(self, block_size: int) -> Iterator[Frame]:
        inner = self._reader.frames(block_size)
        try:
            for frame in inner:
                self._note(frame)
                yield frame
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()

    def _note(self, frame: Frame) -> None:
        hit = np.abs(frame.samples) >= self._clip
        for c in np.flatnonzero(hit.any(axis=0)):
            idx = np.flatnonzero(hit[:, c])
            breaks = np.flatnonzero(np.diff(idx) > 1)
            starts = idx[np.r_[0, breaks + 1]] + frame.start
            stops = idx[np.r_[breaks, idx.size - 1]] + 1 + frame.start
            runs = self.spans[frame.channels[c]]
            for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
                if runs and runs[-1][1] == a:
                    runs[-1] = (runs[-1][0], b)
                else:
                    runs.append((a, b))


@dataclass(frozen=True)
class QualityShares:
    flat: float
    gap: float
    clipped: float
    any: float


def union_length(spans: Iterable[tuple[int, int]], n: int) -> int:
    """Samples covered by ``spans`` within ``[0, n)``, overlaps counted once."""
    total = 0
    reach = 0
    for a, b in sorted((max(0, a), min(n, b)) for a, b in spans):
        if b <= reach:
            continue
        a = max(a, reach)
        total += b - a
        reach = b
    return total


def quality_shares(
    header: RecordingHeader,
    segments: Iterable[QualitySegment],
    clipped: Spans | None = None,
) -> QualityShares:
    """Shares of the recording's channel-samples that were flat, lost, clipped, or any of them."""
    channels = header.channels
    n = header.n_samples
    kinds: dict[str, Spans] = {k: {ch: [] for ch in channels} for k in ("flat", "gap", "clipped")}
    for seg in segments:
        if seg.kind in kinds and seg.channel in kinds[seg.kind]:
            kinds[seg.kind][seg.channel].append((seg.start, seg.stop))
    for gap in header.gaps:
        for ch in channels:
            kinds["gap"][ch].append((gap.start, gap.stop))
    for note in header.annotations:
        if note.description == "clipped":
            span = (
                int(round(note.onset_s * header.fs)),
                int(round((note.onset_s + note.duration_s) * header.fs)),
            )
            for ch in channels if note.channel is None else (note.channel,):
                if ch in kinds["clipped"]:
                    kinds["clipped"][ch].append(span)
    for ch, runs in (clipped or {}).items():
        if ch in kinds["clipped"]:
            kinds["clipped"][ch].extend(runs)
    total = n * len(channels)
    if total <= 0:
        return QualityShares(0.0, 0.0, 0.0, 0.0)

    def share(per_channel: Iterable[list[tuple[int, int]]]) -> float:
        return sum(union_length(spans, n) for spans in per_channel) / total

    union = (kinds["flat"][ch] + kinds["gap"][ch] + kinds["clipped"][ch] for ch in channels)
    return QualityShares(
        flat=share(kinds["flat"].values()),
        gap=share(kinds["gap"].values()),
        clipped=share(kinds["clipped"].values()),
        any=share(union),
    )
