"""Acquisition and detection for the live view, in a thread of their own.

The worker runs its own asyncio event loop in a thread (Bluetooth sources are asyncio async
iterators) and for every Frame: the Detector, the display tap, the sinks (episode log), then
one :class:`Update` onto a thread-safe queue. It never waits on the window: the queue is
unbounded and putting onto it does not block; the window takes everything waiting whenever it
redraws (:meth:`LiveWorker.drain`). Pausing the display does not pause this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..config import DetectorConfig
from ..detect import Detector
from ..errors import EmgSpasmError
from ..frames import Annotation, Episode, Frame
from .log import Sink
from .sources import FAILED, LiveSource, SourceStatus, read_status
from .tap import DisplayBlock, DisplayTap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Update:
    """What one Frame brought: display blocks, final episodes, the spasms still open.

    ``samples`` is the number of samples the worker has taken from the source so far and
    ``arrived`` the host time (``time.monotonic``) the Frame was taken.
    """

    blocks: tuple[DisplayBlock, ...]
    episodes: tuple[Episode, ...]
    ongoing: tuple[Episode, ...]
    samples: int
    arrived: float
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finished:
    """The stream has ended (``error`` says why when it was not the source's normal end)."""

    error: str | None = None


class LiveWorker:
    """Source -> Detector -> display tap and sinks, in a thread with its own event loop.

    ``source`` is a :class:`~.sources.LiveSource`; ``sinks`` (:class:`~.log.Sink`) take final
    episodes and markers, every Frame too when they have ``write(frame)`` (a recorder), and the
    spasms still going on after each Frame when they have ``note_ongoing`` (an LSL outlet);
    :meth:`stop` closes them. Start with :meth:`start`; the window calls :meth:`drain` to take
    the queued :class:`Update` and :class:`Finished` messages.
    """

    def __init__(
        self,
        source: LiveSource,
        config: DetectorConfig,
        sinks: Sequence[Sink] = (),
        name: str = "source",
    ) -> None:
        self.source = source
        self.config = config
        self.sinks = list(sinks)
        self._frame_sinks = [s for s in self.sinks if callable(getattr(s, "write", None))]
        self._ongoing_sinks = [s for s in self.sinks if callable(getattr(s, "note_ongoing", None))]
        self.name = name
        self.detector = Detector(config)
        self.tap = DisplayTap(self.detector)
        self._queue: queue.SimpleQueue[Update | Finished] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._sink_lock = threading.Lock()
        self.samples_in = 0
        """Samples taken from the source (each went through the Detector and the tap)."""
        self.frames_in = 0
        self.episodes: list[Episode] = []
        self.error: str | None = None
        self.exception: Exception | None = None
        """The exception that stopped the source, if one did (re-raised by the caller)."""
        self.finished = threading.Event()
        self.fs: float | None = None

    # -- control (any thread) -------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._thread_main, name="emgspasm-live", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop acquiring, flush the Detector into the sinks, close them; wait for the thread."""
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._sink_lock:
            for sink in self.sinks:
                with contextlib.suppress(Exception):
                    sink.close()
            self.sinks = []
            self._frame_sinks = []
            self._ongoing_sinks = []

    def annotate(self, annotation: Annotation) -> None:
        """Hand a marker to the sinks (thread-safe; also after the stream has ended)."""
        with self._sink_lock:
            for sink in self.sinks:
                sink.annotate(annotation)

    def drain(self) -> list[Update | Finished]:
        """Everything queued since the last call, oldest first (never blocks)."""
        out: list[Update | Finished] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    @property
    def status(self) -> SourceStatus:
        """The source's current status (read without locking: status objects are replaced,
        never changed)."""
        status = read_status(getattr(self.source, "status", None), self.name)
        if self.error and status.state != FAILED:
            status = replace(status, state=FAILED, message=self.error)
        return status

    # -- the thread ------------------------------------------------------------------------------

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._task = loop.create_task(self._run())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(self._task)
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self.finished.set()

    async def _run(self) -> None:
        error: str | None = None
        try:
            async for frame in self.source:
                self._take(frame)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # shown in the status bar; the window stays open
            error = str(exc) or type(exc).__name__
            self.exception = exc
            if isinstance(exc, EmgSpasmError):  # a user's situation, said in one line
                logger.info("live source stopped: %s", exc)
            else:
                logger.exception("live source stopped")
        finally:
            close = getattr(self.source, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(asyncio.ensure_future(close()))
            self._finish(error)

    def _take(self, frame: Frame) -> None:
        arrived = time.monotonic()
        if self.fs is None:
            self.fs = frame.fs
            self._set_fs(frame.fs)
            self._open_streams(frame)
        if self._frame_sinks:
            with self._sink_lock:
                for sink in self._frame_sinks:
                    sink.write(frame)  # type: ignore[attr-defined]
        episodes = self.detector.process(frame)
        if self._ongoing_sinks:
            with self._sink_lock:
                for sink in self._ongoing_sinks:
                    sink.note_ongoing(self.detector.ongoing)  # type: ignore[attr-defined]
        blocks = self.tap.process(frame)
        self.samples_in += frame.n
        self.frames_in += 1
        self._deliver(episodes)
        self._queue.put(
            Update(
                tuple(blocks),
                tuple(episodes),
                tuple(self.detector.ongoing),
                self.samples_in,
                arrived,
                tuple(frame.channels),
            )
        )

    def _set_fs(self, fs: float) -> None:
        with self._sink_lock:
            for sink in self.sinks:
                if hasattr(sink, "fs"):
                    sink.fs = fs  # type: ignore[attr-defined]

    def _open_streams(self, frame: Frame) -> None:
        """Open the sinks that publish a stream (``open(fs, channels, units)``: an LSL outlet)
        with the first Frame's layout and the source's units, when it says them."""
        unit = self.status.units
        units = (unit,) * len(frame.channels) if unit else None
        with self._sink_lock:
            for sink in self._ongoing_sinks:
                opener = getattr(sink, "open", None)
                if callable(opener):
                    opener(frame.fs, frame.channels, units)

    def _deliver(self, episodes: list[Episode]) -> None:
        if not episodes:
            return
        self.episodes.extend(episodes)
        with self._sink_lock:
            for sink in self.sinks:
                sink.add_episodes(episodes)

    def _finish(self, error: str | None) -> None:
        """End of stream: close what the Detector holds open, tell the window."""
        self.error = error
        try:
            final = self.detector.flush() if self.detector.fs is not None else []
        except Exception as exc:  # pragma: no cover - defensive
            final = []
            self.error = self.error or str(exc)
        self._deliver(final)
        self._queue.put(
            Update((), tuple(final), (), self.samples_in, time.monotonic(), self.detector.channels)
        )
        self._queue.put(Finished(self.error))
