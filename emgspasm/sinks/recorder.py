"""The recorder sink: one stream written to a BDF+ file and an episode log while it arrives.

A :class:`Recorder` takes what a live session produces, in stream order:

- Frames, written at their sample index by :class:`~emgspasm.io.bdf_writer.BdfWriter`: samples
  lost before a Frame (``gap_before``) become zeros under a ``gap`` annotation spanning exactly
  those indices, so nothing after a gap moves;
- Episodes as the detector makes them final: each is appended to the episode log (flushed at
  once, so a crash loses none already known) and written as a ``detected <kind>@<channel>``
  annotation. The ``detected`` prefix keeps them apart from the ground-truth labels
  (``spasm``, ``fasciculation``) that simulated recordings carry, so scoring a recording never
  mistakes a detection for the truth;
- Annotations of anything else worth finding again in the file (link events, flat line).

Times given to the recorder are stream times (sample index / fs); the file's time 0 is the
first sample it holds (or the first lost one, if the stream began with a gap), and the recorder
converts. Both files are readable and writable by their owner only: they describe a person's
health. A file that already exists is truncated and gets that mode too.

Both files survive the process being killed or the power failing, losing at most the last
second: the BDF+ file gets a data record (1 s) at a time, made durable before the header counts
it (see :mod:`emgspasm.io.bdf_writer`; ``sync_interval_s``), and each annotation goes into the
next record, so an episode, a gap or a link event is in the file at most one record after it
is known. The episode log gets each episode at once and is synced to disk as well.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType

from ..errors import RecordingError
from ..frames import Annotation, Episode, Frame, Gap
from ..io.bdf_writer import BdfWriter
from .episode_log import EpisodeLogWriter

EPISODE_PREFIX = "detected "
"""Annotation text before an episode's kind (``detected spasm``)."""
SYNC_INTERVAL_S = 0.5
"""Shortest wall-clock time between two syncs of the BDF+ file to disk: under the 1 s a record
lasts, so that a recording in real time has every record on disk as it is written."""


class Recorder:
    """Writes one stream to ``path`` (BDF+) and, when given, ``episodes`` (CSV or JSON Lines).

    ``physical_range`` is the range of values the device can send, one ``(min, max)`` for all
    channels or one per channel: the file's 24 bits span it, so samples inside it come back
    within 1/16777215 of it; values outside are clipped and marked by the writer.
    ``sync_interval_s``: how often at most the BDF+ file is synced to disk (None: never; see
    :class:`~emgspasm.io.bdf_writer.BdfWriter`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fs: float,
        channels: Sequence[str],
        units: Sequence[str],
        physical_range: tuple[float, float] | Sequence[tuple[float, float]],
        *,
        episodes: str | os.PathLike[str] | None = None,
        episodes_format: str | None = None,
        start_time: datetime | None = None,
        sync_interval_s: float | None = SYNC_INTERVAL_S,
    ) -> None:
        self.path = Path(path)
        self.fs = float(fs)
        self.channels = tuple(channels)
        self.units = tuple(units)
        self._bdf = BdfWriter(
            path,
            fs,
            channels,
            units,
            physical_range=physical_range,
            start_time=start_time,
            sync_interval_s=sync_interval_s,
        )
        self.episodes_path = Path(episodes) if episodes is not None else None
        self._log: EpisodeLogWriter | None = None
        self._log_fd: int | None = None
        try:
            if self.episodes_path is not None:
                self._log = EpisodeLogWriter(self.episodes_path, episodes_format)
                _owner_only(self.episodes_path)
                if sync_interval_s is not None:
                    self._log_fd = _sync_handle(self.episodes_path)
        except BaseException:
            self._bdf.close()
            if self._log is not None:
                self._log.close()
            raise
        self.origin: int | None = None
        """Stream index of the file's first sample (known from the first Frame)."""
        self.stop = 0
        """Stream index one past the last sample written."""
        self.samples_received = 0
        self.gaps: list[Gap] = []
        self.episodes: list[Episode] = []
        self._closed = False

    # -- what a session hands over ------------------------------------------------------------

    def write(self, frame: Frame) -> None:
        """Append a Frame at its sample index (its ``gap_before`` marked as a gap)."""
        if self.origin is None:
            self.origin = frame.start - frame.gap_before
        self._bdf.write(frame)
        if frame.gap_before:
            self.gaps.append(Gap(frame.start - frame.gap_before, frame.gap_before))
        self.samples_received += frame.n
        self.stop = frame.stop

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        """Log and annotate episodes that became final, one by one (each flushed to the log)."""
        for episode in episodes:
            self.episodes.append(episode)
            if self._log is not None:
                self._log.write([episode])
                self._sync_log()
            self._bdf.annotate(
                Annotation(
                    self.seconds(episode.onset),
                    episode.duration_s,
                    EPISODE_PREFIX + episode.kind,
                    episode.channel,
                )
            )

    def annotate(self, annotation: Annotation) -> None:
        """Add an annotation whose onset is in stream seconds (sample index / fs)."""
        origin_s = (self.origin or 0) / self.fs
        self._bdf.annotate(
            Annotation(
                max(0.0, annotation.onset_s - origin_s),
                annotation.duration_s,
                annotation.description,
                annotation.channel,
            )
        )

    def mark(self, index: int, text: str, length: int = 0, channel: str | None = None) -> None:
        """Annotate ``length`` samples from stream index ``index`` with ``text``."""
        self.annotate(Annotation(index / self.fs, length / self.fs, text, channel))

    def close(self) -> None:
        """Finish both files (the BDF's last record padded, its true end marked)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._bdf.close()
        finally:
            if self._log is not None:
                self._log.close()
                self._sync_log()
            if self._log_fd is not None:
                os.close(self._log_fd)
                self._log_fd = None

    @property
    def records(self) -> int:
        """Whole data records in the BDF+ file so far."""
        return self._bdf.records

    def _sync_log(self) -> None:
        """Make the episode log's rows durable (best effort: an operating system that cannot
        sync a file through a read-only handle still has them, flushed, in its cache)."""
        if self._log_fd is None:
            return
        try:
            os.fsync(self._log_fd)
        except OSError:
            pass

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- figures ------------------------------------------------------------------------------

    def seconds(self, index: int) -> float:
        """Seconds from the file's first sample to stream index ``index``."""
        return (index - (self.origin or 0)) / self.fs

    @property
    def n_samples(self) -> int:
        """Samples the file spans, lost ones included."""
        return 0 if self.origin is None else self.stop - self.origin

    @property
    def samples_lost(self) -> int:
        return sum(gap.length for gap in self.gaps)

    @property
    def loss_percent(self) -> float:
        """Lost samples per sample the file spans, in %."""
        return 100.0 * self.samples_lost / self.n_samples if self.n_samples else 0.0


def _sync_handle(path: Path) -> int | None:
    """A read-only handle on ``path`` to sync it through (the log writer keeps its own)."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _owner_only(path: Path) -> None:
    """Make an existing file readable and writable by its owner only."""
    try:
        os.chmod(path, 0o600)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot restrict access ({exc.strerror or exc})") from None
