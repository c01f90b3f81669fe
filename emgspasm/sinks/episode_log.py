"""The episode log: one row per episode, CSV or JSON Lines, flushed as each episode arrives.

The CSV columns are a public contract: ``kind,channel,onset_s,offset_s,duration_s,detected_s,
peak,rms`` come first and keep their names; later columns may be added, never renamed.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from ..errors import RecordingError
from ..frames import Episode

COLUMNS = (
    "kind",
    "channel",
    "onset_s",
    "offset_s",
    "duration_s",
    "detected_s",
    "peak",
    "rms",
    "baseline",
    "relative_rms",
    "onset_sample",
    "offset_sample",
    "fs",
    "quality",
)
LOG_FORMATS = ("csv", "jsonl")


def episode_row(ep: Episode) -> dict[str, object]:
    """One episode as a flat record with the log's columns."""
    return {
        "kind": ep.kind,
        "channel": ep.channel,
        "onset_s": round(ep.onset_s, 6),
        "offset_s": round(ep.offset_s, 6),
        "duration_s": round(ep.duration_s, 6),
        "detected_s": round(ep.detected_s, 6),
        "peak": float(f"{ep.peak:.6g}"),
        "rms": float(f"{ep.rms:.6g}"),
        "baseline": float(f"{ep.baseline:.6g}"),
        "relative_rms": float(f"{ep.relative_rms:.6g}"),
        "onset_sample": ep.onset,
        "offset_sample": ep.offset,
        "fs": ep.fs,
        "quality": ";".join(ep.quality),
    }


class EpisodeLogWriter:
    """Appends episodes to a log file, flushing each so a crash loses none already written.

    The file is created readable by its owner only: it describes a person's health.
    """

    def __init__(self, path: str | Path, fmt: str | None = None) -> None:
        self.path = Path(path)
        self.fmt = fmt or ("jsonl" if self.path.suffix.lower() in (".jsonl", ".json") else "csv")
        if self.fmt not in LOG_FORMATS:
            raise RecordingError(f"episode log format must be csv or jsonl, not {self.fmt!r}")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # health data: owner-only even when the file existed before
        except OSError as exc:
            raise RecordingError(f"cannot write episode log {self.path}: {exc.strerror}") from exc
        self._fh: IO[str] = os.fdopen(fd, "w", newline="")
        self._csv = csv.DictWriter(self._fh, fieldnames=COLUMNS) if self.fmt == "csv" else None
        if self._csv:
            self._csv.writeheader()
            self._fh.flush()
        self.count = 0

    def write(self, episodes: Iterable[Episode]) -> None:
        wrote = False
        for ep in episodes:
            row = episode_row(ep)
            if self._csv:
                self._csv.writerow(row)
            else:
                self._fh.write(json.dumps(row) + "\n")
            self.count += 1
            wrote = True
        if wrote:
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> EpisodeLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_episode_log(path: str | Path) -> list[dict[str, object]]:
    """Rows of an episode log (CSV or JSONL) with numbers as floats."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RecordingError(f"cannot read episode log {path}: {exc.strerror}") from exc
    rows: list[dict[str, object]]
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = list(csv.DictReader(text.splitlines()))
    for lineno, row in enumerate(rows, start=2):
        for key in ("onset_s", "offset_s", "detected_s", "peak", "rms"):
            try:
                row[key] = float(row[key])  # type: ignore[arg-type]
            except (KeyError, TypeError, ValueError) as exc:
                raise RecordingError(f"{path}: row {lineno} has no valid {key}") from exc
    return rows
