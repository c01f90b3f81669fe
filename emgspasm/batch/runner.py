"""Running a batch: plan, hand the remaining recordings to an executor, collect, tabulate.

The runner is the only place that sees the whole batch. It never processes a recording itself:
every recording goes through :func:`~emgspasm.batch.worker.run_task` on the chosen executor, so
a local run and a cluster run differ only in where that function is called.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from .. import __version__
from ..config import DetectorConfig, profile
from ..errors import ConfigError, RecordingError
from ..sinks.episode_log import LOG_FORMATS
from .executors import Executor, make_executor
from .files import append_line, make_out_dir
from .plan import BATCH_LOG, COHORT_TABLE, ReadOptions, Task, config_hash, expand_inputs, plan_batch
from .summary import RecordingSummary
from .table import CohortRow, write_cohort_table
from .worker import error_message, run_task, write_summary

EXIT_OK = 0
"""Every recording of the batch has a result (processed now or reused)."""
EXIT_FAILED = 2
"""At least one recording failed or was not reached; the others have their results."""


@dataclass
class BatchReport:
    """How a batch ended: one row per recording, in the order they were named."""

    rows: list[CohortRow]
    out_dir: Path
    table: Path
    where: str = ""
    processed: int = 0
    hours_processed: float = 0.0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def reused(self) -> int:
        return sum(1 for r in self.rows if r.reused)

    @property
    def failed(self) -> list[CohortRow]:
        return [r for r in self.rows if r.summary is not None and not r.summary.ok]

    @property
    def pending(self) -> int:
        return sum(1 for r in self.rows if r.summary is None)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if not self.failed and not self.pending else EXIT_FAILED

    def lines(self) -> list[str]:
        """A short account for a person: counts, signal processed, where the table is."""
        n = len(self.rows)
        speed = ""
        if self.processed:
            speed = f"; {self.hours_processed:.2f} h of signal in {self.wall_s:.1f} s"
            if self.where:
                speed += f" on {self.where}"
        out = [
            f"{n} recording(s): {self.processed - len(self.failed)} processed, "
            f"{self.reused} already done, {len(self.failed)} failed"
            + (f", {self.pending} not reached" if self.pending else "")
            + speed
        ]
        out += [f"  failed: {r.file}: {r.summary.error}" for r in self.failed if r.summary]
        out.append(f"cohort table: {self.table}")
        return out


def run_batch(
    inputs: Sequence[str],
    out_dir: str | os.PathLike[str],
    config: DetectorConfig | None = None,
    *,
    reading: ReadOptions | None = None,
    log_format: str = "csv",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    executor: Executor | None = None,
    progress: bool = False,
    stream: IO[str] | None = None,
    on_result: Callable[[CohortRow], None] | None = None,
) -> BatchReport:
    """Process every recording named by ``inputs`` (paths or glob patterns) into ``out_dir``.

    Per recording: the episode log and summary (see :func:`~emgspasm.batch.process_recording`);
    for the batch: ``cohort.csv`` and a line per recording in ``batch.log``. Recordings already
    done with the same file and configuration are reused unless ``force``. ``workers`` sizes the
    local process pool (default: one per core); ``scheduler`` sends the work to a Dask cluster
    instead; ``executor`` overrides both. ``progress`` shows a bar on ``stream``, where each
    failure is also reported in one line. ``on_result`` sees each recording as it finishes.
    A KeyboardInterrupt (Ctrl-C) stops the workers, writes the table with the recordings not
    reached as ``pending`` and propagates; a later run picks up where this one stopped.
    """
    config = config or profile("night")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"episode log format must be csv or jsonl, not {log_format!r}")
    executor = executor or make_executor(workers, scheduler)
    try:
        out = make_out_dir(out_dir)
    except OSError as exc:
        raise RecordingError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
    paths, notes = expand_inputs(inputs, out)
    if not paths:
        raise ConfigError("no recordings to process" + (f" ({'; '.join(notes)})" if notes else ""))
    planned = plan_batch(paths, out, config, reading=reading, log_format=log_format, force=force)
    rows = [CohortRow(p.display, p.task.name, p.done, reused=p.done is not None) for p in planned]
    by_name = {p.task.name: row for p, row in zip(planned, rows, strict=True)}
    todo = [p.task for p in planned if p.done is None]
    report = BatchReport(rows=rows, out_dir=out, table=out / COHORT_TABLE, notes=notes)
    log = out / BATCH_LOG
    try:
        _log(
            log,
            f"start: {len(rows)} recording(s), {len(rows) - len(todo)} already done, "
            f"profile {config.profile}, config {config_hash(config)}, "
            f"emgspasm {__version__}",
        )
    except OSError as exc:
        raise RecordingError(f"cannot write into {out}: {exc.strerror}") from exc

    bar = None

    def say(line: str) -> None:
        if bar is not None:
            bar.write(line, file=stream)
        elif stream is not None:
            print(line, file=stream, flush=True)

    for note in notes:
        say(f"emgspasm batch: {note}")
    started = time.perf_counter()
    try:
        if todo:
            with executor:
                report.where = executor.where
                if progress and stream is not None:
                    bar = _bar(stream, len(rows), len(rows) - len(todo))
                with contextlib.closing(executor.run(run_task, todo)) as outcomes:
                    for task, outcome in outcomes:
                        row = by_name[task.name]
                        row.summary = summary = _summary_of(task, outcome)
                        report.processed += 1
                        report.hours_processed += (summary.duration_s or 0.0) / 3600.0
                        report.wall_s = time.perf_counter() - started
                        _log(log, _log_line(row))
                        if not summary.ok:
                            say(f"emgspasm batch: {row.file}: {summary.error}")
                        if bar is not None:
                            bar.set_postfix_str(_rate(report), refresh=False)
                            bar.update(1)
                        if on_result is not None:
                            on_result(row)
    except KeyboardInterrupt:
        report.wall_s = time.perf_counter() - started
        _finish(report, log, "interrupted")
        raise
    finally:
        if bar is not None:
            bar.close()
    report.wall_s = time.perf_counter() - started
    _finish(report, log, "end")
    return report


def _summary_of(task: Task, outcome: RecordingSummary | BaseException) -> RecordingSummary:
    """The worker's summary, or one that says why the worker gave none (and is written)."""
    if isinstance(outcome, RecordingSummary):
        return outcome
    summary = RecordingSummary(
        recording=task.path,
        name=task.name,
        error=f"worker failed: {error_message(outcome, task.path)}",
        profile=task.config.profile,
        config_hash=config_hash(task.config),
        config=task.config.to_dict(),
        reading=task.reading.to_dict(),
        emgspasm_version=__version__,
        processed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    with contextlib.suppress(OSError):
        write_summary(task.out_dir, summary)
    return summary


def _finish(report: BatchReport, log: Path, how: str) -> None:
    write_cohort_table(report.table, report.rows)
    with contextlib.suppress(OSError):
        _log(
            log,
            f"{how}: {report.processed} processed, {report.reused} reused, "
            f"{len(report.failed)} failed, {report.pending} not reached",
        )


def _log(path: Path, line: str) -> None:
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    append_line(path, f"{stamp} {line}")


def _log_line(row: CohortRow) -> str:
    s = row.summary
    assert s is not None
    if not s.ok:
        return f"error {row.file}: {s.error}"
    return (
        f"ok {row.file}: {s.duration_s or 0:.1f} s, {s.spasms} spasm(s), "
        f"{s.fasciculations} fasciculation(s), {s.elapsed_s or 0:.1f} s to process"
    )


def _rate(report: BatchReport) -> str:
    h = report.hours_processed
    speed = h * 3600.0 / report.wall_s if report.wall_s > 0 else 0.0
    return f"{h:.2f} h signal, {speed:.0f}x real time"


def _bar(stream: IO[str], total: int, initial: int):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="rec",
        desc="recordings",
        file=stream,
        dynamic_ncols=True,
        smoothing=0.0,
        mininterval=0.5,
    )
