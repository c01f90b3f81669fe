"""Many recordings at once: ``emgspasm batch FILES_OR_GLOBS... --out DIR``.

Every recording goes through one function, :func:`process_recording` (the same reader, detector
and episode-log writer as ``emgspasm detect``), run either by a pool of local worker processes
(default: one per core, ``--workers N``) or on an existing Dask distributed cluster
(``--scheduler tcp://host:port``; Dask is imported only then, and only connects: nothing listens
on this machine). With a cluster, the workers need emgspasm installed and must see the
recordings and the output folder under the same paths.

Output folder (created owner-only; every file 0o600, written to a temporary file beside it and
moved into place, so an interrupted batch never leaves half a result):

``<name>.episodes.csv``  the episode log, byte-identical to ``emgspasm detect``'s (``.jsonl``
                         with ``--format jsonl``); ``<name>`` is the file name without extension,
                         with a short path hash added when two recordings share one
``<name>.summary.json``  duration, channels, rate, mains, spasms (count, per hour, mean
                         duration), fasciculations (count, per minute), flat/gap/clipped shares,
                         configuration and its hash, emgspasm version, source size and mtime,
                         and the error if the recording failed
``cohort.csv``           one row per recording (see :mod:`emgspasm.batch.table`)
``batch.log``            one line per recording as it finishes, failures naming file and error

A re-run skips recordings whose summary shows success with the same file (size and
modification time), configuration, reading options and emgspasm version (see
:mod:`emgspasm.batch.plan`); ``--force`` processes them again. Failed recordings are always
retried.

Exit codes of ``emgspasm batch``: 0 every recording has a result; 2 at least one recording
failed (the others have theirs; see ``cohort.csv``); 1 the batch could not run (e.g. the
scheduler cannot be reached); 3 a configuration error; 130 interrupted (finished recordings are
kept, a re-run does the rest).
"""

from .executors import BatchError, DaskExecutor, Executor, LocalPool, make_executor
from .plan import ReadOptions, Task, config_hash, plan_batch
from .runner import EXIT_FAILED, EXIT_OK, BatchReport, run_batch
from .summary import RecordingSummary, read_summary
from .table import COLUMNS as COHORT_COLUMNS
from .table import CohortRow
from .worker import process_recording, run_task

__all__ = [
    "COHORT_COLUMNS",
    "EXIT_FAILED",
    "EXIT_OK",
    "BatchError",
    "BatchReport",
    "CohortRow",
    "DaskExecutor",
    "Executor",
    "LocalPool",
    "ReadOptions",
    "RecordingSummary",
    "Task",
    "config_hash",
    "make_executor",
    "plan_batch",
    "process_recording",
    "read_summary",
    "run_batch",
    "run_task",
]
