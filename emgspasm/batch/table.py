"""The cohort table: one CSV row per recording of a batch, for statistics across nights/people.

Columns (a public contract like the episode log's: new ones may be added at the end, none
renamed): ``file`` (as named on the command line), ``status`` (``ok``, ``error``, or
``pending`` for a recording an interrupted batch did not reach), ``duration_s``, ``channels``,
``fs_hz``, ``spasms``, ``spasms_per_h``, ``fasciculations``, ``fasciculations_per_h``,
``fasciculations_per_min``,
``mean_spasm_duration_s``, ``quality_share`` (flat, lost or clipped share of channel-samples),
``flat_fraction``, ``gap_fraction``, ``clipped_fraction``, ``config_hash``, ``reused`` (1 when
the result is an earlier run's, same file and configuration), ``summary`` (the summary file) and
``error`` (one line, empty when ok). Empty cells are values that are not known or not defined
(no mean duration without spasms).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

from .files import write_atomic
from .summary import SUMMARY_SUFFIX, RecordingSummary

COLUMNS = (
    "file",
    "status",
    "duration_s",
    "channels",
    "fs_hz",
    "spasms",
    "spasms_per_h",
    "fasciculations",
    "fasciculations_per_h",
    "fasciculations_per_min",
    "mean_spasm_duration_s",
    "quality_share",
    "flat_fraction",
    "gap_fraction",
    "clipped_fraction",
    "config_hash",
    "reused",
    "summary",
    "error",
)
PENDING = "pending"


@dataclass
class CohortRow:
    """One recording of the batch as it ended: its summary (None if never reached)."""

    file: str
    name: str
    summary: RecordingSummary | None
    reused: bool = False

    @property
    def status(self) -> str:
        return self.summary.status if self.summary is not None else PENDING


def _num(value: float | int | None, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def cohort_csv(rows: Sequence[CohortRow]) -> str:
    """The table as CSV text (one header row, then one row per recording in batch order)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        s = row.summary
        if s is None:
            writer.writerow({"file": row.file, "status": PENDING})
            continue
        writer.writerow(
            {
                "file": row.file,
                "status": s.status,
                "duration_s": _num(s.duration_s, 3),
                "channels": len(s.channels) if s.channels else "",
                "fs_hz": f"{s.fs_hz:g}" if s.fs_hz is not None else "",
                "spasms": _num(s.spasms, 0),
                "spasms_per_h": _num(s.spasms_per_h, 3),
                "fasciculations": _num(s.fasciculations, 0),
                "fasciculations_per_h": _num(s.fasciculations_per_h, 3),
                "fasciculations_per_min": _num(s.fasciculations_per_min, 3),
                "mean_spasm_duration_s": _num(s.mean_spasm_duration_s, 3),
                "quality_share": _num(s.quality_share, 6),
                "flat_fraction": _num(s.flat_fraction, 6),
                "gap_fraction": _num(s.gap_fraction, 6),
                "clipped_fraction": _num(s.clipped_fraction, 6),
                "config_hash": s.config_hash or "",
                "reused": int(row.reused),
                "summary": f"{s.name}{SUMMARY_SUFFIX}",
                "error": s.error or "",
            }
        )
    return buf.getvalue()


def write_cohort_table(path: str | os.PathLike[str], rows: Sequence[CohortRow]) -> None:
    """Write the cohort table atomically, owner-only."""
    write_atomic(path, cohort_csv(rows))
