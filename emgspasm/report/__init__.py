"""Night and session reports: an HTML page with PNG figures, and the same numbers as JSON.

:func:`make_report` reads a recording once, streamed block by block (:mod:`.scan`), takes the
episodes from an episode log or, without one, from the detector run during that pass, computes
every number once (:mod:`.summary`), draws the figures (:mod:`.figures`) and writes the page
(:mod:`.html`)::

    out/index.html          the report, readable offline
    out/summary.json        the numbers, for scripts
    out/timeline.png ...    the figures

The folder is created readable by its owner only: it describes a person's health.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import DetectorConfig
from ..errors import RecordingError
from ..private_files import DIR_MODE, write_private_text
from ..recording import RecordingReader
from .figures import draw_all
from .html import render_html
from .scan import Scan, scan_recording
from .summary import Event, Marker, Night, read_log, recording_markers, summarize

__all__ = [
    "Event",
    "Marker",
    "Night",
    "Report",
    "Scan",
    "make_report",
    "night_from_scan",
    "read_log",
    "scan_recording",
    "summarize",
    "write_report",
]


@dataclass(frozen=True)
class Report:
    """Where a report was written, and its numbers."""

    folder: Path
    html: Path
    summary_json: Path
    figures: dict[str, Path]
    summary: dict[str, Any]


def night_from_scan(scan: Scan, episodes_log: str | os.PathLike[str] | None = None) -> Night:
    """The report's view of a scanned recording: the log's episodes and markers when a log is
    given (the detector's are then left aside), else the detector's; plus the recording's own
    markers."""
    markers = recording_markers(scan.annotations)
    if episodes_log is not None:
        events, logged = read_log(episodes_log)
        return Night(scan, events, markers + logged, str(episodes_log))
    return Night(scan, [Event.from_episode(e) for e in scan.episodes], markers, "detector")


def write_report(night: Night, out: str | os.PathLike[str]) -> Report:
    """Write the page, the JSON summary and the figures of ``night`` into the folder ``out``."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise RecordingError(f"{folder} is a file; give --out a folder for the report")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as exc:
        raise RecordingError(f"cannot create report folder {folder}: {exc.strerror}") from None
    summary = summarize(night)
    figures = draw_all(night, summary, folder)
    summary["figures"] = {name: path.name for name, path in figures.items()}
    summary_json = folder / "summary.json"
    html = folder / "index.html"
    try:
        write_private_text(summary_json, json.dumps(summary, indent=1, allow_nan=False) + "\n")
        write_private_text(html, render_html(night, summary, figures))
    except OSError as exc:
        raise RecordingError(f"cannot write the report into {folder}: {exc.strerror}") from None
    return Report(folder, html, summary_json, figures, summary)


def make_report(
    reader: RecordingReader,
    out: str | os.PathLike[str],
    *,
    episodes_log: str | os.PathLike[str] | None = None,
    config: DetectorConfig | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Report:
    """Scan the recording ``reader`` (streamed, bounded memory) and write its report to ``out``.

    With ``episodes_log`` the episodes (and marker rows) come from that log; the detector still
    runs during the pass for the signal-quality segments. ``on_progress`` receives the number
    of samples of each block read.
    """
    scan = scan_recording(reader, config, on_progress=on_progress)
    return write_report(night_from_scan(scan, episodes_log), out)
