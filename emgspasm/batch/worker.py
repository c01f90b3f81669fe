"""The per-recording work of a batch: one function, run by a local worker process or a Dask worker.

:func:`process_recording` streams one file through the detector exactly as ``emgspasm detect``
does (same reader, same :func:`~emgspasm.pipeline.detect_stream`, same episode-log writer, so the
log is byte-identical), then writes the recording's summary. Both files appear atomically and
owner-only. A recording that cannot be processed never raises: its summary says why, so one bad
file cannot stop a batch.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..config import DetectorConfig
from ..errors import EmgSpasmError, RecordingError
from ..io import open_recording
from ..pipeline import detect_stream
from ..sinks.episode_log import EpisodeLogWriter
from .files import atomic_path, write_atomic
from .plan import ReadOptions, Task, config_hash, file_identity
from .quality import ClipTap, quality_shares
from .summary import OK, RecordingSummary, episodes_path, summary_path


def process_recording(
    path: str | os.PathLike[str],
    config: DetectorConfig,
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    reading: ReadOptions | None = None,
    log_format: str = "csv",
) -> RecordingSummary:
    """Detect episodes in one recording; write its episode log and ``<name>.summary.json``.

    ``name`` is the base name of the result files (default: the file name without extension).
    Returns the summary that was written. A failure of the recording itself (unreadable,
    corrupt, unsupported) is returned as a summary with status ``error`` and no episode log;
    only a failure to write into ``out_dir`` raises.
    """
    started = time.perf_counter()
    path = os.path.abspath(path)
    out = Path(out_dir)
    reading = reading or ReadOptions()
    summary = RecordingSummary(
        recording=path,
        name=name or Path(path).stem or Path(path).name,
        profile=config.profile,
        config_hash=config_hash(config),
        config=config.to_dict(),
        reading=reading.to_dict(),
        emgspasm_version=__version__,
    )
    log_path = episodes_path(out, summary.name, log_format)
    try:
        _detect(path, config, reading, log_format, log_path, summary)
    except Exception as exc:  # any failure of this recording is reported, not raised
        summary.error = error_message(exc, path)
        summary.episode_log = None
        with contextlib.suppress(FileNotFoundError):
            log_path.unlink()  # a log from an earlier run would contradict this summary
    summary.elapsed_s = round(time.perf_counter() - started, 3)
    summary.processed_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_summary(out, summary)
    return summary


def _detect(
    path: str,
    config: DetectorConfig,
    reading: ReadOptions,
    log_format: str,
    log_path: Path,
    summary: RecordingSummary,
) -> None:
    try:
        summary.source_size, summary.source_mtime_ns = file_identity(path)
    except FileNotFoundError:
        raise RecordingError(f"{Path(path).name}: no such file") from None
    reader = open_recording(
        path, reading.format, fs=reading.fs, skip_bad_lines=reading.skip_bad_lines
    )
    header = reader.header
    summary.format = header.format
    summary.fs_hz = float(header.fs)
    summary.channels = list(header.channels)
    summary.n_samples = int(header.n_samples)
    summary.duration_s = round(header.duration_s, 6)
    tap = ClipTap(reader, config.clip_level) if config.clip_level else None
    with atomic_path(log_path) as tmp:
        with EpisodeLogWriter(tmp, log_format) as log:
            result = detect_stream(tap or reader, config, on_episodes=log.write)
        # An earlier summary must not outlive the log it described: from here until the new
        # summary is written, the recording counts as not done.
        summary_path(log_path.parent, summary.name).unlink(missing_ok=True)
    spasms = [e.duration_s for e in result.episodes if e.kind == "spasm"]
    hours = result.duration_s / 3600.0
    shares = quality_shares(header, result.quality, tap.spans if tap else None)
    summary.mains_hz = result.mains_hz
    summary.spasms = len(spasms)
    summary.spasms_per_h = _round(len(spasms) / hours) if hours > 0 else None
    summary.fasciculations = result.count("fasciculation")
    summary.fasciculations_per_h = (
        _round(summary.fasciculations / hours) if hours > 0 else None
    )
    summary.fasciculations_per_min = (
        _round(summary.fasciculations / (hours * 60.0)) if hours > 0 else None
    )
    summary.mean_spasm_duration_s = _round(sum(spasms) / len(spasms)) if spasms else None
    summary.flat_fraction = _round(shares.flat)
    summary.gap_fraction = _round(shares.gap)
    summary.clipped_fraction = _round(shares.clipped)
    summary.quality_share = _round(shares.any)
    summary.episode_log = log_path.name
    summary.status = OK


def write_summary(out_dir: str | os.PathLike[str], summary: RecordingSummary) -> Path:
    """Write a summary atomically as ``<name>.summary.json`` in ``out_dir``."""
    target = summary_path(out_dir, summary.name)
    write_atomic(target, summary.to_json())
    return target


def error_message(exc: BaseException, path: str | os.PathLike[str] = "") -> str:
    """One line saying what went wrong, without a traceback, naming the file once."""
    if isinstance(exc, EmgSpasmError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename and str(exc.filename) != str(path) else ""
        text = f"{exc.strerror}{where}"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    prefix = f"{Path(path).name}: " if path else ""
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :]
    return " ".join(text.split())


def _round(x: float) -> float:
    return round(float(x), 6)


class _Terminated(BaseException):
    """Raised in a local worker process by SIGTERM while it works on a recording."""


_busy = False
"""Whether this process is inside :func:`run_task` (what SIGTERM has to unwind)."""


def run_task(task: Task) -> RecordingSummary:
    """Process one planned recording (what executors hand to their workers)."""
    global _busy
    _busy = True
    try:
        return process_recording(
            task.path,
            task.config,
            task.out_dir,
            name=task.name,
            reading=task.reading,
            log_format=task.log_format,
        )
    except _Terminated:
        os._exit(143)  # temporary files are gone; do not go on to another recording
    finally:
        _busy = False


def init_worker_process(detector_threads: int) -> None:
    """Set up a local worker process: Ctrl-C is the parent's business (it stops the batch and
    ends the workers), SIGTERM ends the process after removing the temporary files of the
    recording in progress, and the detector's channel threads are limited so that parallel
    recordings do not oversubscribe the cores."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_term)
    from ..detect import detector

    if hasattr(detector, "THREADS"):
        detector.THREADS = max(1, int(detector_threads))


def _on_term(signum: int, frame: object) -> None:
    if _busy:
        raise _Terminated
    os._exit(128 + signum)
