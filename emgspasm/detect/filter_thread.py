"""The thread that runs the filters a block ahead of detection, for large frames.

Waking a sleeping thread costs tens of microseconds on a virtual machine (its core has to be
woken too), as much as filtering a few thousand samples. Frames replayed from a file come back
to back, so after each job the thread polls for the next one for about a millisecond, without
the GIL, before it goes to sleep; and a job is announced from a kernel that has let the GIL go,
so the thread can take it up at once. A live stream's small frames never come here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ..dsp.handoff import await_change

SPIN_POLLS = 40_000
"""Polls (about 25 ns each) for the next job before the thread sleeps."""


class FilterThread:
    """One thread that runs a job at a time for one Detector at a time.

    A Detector :meth:`claim` s it (or, if another Detector has it, goes on alone) and hands it
    a job: :meth:`prepare` it, publish the number that returns (if not 0) in :attr:`posted` from
    a kernel, which has let the GIL go, then call :meth:`announced`. When the job has published
    all its results, the Detector :meth:`release` s the thread; if it stops before that, it
    releases it once the job is over.
    """

    def __init__(self) -> None:
        self.posted = np.zeros(1, np.int64)
        """The number of the last job announced."""
        self._done = np.zeros(1, np.int64)
        self._job: Callable[[], None] | None = None
        self._error: BaseException | None = None
        self._asleep = False
        self._wake = threading.Condition()
        self._owner = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="emgspasm-filters", daemon=True)
        self._thread.start()

    def claim(self) -> bool:
        """Whether this thread is now the caller's (until :meth:`release`)."""
        return self._owner.acquire(blocking=False)

    def release(self, wait: bool = False) -> None:
        """Give the thread back; with ``wait``, once its job is over (raising what stopped it,
        if anything did)."""
        try:
            if wait:
                self.finish()
        finally:
            self._owner.release()

    def prepare(self, job: Callable[[], None]) -> int:
        """Make ``job`` the next one. Returns the number to publish in :attr:`posted` that
        announces it, or 0 if the thread was asleep: it has been woken with the job already."""
        self._job = job
        number = int(self.posted[0]) + 1
        if not self._asleep:
            return number
        with self._wake:
            self.posted[0] = number
            self._wake.notify()
        return 0

    def announced(self) -> None:
        """Wake the thread in case it fell asleep just before its job was published."""
        with self._wake:
            self._wake.notify()

    def finish(self) -> None:
        """Wait until the last job is done; raise what stopped it, if anything did."""
        while not await_change(self._done, self.posted[0] - 1, SPIN_POLLS):
            if not self._thread.is_alive():  # pragma: no cover - its loop never returns
                raise RuntimeError("the filters' thread has stopped")
        error, self._error = self._error, None
        if error is not None:
            raise error

    def check(self) -> None:
        """Raise what stopped the last job, if it has stopped on an error."""
        if self._done[0] == self.posted[0] and self._error is not None:
            self.finish()

    def _serve(self) -> None:
        taken = 0
        while True:
            if not await_change(self.posted, taken, SPIN_POLLS):
                with self._wake:
                    self._asleep = True
                    while self.posted[0] == taken:
                        self._wake.wait()
                    self._asleep = False
            taken += 1
            job, self._job = self._job, None
            try:
                assert job is not None
                job()
            except BaseException as error:  # handed to the Detector, which raises it
                self._error = error
            self._done[0] = taken


_thread: FilterThread | None = None
_lock = threading.Lock()


def filter_thread() -> FilterThread:
    """The process's filter thread (started on first use)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = FilterThread()
        return _thread
