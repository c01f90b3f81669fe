"""Planning a batch: which files, under which result names, and which are already done.

A recording counts as done when its summary in the output folder says ``ok`` and was made from
the same file (same size and modification time), with the same detector configuration (its
hash), the same reading options, episode-log format and emgspasm version, and its episode log is
there. Anything else (no summary, a failed one, a changed file or configuration, a summary of
another layout) is processed again; ``force`` processes everything again. Size plus modification
time is what ``make`` and ``rsync`` trust too; hashing the contents of a night of 8-channel BDF
(1.4 GB) would cost as much as reading it for detection.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import DetectorConfig
from ..errors import EmgSpasmError
from .summary import (
    EPISODES_SUFFIX,
    SUMMARY_SUFFIX,
    RecordingSummary,
    episodes_path,
    read_summary,
    summary_path,
)

COHORT_TABLE = "cohort.csv"
BATCH_LOG = "batch.log"


@dataclass(frozen=True)
class ReadOptions:
    """How every recording of a batch is opened (see :func:`emgspasm.io.open_recording`)."""

    format: str | None = None
    fs: float | None = None
    skip_bad_lines: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to process one recording (small and picklable, so it travels to
    a local worker process or a Dask worker alike)."""

    path: str
    name: str
    out_dir: str
    config: DetectorConfig
    reading: ReadOptions = ReadOptions()
    log_format: str = "csv"


@dataclass
class PlannedRecording:
    """One recording of the batch: its task, and the earlier result it may reuse."""

    display: str
    """The path as found from the command line (shown in the table and messages)."""
    task: Task
    done: RecordingSummary | None = None
    """The earlier summary that stands (None: the recording is to be processed)."""


def config_hash(config: DetectorConfig) -> str:
    """A short, stable fingerprint of a detector configuration (16 hex digits of SHA-256)."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(size, mtime_ns)`` of a file: what tells a later run that it has not changed."""
    st = os.stat(path)
    return int(st.st_size), int(st.st_mtime_ns)


def expand_inputs(
    patterns: Sequence[str], out_dir: str | os.PathLike[str] | None = None
) -> tuple[list[str], list[str]]:
    """The recordings named by ``patterns`` (paths or glob patterns, ``**`` allowed), in order.

    A pattern's matches are sorted; a file named twice is kept once. An existing path or a plain
    name is taken as it is even if it does not exist (it is then reported as a failed recording,
    not dropped). Files the batch itself wrote into ``out_dir`` are left out. Returns the paths
    and one note per pattern that matched nothing.
    """
    out = Path(out_dir).absolute() if out_dir is not None else None
    paths: list[str] = []
    notes: list[str] = []
    seen: set[str] = set()
    for pattern in patterns:
        if os.path.lexists(pattern) or not glob.has_magic(pattern):
            found = [pattern]
        else:
            found = sorted(p for p in glob.glob(pattern, recursive=True) if not os.path.isdir(p))
            found = [p for p in found if not (out is not None and _is_batch_output(p, out))]
            if not found:
                notes.append(f"no recording matches {pattern}")
        for p in found:
            key = os.path.normcase(os.path.abspath(p))
            if key not in seen:
                seen.add(key)
                paths.append(p)
    return paths, notes


def _is_batch_output(path: str, out_dir: Path) -> bool:
    p = Path(path).absolute()
    if p.parent != out_dir:
        return False
    name = p.name
    return (
        name in (COHORT_TABLE, BATCH_LOG)
        or name.endswith(SUMMARY_SUFFIX)
        or f"{EPISODES_SUFFIX}." in name
        or (name.startswith(".") and name.endswith(".tmp"))
    )


def result_names(paths: Sequence[str]) -> list[str]:
    """Base names for the result files of ``paths``: the file name without its extension, and
    where two recordings would share one (``a/night.bdf``, ``b/night.bdf``), that name followed
    by a short hash of the recording's absolute path, so each keeps its own results."""
    stems = [Path(p).stem or Path(p).name for p in paths]
    counts: dict[str, int] = {}
    for s in stems:
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    names = []
    for p, s in zip(paths, stems, strict=True):
        if counts[s.lower()] > 1:
            digest = hashlib.sha1(os.path.abspath(p).encode("utf-8")).hexdigest()[:8]
            s = f"{s}-{digest}"
        names.append(s)
    return names


def is_done(task: Task, summary: RecordingSummary) -> bool:
    """Whether ``summary`` is a complete result of ``task`` for the file as it is now."""
    try:
        identity = file_identity(task.path)
    except OSError:
        return False
    log = summary.episode_log
    return (
        summary.ok
        and summary.recording == task.path
        and summary.config_hash == config_hash(task.config)
        and summary.reading == task.reading.to_dict()
        and summary.emgspasm_version == __version__
        and (summary.source_size, summary.source_mtime_ns) == identity
        and log == episodes_path(task.out_dir, task.name, task.log_format).name
        and (Path(task.out_dir) / log).is_file()
    )


def plan_batch(
    paths: Sequence[str],
    out_dir: str | os.PathLike[str],
    config: DetectorConfig,
    *,
    reading: ReadOptions | None = None,
    log_format: str = "csv",
    force: bool = False,
) -> list[PlannedRecording]:
    """One planned recording per path, with the earlier result it reuses unless ``force``."""
    reading = reading or ReadOptions()
    out = Path(out_dir).absolute()
    planned = []
    for display, name in zip(paths, result_names(paths), strict=True):
        task = Task(
            path=os.path.abspath(display),
            name=name,
            out_dir=str(out),
            config=config,
            reading=reading,
            log_format=log_format,
        )
        done = None
        if not force:
            try:
                earlier = read_summary(summary_path(out, name))
            except EmgSpasmError:
                earlier = None
            if earlier is not None and is_done(task, earlier):
                done = earlier
        planned.append(PlannedRecording(display=display, task=task, done=done))
    return planned
