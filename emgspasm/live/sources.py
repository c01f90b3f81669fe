"""Sources the live view can show: anything that is an async iterator of Frames with a status.

A live source is deliberately a small contract (:class:`LiveSource`) so that the Bluetooth
client (:class:`emgspasm.sources.ble.client.BleSource`), a file replay and the simulated sensor
plug in alike:

- ``async for frame in source`` yields Frames in stream order (``gap_before`` where samples were
  lost);
- ``source.status`` is an immutable status object, replaced (never changed) as things happen, so
  the window can read it from another thread without locking. It is either a
  :class:`SourceStatus` or anything with the same attribute names (a Bluetooth ``LinkStatus``
  is one: ``state``, ``device_name``, ``fs``, ``battery``, ``loss_percent``, ``flags``);
  :func:`read_status` turns either into a :class:`SourceStatus`;
- an optional ``async close()`` is awaited when the view stops.

The file replay and the simulated sensor pace their Frames by the wall clock (``speed`` times
real time), handing out each block once its last sample would have been measured, as a sensor
does.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import DeviceError
from ..frames import Frame
from ..recording import RecordingReader

CONNECTING = "connecting"
STREAMING = "streaming"
RECONNECTING = "reconnecting"
ENDED = "ended"
"""The source has no more data (a replay reached the end of its file)."""
FAILED = "failed"
CLOSED = "closed"

BLOCK_S = 0.05
"""Wall-clock seconds of signal per Frame a paced source hands out (a sensor sends about 20
packets a second)."""


@dataclass(frozen=True)
class SourceStatus:
    """What the status bar shows about a source.

    ``loss_percent`` is samples lost per sample due (None: not known); ``battery`` is percent
    (None: the source has none, e.g. a file). ``flags`` are the device's latest status flags
    (``saturated``, ``lead_off``, ...). ``samples`` counts samples handed out so far.
    """

    source: str
    state: str = CONNECTING
    fs: float | None = None
    channels: tuple[str, ...] = ()
    units: str | None = None
    loss_percent: float | None = None
    battery: int | None = None
    flags: frozenset[str] = frozenset()
    message: str = ""
    samples: int = 0


def read_status(status: Any, name: str = "source") -> SourceStatus:
    """Any source's status as a :class:`SourceStatus` (attributes it lacks stay unknown).

    ``name`` describes the source when the status does not (a Bluetooth status names the
    device it is connected to, once it is).
    """
    if isinstance(status, SourceStatus):
        return status
    state = getattr(status, "state", STREAMING)
    state = str(getattr(state, "value", state))
    device = getattr(status, "device_name", None) or getattr(status, "device_address", None)
    stats = getattr(status, "stats", None)
    loss = getattr(status, "loss_percent", None)
    battery = getattr(status, "battery", None)
    return SourceStatus(
        source=f"{name} {device}" if device and device not in name else name,
        state=state,
        fs=getattr(status, "fs", None),
        channels=tuple(getattr(status, "channels", ()) or ()),
        units=getattr(status, "units", None),
        loss_percent=float(loss) if loss is not None else None,
        battery=int(battery) if battery is not None else None,
        flags=frozenset(getattr(status, "flags", ()) or ()),
        message=str(getattr(status, "message", "") or ""),
        samples=int(getattr(stats, "samples_received", 0) or 0),
    )


@runtime_checkable
class LiveSource(Protocol):
    """An async iterator of Frames with a ``status`` (see the module doc)."""

    @property
    def status(self) -> Any: ...

    def __aiter__(self) -> AsyncIterator[Frame]: ...


class PacedSource:
    """Frames from a blocking iterator, handed out at ``speed`` times real time.

    ``speed`` 0 hands them out as fast as they come (yielding to the event loop in between).
    Subclasses provide :meth:`_open` (called in a worker thread of the event loop, so slow
    preparation does not stall it) and set the description.
    """

    def __init__(self, name: str, speed: float = 1.0) -> None:
        if not speed >= 0:
            raise ValueError("speed must be 0 (as fast as possible) or positive")
        self.speed = float(speed)
        self._status = SourceStatus(source=name, loss_percent=0.0)
        self.samples_out = 0
        """Samples handed out so far (to check that none is lost downstream)."""
        self.samples_lost = 0
        self._closing = False

    @property
    def status(self) -> SourceStatus:
        return self._status

    def _set(self, **changes: Any) -> None:
        self._status = replace(self._status, **changes)

    def _open(self) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def block_size(self, fs: float) -> int:
        """Samples per Frame: :data:`BLOCK_S` of wall-clock time at this speed (1 s of signal
        when running as fast as possible)."""
        seconds = BLOCK_S * self.speed if self.speed > 0 else 1.0
        return max(1, int(round(seconds * fs)))

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self.frames()

    async def frames(self) -> AsyncIterator[Frame]:
        """The Frames, paced; the status says ``streaming`` while they flow, then ``ended``."""
        try:
            frames = await asyncio.to_thread(self._open)
        except Exception as exc:
            self._set(state=FAILED, message=str(exc))
            raise
        t0 = time.monotonic()
        first: int | None = None
        ended = False
        try:
            for frame in frames:
                if self._closing:
                    break
                if first is None:
                    first = frame.start
                    self._set(state=STREAMING, fs=frame.fs, channels=tuple(frame.channels))
                if self.speed > 0:
                    due = t0 + (frame.stop - first) / frame.fs / self.speed
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                else:
                    await asyncio.sleep(0)
                self.samples_out += frame.n
                self.samples_lost += frame.gap_before
                due_samples = self.samples_out + self.samples_lost
                self._set(
                    samples=self.samples_out,
                    loss_percent=100.0 * self.samples_lost / due_samples if due_samples else 0.0,
                )
                yield frame
            else:
                ended = True
        finally:
            # Closed (or cancelled) before the end, or ran to the end of its data.
            self._set(state=ENDED if ended else CLOSED)

    async def close(self) -> None:
        """Stop handing out Frames."""
        self._closing = True


class ReplaySource(PacedSource):
    """A recording file played back at ``speed`` times real time (0: as fast as possible).

    The file is opened here, so a missing or unreadable file fails before any window opens.
    Gaps in the file count as lost samples; there is no battery.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        speed: float = 1.0,
        *,
        format: str | None = None,
        reader: RecordingReader | None = None,
    ) -> None:
        from ..io import open_recording

        how = f"{speed:g}x" if speed > 0 else "as fast as possible"
        super().__init__(f"replay {Path(path).name} ({how})", speed)
        self.reader = reader if reader is not None else open_recording(path, format)
        header = self.reader.header
        units = header.units[0] if len(set(header.units)) == 1 else None
        self._set(fs=header.fs, channels=tuple(header.channels), units=units)

    def _open(self) -> Iterator[Frame]:
        return iter(self.reader.frames(self.block_size(self.reader.header.fs)))


class SimulatedSensor(PacedSource):
    """A simulated sensor: the surface-EMG simulator played out in real time.

    The simulator renders ``segment_s`` seconds at a time (a new seed for each segment) ahead
    of the stream, and the sample index runs on from one segment to the next, so the sensor
    streams until it is closed, or for ``duration_s`` seconds when given. The first segment
    takes a moment to render: the status says ``connecting`` meanwhile, as a real sensor would.
    """

    def __init__(
        self,
        scenario: str = "night",
        *,
        fs: float = 2000.0,
        channels: int = 2,
        seed: int = 7,
        mains_hz: float = 50.0,
        speed: float = 1.0,
        segment_s: float = 300.0,
        duration_s: float | None = None,
    ) -> None:
        super().__init__(f"simulated sensor ({scenario}, {channels} ch)", speed)
        self.scenario = scenario
        self.fs = float(fs)
        self.n_channels = int(channels)
        self.seed = int(seed)
        self.mains_hz = float(mains_hz)
        self.segment_s = float(segment_s)
        self.duration_s = duration_s
        self._set(fs=self.fs, units="uV")

    def _render(self, k: int, seconds: float):
        from ..sources.simulator import simulate

        return simulate(
            self.scenario,
            seconds,
            fs=self.fs,
            seed=self.seed + k,
            channels=self.n_channels,
            mains_hz=self.mains_hz,
        )

    def _lengths(self) -> Iterator[float]:
        remaining = self.duration_s
        while remaining is None or remaining > 0:
            seconds = self.segment_s if remaining is None else min(self.segment_s, remaining)
            yield seconds
            if remaining is not None:
                remaining -= seconds

    def _segments(self, pool: ThreadPoolExecutor) -> Iterator[Frame]:
        """Frames of one segment after another; the next segment renders while this one
        streams."""
        block = self.block_size(self.fs)
        lengths = self._lengths()
        pending: Future | None = None
        first = next(lengths, None)
        if first is not None:
            pending = pool.submit(self._render, 0, first)
        start = 0
        k = 0
        while pending is not None:
            rec = pending.result()
            k += 1
            following = next(lengths, None)
            pending = pool.submit(self._render, k, following) if following else None
            for frame in rec.frames(block):
                yield Frame(frame.samples, start + frame.start, frame.fs, frame.channels)
            start += rec.samples.shape[0]

    def _open(self) -> Iterator[Frame]:
        # The first segment renders here (in a thread of the event loop), later ones ahead of
        # the stream in a thread of their own.
        pool = ThreadPoolExecutor(1, thread_name_prefix="emgspasm-simulator")
        frames = self._segments(pool)
        try:
            first = next(frames)
        except BaseException:
            pool.shutdown(wait=False)
            raise
        return _prepend(first, frames, pool)


def _prepend(first: Frame, rest: Iterator[Frame], pool: ThreadPoolExecutor) -> Iterator[Frame]:
    try:
        yield first
        yield from rest
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def bluetooth_source(device: str) -> LiveSource:
    """The Bluetooth client for ``device`` (a name or an address).

    Raises DeviceError when the Bluetooth client is not available in this installation.
    """
    try:
        from ..sources.ble.client import BleSource
    except ImportError as exc:
        raise DeviceError(
            f"--device is not available yet: the Bluetooth client cannot be loaded ({exc}); "
            "use --replay FILE or the simulated sensor (no option)"
        ) from exc
    return BleSource(device)  # type: ignore[return-value]
