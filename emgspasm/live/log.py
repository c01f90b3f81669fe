"""Markers as data, and the live episode log that holds both episodes and markers.

A marker ("stretching", "voluntary", or free text) is an :class:`~emgspasm.frames.Annotation`
at a stream time: the same object a BDF+ recorder takes (``BdfWriter.annotate``), so whatever
records a live session can be handed the markers as they are made.

:class:`LiveEpisodeLog` writes the episode log of :mod:`emgspasm.sinks.episode_log` (same
columns in the same order, the public ``kind,channel,onset_s,offset_s,duration_s,detected_s,
peak,rms`` first) with one column added at the end, ``label``, and writes markers as rows of
kind ``marker``: ``channel`` empty for the whole recording, onset/offset/duration of the
annotation, ``detected_s`` the stream time at which it was entered, ``peak`` and ``rms``
``nan``, and the text in ``label``. Readers of the log that know only the episode kinds skip
these rows (``emgspasm evaluate --episodes`` does).
"""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Protocol

from ..errors import RecordingError
from ..frames import Annotation, Episode
from ..sinks.episode_log import COLUMNS, LOG_FORMATS, episode_row

MARKER = "marker"
"""Kind of the log rows that hold markers."""

LIVE_COLUMNS = (*COLUMNS, "label")
"""Columns of the live log: the episode log's, then the marker text."""

PRESET_MARKERS = ("stretching", "voluntary")
"""Markers with a button and a hot key of their own."""


def marker(at_s: float, text: str, channel: str | None = None) -> Annotation:
    """A marker at stream time ``at_s`` (an instant: duration 0) with ``text``.

    Raises ValueError for empty text or a negative time.
    """
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("a marker needs a text")
    if not at_s >= 0:
        raise ValueError("a marker needs a stream time of 0 s or later")
    return Annotation(round(float(at_s), 6), 0.0, text, channel)


def marker_row(annotation: Annotation, fs: float | None, entered_s: float | None = None) -> dict:
    """An annotation as a row of the live log (see the module doc)."""
    nan = float("nan")
    entered = annotation.onset_s if entered_s is None else entered_s

    def sample(t: float) -> int | str:
        return int(round(t * fs)) if fs else ""

    return {
        "kind": MARKER,
        "channel": annotation.channel or "",
        "onset_s": round(annotation.onset_s, 6),
        "offset_s": round(annotation.offset_s, 6),
        "duration_s": round(annotation.duration_s, 6),
        "detected_s": round(entered, 6),
        "peak": nan,
        "rms": nan,
        "baseline": nan,
        "relative_rms": nan,
        "onset_sample": sample(annotation.onset_s),
        "offset_sample": sample(annotation.offset_s),
        "fs": fs if fs else "",
        "quality": "",
        "label": annotation.description,
    }


class Sink(Protocol):
    """What the live worker hands final episodes and markers to.

    The names are those of :class:`emgspasm.sinks.recorder.Recorder`, so a recorder is a sink
    as it is; a sink that also has ``write(frame)`` gets every Frame first (a recorder writes
    them to its file).
    """

    def add_episodes(self, episodes: Iterable[Episode]) -> None: ...

    def annotate(self, annotation: Annotation) -> None: ...

    def close(self) -> None: ...


class LiveEpisodeLog:
    """Episode log with markers (see the module doc); each row is flushed as it is written.

    Safe to call from several threads (the worker writes episodes, the window markers). The
    file is readable by its owner only. ``fs`` is the stream's sample rate, for the sample
    columns of marker rows (set it once known; episode rows carry their own).
    """

    def __init__(self, path: str | os.PathLike[str], fmt: str | None = None) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        self.fmt = fmt or ("jsonl" if suffix in (".jsonl", ".json") else "csv")
        if self.fmt not in LOG_FORMATS:
            raise RecordingError(f"episode log format must be csv or jsonl, not {self.fmt!r}")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise RecordingError(f"cannot write episode log {self.path}: {exc.strerror}") from exc
        self._fh: IO[str] = os.fdopen(fd, "w", newline="")
        self._csv = csv.DictWriter(self._fh, fieldnames=LIVE_COLUMNS) if self.fmt == "csv" else None
        if self._csv:
            self._csv.writeheader()
            self._fh.flush()
        self._lock = threading.Lock()
        self.fs: float | None = None
        self.episodes = 0
        self.markers = 0
        self.closed = False

    def _row(self, row: dict) -> None:
        if self._csv:
            self._csv.writerow(row)
        else:
            self._fh.write(json.dumps(row) + "\n")

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        """Append episodes (one row each)."""
        rows = [{**episode_row(ep), "label": ""} for ep in episodes]
        if not rows:
            return
        with self._lock:
            if self.closed:
                return
            for row in rows:
                self._row(row)
            self._fh.flush()
            self.episodes += len(rows)

    def annotate(self, annotation: Annotation, entered_s: float | None = None) -> None:
        """Append a marker row."""
        row = marker_row(annotation, self.fs, entered_s)
        with self._lock:
            if self.closed:
                return
            self._row(row)
            self._fh.flush()
            self.markers += 1

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._fh.close()

    def __enter__(self) -> LiveEpisodeLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
