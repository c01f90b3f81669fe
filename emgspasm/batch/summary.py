"""The per-recording result of a batch: what is written to ``<name>.summary.json``.

One flat record per recording, the same whether it was processed by a local worker process or on
a Dask cluster, so that a later run can decide from it alone whether the work is already done
(see :mod:`emgspasm.batch.plan`) and the cohort table can be made from it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecordingError

SCHEMA = 1
"""Version of the summary layout; a summary of another layout is never taken as done."""
SUMMARY_SUFFIX = ".summary.json"
EPISODES_SUFFIX = ".episodes"
OK = "ok"
ERROR = "error"


@dataclass
class RecordingSummary:
    """What one recording gave (``status`` ``ok``) or why it gave nothing (``error``).

    Rates are per hour of recording for spasms and per minute for fasciculations. The quality
    fractions are shares of the recording's channel-samples that were flat, lost (gap) or
    clipped; ``quality_share`` is the share with any of the three (each sample counted once).
    Fields that could not be known before a failure stay None.
    """

    recording: str
    """Absolute path of the recording."""
    name: str
    """Base name of this recording's result files in the output folder."""
    status: str = ERROR
    error: str | None = None
    duration_s: float | None = None
    n_samples: int | None = None
    channels: list[str] = field(default_factory=list)
    fs_hz: float | None = None
    format: str | None = None
    mains_hz: float | None = None
    spasms: int | None = None
    spasms_per_h: float | None = None
    fasciculations: int | None = None
    fasciculations_per_h: float | None = None
    fasciculations_per_min: float | None = None
    mean_spasm_duration_s: float | None = None
    flat_fraction: float | None = None
    gap_fraction: float | None = None
    clipped_fraction: float | None = None
    quality_share: float | None = None
    episode_log: str | None = None
    """File name of the episode log in the output folder (None when there is none)."""
    profile: str | None = None
    config_hash: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    reading: dict[str, Any] = field(default_factory=dict)
    emgspasm_version: str | None = None
    source_size: int | None = None
    source_mtime_ns: int | None = None
    processed_at: str | None = None
    """UTC time at which processing finished (ISO 8601)."""
    elapsed_s: float | None = None
    """Wall-clock seconds the worker spent on this recording."""
    schema: int = SCHEMA

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordingSummary:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def summary_path(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / f"{name}{SUMMARY_SUFFIX}"


def episodes_path(out_dir: str | Path, name: str, log_format: str) -> Path:
    return Path(out_dir) / f"{name}{EPISODES_SUFFIX}.{log_format}"


def read_summary(path: str | Path) -> RecordingSummary:
    """Read a summary file; RecordingError when it is missing or not a summary of this layout."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise RecordingError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or "recording" not in data:
        raise RecordingError(f"{path}: not a batch summary of layout {SCHEMA}")
    try:
        return RecordingSummary.from_dict(data)
    except TypeError as exc:
        raise RecordingError(f"{path}: {exc}") from exc
