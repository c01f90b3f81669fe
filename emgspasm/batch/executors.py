"""Where the per-recording function runs: a local process pool, or an existing Dask cluster.

Both executors take the same function and the same tasks and yield ``(task, outcome)`` pairs as
recordings finish (in completion order), where ``outcome`` is the function's result or the
exception that kept it from giving one (a worker process that died, a Dask worker lost). At most
two tasks per worker are handed out at a time, so a lost worker costs few recordings and an
interrupted batch has little to take back.

Dask is imported only by :class:`DaskExecutor`, i.e. only when a scheduler address is given, and
it only connects to that scheduler: no cluster is started and nothing listens on this machine.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol, TypeVar

from ..errors import EmgSpasmError
from .plan import Task
from .worker import init_worker_process

R = TypeVar("R")
IN_FLIGHT_PER_WORKER = 2


class BatchError(EmgSpasmError):
    """The batch itself cannot run (a scheduler that cannot be reached, a bad worker count)."""

    exit_code = 1


class Executor(Protocol):
    """Runs ``fn`` over tasks somewhere and yields each task with its result or exception.

    Used as a context manager: entering starts the workers (or connects to them), leaving ends
    them; leaving on an exception (Ctrl-C) stops the work in progress.
    """

    workers: int
    where: str

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(
        self, fn: Callable[[Task], R], tasks: Iterable[Task]
    ) -> Iterator[tuple[Task, R | BaseException]]: ...


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalPool:
    """A pool of worker processes on this machine (default: one per core).

    Processes start from a fork server that has already imported the worker (cheap to start,
    and safe with the threads of the parent) where the platform has one, otherwise they are
    spawned. When a worker process dies (a crash in native code, the out-of-memory killer), a new
    pool takes over and the recordings that were in the old one are run again one at a time, so
    that only the recording that kills a worker is reported as failed. Leaving on an exception
    (Ctrl-C) ends the workers at once; the recording each was writing leaves no file behind.
    """

    def __init__(self, workers: int | None = None, *, threads: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise BatchError(f"--workers must be at least 1, not {workers}")
        self.workers = workers or cores()
        self.threads = threads or max(1, cores() // self.workers)
        """Threads each worker's detector may split a recording's channels over (default: the
        cores shared out among the workers, so parallel recordings do not oversubscribe)."""
        self.where = f"{self.workers} local worker process(es)"
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        methods = multiprocessing.get_all_start_methods()
        if "forkserver" in methods:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["emgspasm.batch.worker"])
        else:  # pragma: no cover - Windows
            ctx = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            self.workers, mp_context=ctx, initializer=init_worker_process, initargs=(self.threads,)
        )

    def __enter__(self) -> LocalPool:
        self._pool = self._new_pool()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if exc_type is None:
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            _terminate(pool)

    def run(
        self, fn: Callable[[Task], R], tasks: Iterable[Task]
    ) -> Iterator[tuple[Task, R | BaseException]]:
        if self._pool is None:
            raise RuntimeError("enter the executor (with ...) before running tasks")
        todo = deque(tasks)
        suspects: deque[Task] = deque()
        running: dict[Future[R], tuple[Task, bool]] = {}
        while todo or suspects or running:
            if suspects:
                # After a worker died, the recordings that were in its pool run one at a time,
                # so the one that kills a worker is the only one reported.
                if not running:
                    task = suspects.popleft()
                    running[self._pool.submit(fn, task)] = (task, True)
            else:
                while todo and len(running) < IN_FLIGHT_PER_WORKER * self.workers:
                    task = todo.popleft()
                    running[self._pool.submit(fn, task)] = (task, False)
            wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in [f for f in running if f.done()]:
                task, alone = running.pop(future)
                try:
                    outcome: R | BaseException = future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    if not alone:
                        suspects.append(task)
                        continue
                    outcome = exc
                except Exception as exc:
                    outcome = exc
                yield task, outcome
            if broken:
                # Every other task of a broken pool fails with it: wait for them, keep what
                # finished before the break, and suspect the rest.
                for future in list(running):
                    task, alone = running.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        suspects.append(task)
                        continue
                    except Exception as exc:
                        outcome = exc
                    yield task, outcome
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = self._new_pool()


def _terminate(pool: ProcessPoolExecutor) -> None:
    """End a pool's worker processes now (SIGTERM: they unwind and remove temporary files)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=10)
        if p.is_alive():  # pragma: no cover - a worker stuck in native code
            p.kill()
            p.join()


class DaskExecutor:
    """Tasks on an existing Dask distributed cluster, reached through its scheduler address.

    The workers call the same function as local processes do; they need emgspasm installed and
    must see the recordings and the output folder under the same paths (a shared file system).
    Dask's own retries apply (a task whose worker died is retried elsewhere; after repeated
    losses it is reported as failed). Interrupting cancels the recordings not yet started;
    those already running finish and write complete results.
    """

    def __init__(self, address: str, *, timeout_s: float = 15.0) -> None:
        if not address or "://" not in address:
            raise BatchError(f"scheduler address must look like tcp://host:port, not {address!r}")
        self.address = address
        self.timeout_s = timeout_s
        self.workers = 0
        self.where = f"Dask cluster at {address}"
        self._client = None
        self._running: dict[object, Task] = {}

    def __enter__(self) -> DaskExecutor:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - a dependency
            raise BatchError("--scheduler needs dask[distributed] installed") from exc
        try:
            client = Client(self.address, timeout=self.timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise BatchError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
        self._client = client
        self.workers = sum(client.nthreads().values())
        self.where = f"Dask cluster at {self.address} ({self.workers} worker thread(s))"
        return self

    def __exit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if self._running:
                client.cancel(list(self._running))
        finally:
            self._running.clear()
            client.close()

    def run(
        self, fn: Callable[[Task], R], tasks: Iterable[Task]
    ) -> Iterator[tuple[Task, R | BaseException]]:
        client = self._client
        if client is None:
            raise RuntimeError("enter the executor (with ...) before running tasks")
        from distributed import as_completed

        todo = deque(tasks)
        running = self._running
        limit = IN_FLIGHT_PER_WORKER * max(1, self.workers)
        stamp = uuid.uuid4().hex[:8]
        queue = as_completed(loop=client.loop)

        def submit() -> None:
            task = todo.popleft()
            future = client.submit(fn, task, key=f"emgspasm-batch-{task.name}-{stamp}", pure=False)
            running[future] = task
            queue.add(future)

        while todo and len(running) < limit:
            submit()
        for future in queue:
            task = running.pop(future)
            try:
                outcome: R | BaseException = future.result()
            except Exception as exc:
                outcome = exc
            yield task, outcome
            while todo and len(running) < limit:
                submit()


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """A Dask executor when a scheduler address is given, otherwise a local process pool."""
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalPool(workers)
