"""Running a stored recording through the Detector: the path replay, detect and batch share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .config import DetectorConfig
from .detect import Detector, QualitySegment
from .frames import Episode
from .recording import RecordingReader

DEFAULT_BLOCK_S = 10.0


@dataclass
class DetectionResult:
    """What a run over one recording found."""

    episodes: list[Episode]
    duration_s: float
    channels: tuple[str, ...]
    mains_hz: float | None
    quality: list[QualitySegment] = field(default_factory=list)
    gap_samples: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for e in self.episodes if e.kind == kind)

    def per_hour(self, kind: str) -> float:
        return self.count(kind) * 3600.0 / self.duration_s if self.duration_s > 0 else 0.0


def detect_stream(
    reader: RecordingReader,
    config: DetectorConfig | None = None,
    *,
    block_s: float = DEFAULT_BLOCK_S,
    on_episodes: Callable[[list[Episode]], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DetectionResult:
    """Stream ``reader`` through a new Detector block by block (bounded memory).

    ``on_episodes`` receives each batch of final episodes as soon as it is known (to write a log
    as it happens); ``on_progress`` receives the number of samples of each block.
    """
    header = reader.header
    detector = Detector(config)
    episodes: list[Episode] = []
    block = max(1, int(round(block_s * header.fs)))

    def take(found: Iterable[Episode]) -> None:
        found = list(found)
        if found:
            episodes.extend(found)
            if on_episodes:
                on_episodes(found)

    for frame in reader.frames(block):
        take(detector.process(frame))
        if on_progress:
            on_progress(frame.n + frame.gap_before)
    take(detector.flush())
    return DetectionResult(
        episodes=episodes,
        duration_s=header.duration_s,
        channels=header.channels,
        mains_hz=detector.mains_hz,
        quality=list(detector.quality),
        gap_samples=detector.gap_samples,
    )
