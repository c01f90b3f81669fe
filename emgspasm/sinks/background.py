"""Writing a recording on a thread of its own, so that a slow disk never holds up acquisition.

A live session receives notifications on its event loop and must keep doing so while the disk is
slow: a sync that stalls for seconds (a busy or worn SD card, a disk spinning up, a network file
system) would otherwise stop the loop, and with it the radio's notifications, for as long.
:class:`BackgroundRecorder` takes what a session hands a :class:`~.recorder.Recorder` (Frames,
episodes, marks) and returns at once; a writer thread hands the same calls, in the same order, to
the Recorder, which writes the BDF+ file and the episode log exactly as it does when called
directly.

Memory stays bounded: Frames waiting for the disk are limited to ``buffer_s`` seconds of samples.
If the disk falls that far behind, further Frames are not written until it catches up, and never
silently: their samples become a gap in the file (written as zeros, so nothing after them moves)
under a ``not written (disk too slow)`` annotation spanning them, are listed in
:attr:`BackgroundRecorder.unwritten` and counted in :attr:`BackgroundRecorder.samples_unwritten`.
The detector is not behind the buffer (the session runs it on every Frame), so episodes are still
found and logged; episodes and annotations are never dropped (they are small).

Slow-disk episodes are reported. A call of the Recorder that takes ``slow_s`` or longer (wall
clock) starts one; it ends when the writer has caught up (nothing left waiting). Each is listed in
:attr:`BackgroundRecorder.stalls` (:class:`DiskStall`) and annotated in the file where it began:
``disk slow: writes held up 4.2 s, up to 95 s of signal waited in memory``, spanning the samples
written meanwhile.

An error of the writer thread (a full disk, a file that cannot be written) stops the writing; it
is raised, once, by the next call the session makes, or by :meth:`BackgroundRecorder.close`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..frames import Annotation, Episode, Frame, Gap
from .recorder import Recorder

BUFFER_S = 600.0
"""Seconds of signal that may wait for the disk: ten minutes. At the largest stream a sensor here
sends (2 channels at 2 kHz, in 20 ms packets) that is about 20 MB, Frames included."""
SLOW_S = 1.0
"""A call of the Recorder taking this long (wall clock) starts a slow-disk episode: a record's
write and sync normally take milliseconds."""
WAKE_S = 0.05
"""How often the writer thread looks for work (wall clock). The session does not wake it for
each Frame (handing a thread every 20 ms packet costs more than writing it), only when the
buffer is half full."""
NOT_WRITTEN = "not written (disk too slow)"
"""Annotation over samples the full buffer could not take."""


@dataclass(frozen=True)
class DiskStall:
    """One slow-disk episode: from stream index ``start`` (the end of what was written when it
    began) to ``stop`` (the same when the writer had caught up). ``held_s``: wall-clock seconds
    spent in slow calls; ``longest_s``: the slowest call; ``caught_up_s``: wall-clock seconds
    from its start until nothing waited any more; ``peak_waiting``: the most samples that waited
    in memory meanwhile; ``unwritten``: samples not written for want of room, from the moment
    the writer last had nothing waiting until it caught up."""

    start: int
    stop: int
    held_s: float
    longest_s: float
    caught_up_s: float
    peak_waiting: int
    unwritten: int

    def describe(self, fs: float) -> str:
        """The annotation (and log line) for the episode."""
        text = (
            f"disk slow: writes held up {self.held_s:.1f} s, up to "
            f"{self.peak_waiting / fs:.0f} s of signal waited in memory"
        )
        if self.unwritten:
            text += f", {self.unwritten} samples not written"
        return text


@dataclass(frozen=True)
class Unwritten:
    """A run of samples the full buffer could not take: stream indices ``start`` to ``stop``
    (exclusive), ``samples`` of them received (the rest of the span was already a gap)."""

    start: int
    stop: int
    samples: int


class _Stall:
    """A slow-disk episode in progress (writer thread only)."""

    def __init__(self, start: int, began: float, unwritten: int) -> None:
        self.start = start
        self.began = began
        self.held_s = 0.0
        self.longest_s = 0.0
        self.peak_waiting = 0
        self.unwritten_at_start = unwritten


class BackgroundRecorder:
    """A :class:`~.recorder.Recorder` fed from the caller's thread and written by its own (see
    module doc). ``recorder`` is opened by the caller (so that its errors are raised at once).

    ``buffer_s``: seconds of samples that may wait for the disk; ``slow_s``: how long one call
    of the Recorder may take before it counts as a slow disk; ``clock``: the wall clock those are
    measured on.
    """

    def __init__(
        self,
        recorder: Recorder,
        *,
        buffer_s: float = BUFFER_S,
        slow_s: float = SLOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not buffer_s > 0 or not slow_s > 0:
            raise ValueError("buffer_s and slow_s must be positive")
        self.recorder = recorder
        self.fs = recorder.fs
        self.channels = recorder.channels
        self.buffer_s = buffer_s
        self.slow_s = slow_s
        self._clock = clock
        self._limit = max(1, round(buffer_s * self.fs))
        self.origin: int | None = None
        """Stream index of the file's first sample (known from the first Frame)."""
        self.stop = 0
        """Stream index one past the last sample handed over."""
        self.stalls: list[DiskStall] = []
        """The slow-disk episodes so far (appended by the writer thread as each ends)."""
        self.unwritten: list[Unwritten] = []
        """Runs of samples not written because the buffer was full."""
        self.samples_unwritten = 0
        """Samples not written because the buffer was full (received, then left out)."""
        self.peak_waiting = 0
        """The most samples that waited for the disk at any time."""
        self._items: deque[tuple[str, Any]] = deque()
        self._waiting = 0  # samples of the Frames not written yet (queued or being written)
        self._cond = threading.Condition()
        self._carry = 0  # samples left out (and gaps before them) since the last Frame queued
        self._overflowing = False
        self._error: BaseException | None = None
        self._error_raised = False
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"emgspasm-writer-{recorder.path.name}", daemon=True
        )
        self._thread.start()

    # -- what a session hands over (its thread) ------------------------------------------------

    def write(self, frame: Frame) -> None:
        """Queue a Frame for the file, or leave it out (reported) when the buffer is full."""
        self._check()
        if self.origin is None:
            self.origin = frame.start - frame.gap_before
        self.stop = frame.stop
        with self._cond:
            if self._waiting + frame.n > self._limit:
                self._leave_out(frame)
                return
            if self._carry:
                frame = Frame(
                    frame.samples,
                    frame.start,
                    frame.fs,
                    frame.channels,
                    frame.gap_before + self._carry,
                )
                self._carry = 0
            self._overflowing = False
            self._items.append(("write", frame))
            self._waiting += frame.n
            self.peak_waiting = max(self.peak_waiting, self._waiting)
            if 2 * self._waiting >= self._limit:
                self._cond.notify()

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        """Queue episodes for the log and the file (never left out)."""
        episodes = list(episodes)
        if episodes:
            self._put("episodes", episodes)

    def annotate(self, annotation: Annotation) -> None:
        """Queue an annotation (onset in stream seconds, as :meth:`Recorder.annotate`)."""
        self._put("annotate", annotation)

    def mark(self, index: int, text: str, length: int = 0, channel: str | None = None) -> None:
        """Queue an annotation of ``length`` samples from stream index ``index``."""
        self._put("mark", (index, text, length, channel))

    def close(self) -> None:
        """Write what waits, finish both files and end the thread (blocks until done); raises
        the writer's error if it was not raised before."""
        if not self._closed:
            self._closed = True
            if self._carry and self.origin is not None:
                # the last Frames were left out: the file still spans them, as a gap
                empty = self._empty_frame(self.stop, self._carry)
                self._carry = 0
                with self._cond:
                    self._items.append(("write", empty))
            self._put("close", None, check=False)
            self._thread.join()
        self._check()

    def __enter__(self) -> BackgroundRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- figures (complete once closed) -----------------------------------------------------

    @property
    def waiting_s(self) -> float:
        """Seconds of signal waiting for the disk now."""
        return self._waiting / self.fs

    @property
    def n_samples(self) -> int:
        """Samples the file spans, lost ones included."""
        return 0 if self.origin is None else self.stop - self.origin

    @property
    def samples_received(self) -> int:
        return self.recorder.samples_received

    @property
    def gaps(self) -> list[Gap]:
        return self.recorder.gaps

    @property
    def episodes(self) -> list[Episode]:
        return self.recorder.episodes

    @property
    def records(self) -> int:
        return self.recorder.records

    # -- the session's side ------------------------------------------------------------------

    def _check(self) -> None:
        """Raise the writer thread's error, once."""
        if self._error is not None and not self._error_raised:
            self._error_raised = True
            raise self._error

    def _put(self, kind: str, payload: Any, check: bool = True) -> None:
        if check:
            self._check()
        with self._cond:
            self._items.append((kind, payload))
            if kind == "close":
                self._cond.notify()

    def _leave_out(self, frame: Frame) -> None:
        """The buffer is full: the Frame's samples become part of the next gap (lock held)."""
        self._carry += frame.gap_before + frame.n
        self.samples_unwritten += frame.n
        if self._overflowing:
            last = self.unwritten[-1]
            self.unwritten[-1] = Unwritten(last.start, frame.stop, last.samples + frame.n)
        else:
            self._overflowing = True
            self.unwritten.append(Unwritten(frame.start, frame.stop, frame.n))

    def _empty_frame(self, start: int, gap: int) -> Frame:
        samples = np.empty((0, len(self.channels)), dtype=np.float32)
        return Frame(samples, start, self.fs, self.channels, gap_before=gap)

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        stall: _Stall | None = None
        marked = 0  # runs of left-out samples annotated so far
        unwritten_when_caught_up = 0  # samples left out before the writer last had nothing to do
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait(WAKE_S)
                kind, payload = self._items.popleft()
            if kind == "close":
                self._finish(stall, marked)
                return
            if self._error is not None:
                self._release(kind, payload)  # the file is broken: let the rest go
                continue
            written = self._written_stop()
            began = self._clock()
            try:
                self._apply(kind, payload)
                if kind == "write":
                    marked = self._mark_unwritten(marked)
            except BaseException as exc:  # reported by the session's next call
                self._error = exc
            took = self._clock() - began
            waiting = self._release(kind, payload)
            if took >= self.slow_s:
                if stall is None:  # what was left out while the writer was behind counts too
                    stall = _Stall(written, began, unwritten_when_caught_up)
                stall.held_s += took
                stall.longest_s = max(stall.longest_s, took)
            with self._cond:
                caught_up = not self._items
                if caught_up:
                    unwritten_when_caught_up = self.samples_unwritten
            if stall is None:
                continue
            stall.peak_waiting = max(stall.peak_waiting, waiting)
            if caught_up and self._error is None:  # nothing waits any more
                try:
                    self._end_stall(stall)
                except BaseException as exc:
                    self._error = exc
                stall = None

    def _finish(self, stall: _Stall | None, marked: int) -> None:
        """The last item: annotate what is still open and close the files."""
        if self._error is not None:
            try:
                self.recorder.close()
            except BaseException:  # noqa: BLE001 - the first error is the one reported
                pass
            return
        try:
            self._mark_unwritten(marked)
            if stall is not None:
                self._end_stall(stall)
            self.recorder.close()
        except BaseException as exc:  # reported by close()
            self._error = exc

    def _apply(self, kind: str, payload: Any) -> None:
        recorder = self.recorder
        if kind == "write":
            recorder.write(payload)
        elif kind == "episodes":
            recorder.add_episodes(payload)
        elif kind == "annotate":
            recorder.annotate(payload)
        elif kind == "mark":
            recorder.mark(*payload)

    def _release(self, kind: str, payload: Any) -> int:
        """Count a Frame as no longer waiting; returns the samples that waited until then (that
        Frame's included)."""
        with self._cond:
            waited = self._waiting
            if kind == "write":
                self._waiting -= payload.n
            return waited

    def _mark_unwritten(self, marked: int) -> int:
        """Annotate each run of left-out samples whose gap is now in the file (a Frame after it
        has been written); returns how many runs are annotated."""
        with self._cond:
            runs = self.unwritten[marked:]
        for run in runs:
            if run.stop > self.recorder.stop:
                break  # still growing, or its gap not written yet
            self.recorder.mark(
                run.start, f"{NOT_WRITTEN}: {run.samples} samples", run.stop - run.start
            )
            marked += 1
        return marked

    def _written_stop(self) -> int:
        return self.recorder.stop if self.recorder.origin is not None else (self.origin or 0)

    def _end_stall(self, stall: _Stall) -> None:
        done = DiskStall(
            start=stall.start,
            stop=self._written_stop(),
            held_s=stall.held_s,
            longest_s=stall.longest_s,
            caught_up_s=self._clock() - stall.began,
            peak_waiting=stall.peak_waiting,
            unwritten=self.samples_unwritten - stall.unwritten_at_start,
        )
        self.stalls.append(done)
        self.recorder.mark(done.start, done.describe(self.fs), done.stop - done.start)
