"""Running a stored recording through the Detector: the path replay, detect and batch share."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from .config import DetectorConfig
from .detect import Detector, QualitySegment
from .frames import Episode, Frame
from .recording import RecordingReader

DEFAULT_BLOCK_S = 10.0
READ_AHEAD = 2
"""Frames a background thread may read ahead of the detector (0: read in the calling thread).
Reading and decoding a file then overlaps detection, and memory stays bounded by a few frames."""


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

    frames = reader.frames(block)
    if READ_AHEAD > 0:
        frames = read_ahead(frames, READ_AHEAD)
    for frame in frames:
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


class _Failed:
    """An exception raised while reading, carried to the consuming thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def read_ahead(frames: Iterator[Frame], depth: int) -> Iterator[Frame]:
    """Iterate ``frames`` in a background thread, at most ``depth`` frames ahead of the caller.

    Frames come out in order; an error raised while reading is raised here, in the caller's
    thread, at the point where it happened in the stream. When the caller stops early (an
    error of its own, or it simply stops iterating), the reading thread stops too and the
    source is closed.
    """
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
        except BaseException as error:  # handed over to the caller's thread
            offer(_Failed(error))
            return
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        offer(_END)

    worker = threading.Thread(target=produce, name="emgspasm-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            assert isinstance(item, Frame)
            yield item
    finally:
        stop.set()
        worker.join()
