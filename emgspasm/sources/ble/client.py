"""A Bluetooth EMG sensor as an async source of Frames, kept alive across drops.

:class:`BleSource` finds the one device it was told to use (:mod:`.discovery`), connects with
bleak, tells which device it is (:mod:`.identify`), starts the stream (:mod:`.session`) and hands
out Frames; when the link drops it reconnects to the same address with exponential back-off
(:mod:`.backoff`) and continues the same recording: the sample index goes on, and the samples
missing across the drop become one gap (``gap_before``) whose length comes from the host clock
mapping (:mod:`.clock`, :mod:`.stitch`). Loss counts, battery, flags and state are published as
:class:`~.link_status.LinkStatus` by :attr:`BleSource.monitor`.

Typical use::

    async with BleSource(DeviceTarget(name="emgspasm-bridge")) as source:
        async for frame in source:
            detector.process(frame)
            print(source.status.state, source.status.loss_percent)

:attr:`BleSource.clock` maps any sample index to host time (``clock.host_time(index)``, in the
event loop's clock, ``time.monotonic()`` on a standard loop) with the device's drift absorbed.
:attr:`BleSource.resumptions` says where each reconnect continued the stream (the Frame that
starts there carries the gap across the drop), so a recorder can mark the drop at its place.

The notification callback does no work beyond stamping the host arrival time and putting the
bytes on a queue (never blocking); a separate task decodes, places and counts, so a slow
consumer never stalls the radio. That first queue needs no bound: the callbacks run on the event
loop, and the decoding task drains whatever they added each time the loop comes round to it.

Frames wait for the consumer in a queue bounded by ``max_queued_s`` seconds of samples. A
consumer that falls that far behind loses samples rather than the process growing without end:
further Frames are dropped, never silently. Their samples become part of the gap before the next
Frame handed out (so nothing after them moves), are counted in ``stats.overflow_samples_lost``,
logged, named in the link status message, and each such run is listed in
:attr:`BleSource.overflows` (where it starts and how many samples it dropped) for a recorder to
mark.

Errors reach the consumer of :meth:`BleSource.frames` as :class:`~emgspasm.errors.DeviceError`
(device not found, ambiguous name, connection failed after N attempts, gave up reconnecting,
device changed its stream on reconnect) or :class:`~emgspasm.errors.ProtocolError` (a device
that breaks its protocol while being identified). Notifications the decoder rejects mid-stream
(wrong length, bad checksum, garbage) carry no samples: each is counted in
``stats.decode_errors``, the latest reason is kept in :attr:`BleSource.last_rejection` and the
status message, they are logged (the first few, then a count at most once a minute) and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError

from ...errors import DeviceError, ProtocolError
from ...frames import Frame
from .backoff import ReconnectPolicy
from .clock import ClockMapping
from .discovery import DeviceNotFound, DeviceTarget, find_device
from .identify import ProfileOptions, identify_profile, same_stream
from .link_status import LinkMonitor, LinkState, LinkStats, LinkStatus
from .profiles import Decoder, DeviceProfile
from .session import DeviceSession
from .stitch import Placed, SessionStitcher

logger = logging.getLogger(__name__)

_RETRYABLE = (BleakError, asyncio.TimeoutError, OSError, EOFError)
_END = object()
MAX_QUEUED_S = 60.0
"""Seconds of samples the Frame queue holds before Frames are dropped (and reported)."""
REJECTIONS_LOGGED = 5
"""Rejected notifications logged one by one before they are only logged as counts."""
REJECTION_LOG_S = 60.0
"""Shortest time (event loop seconds) between two log lines counting rejected notifications."""


class _LinkLost(Exception):
    """The link dropped during setup (not an error of the device)."""


@dataclass(frozen=True)
class ConnectOptions:
    """Timing of finding and connecting.

    ``scan_timeout_s``: how long the first scan looks for the device (then DeviceError, not
    found). ``connect_timeout_s``: one connection attempt. ``connect_attempts``: attempts at the
    first connection before DeviceError. ``reconnect``: back-off and limit after a drop.
    ``ambiguity_s``: extra scan time to see whether a name is taken twice.
    ``service_uuids``: scan only for advertisements carrying one of these.
    """

    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 10.0
    connect_attempts: int = 3
    reconnect: ReconnectPolicy = ReconnectPolicy()
    ambiguity_s: float = 0.5
    service_uuids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Resumption:
    """Where a connection after a drop continued the stream.

    ``start``: stream index of its first sample (the Frame starting there carries the gap).
    ``gap``: samples missing just before it, ``estimated`` of them placed from the host clock
    (the rest known from the device's counters). ``host_time``: arrival of that first sample's
    packet, in the event loop's clock.
    """

    start: int
    gap: int
    estimated: int
    host_time: float


@dataclass(frozen=True)
class Overflow:
    """A run of Frames dropped because the consumer fell behind: stream indices ``start`` to
    ``stop`` (exclusive), ``samples`` of them received and dropped (the rest of the span was lost
    on the link and is counted there)."""

    start: int
    stop: int
    samples: int


@dataclass
class _Session:
    number: int
    profile: DeviceProfile
    decoder: Decoder


class BleSource:
    """Frames from one Bluetooth EMG sensor (see module doc).

    ``target``: the device (a :class:`DeviceTarget`, or a string taken as a name, or as an
    address when it looks like one). ``profile``: choices the device cannot tell
    (:class:`~.identify.ProfileOptions`). ``bridge_rate_hz``: sample rate to set on an emgspasm
    bridge. ``client_backend`` / ``scanner_backend``: bleak backend classes (None: the
    platform's; :mod:`.bumble_backend` for the in-process virtual radio).
    ``settle_packets`` / ``settle_s``: how many arrivals a reconnect gap is estimated from.
    ``max_queued_s``: seconds of samples waiting for the consumer before Frames are dropped
    (reported; see module doc).
    """

    def __init__(
        self,
        target: DeviceTarget | str,
        *,
        profile: ProfileOptions | None = None,
        connect: ConnectOptions | None = None,
        bridge_rate_hz: int | None = None,
        client_backend: type[BaseBleakClient] | None = None,
        scanner_backend: type[BaseBleakScanner] | None = None,
        settle_packets: int = 64,
        settle_s: float = 0.5,
        status_interval_s: float = 0.25,
        max_queued_s: float = MAX_QUEUED_S,
    ) -> None:
        if not max_queued_s > 0:
            raise ValueError("max_queued_s must be positive")
        self.target = _as_target(target)
        self.profile_options = profile or ProfileOptions()
        self.connect_options = connect or ConnectOptions()
        self.bridge_rate_hz = bridge_rate_hz
        self.client_backend = client_backend
        self.scanner_backend = scanner_backend
        self.settle_packets = settle_packets
        self.settle_s = settle_s
        self.max_queued_s = max_queued_s
        self.monitor = LinkMonitor(interval_s=status_interval_s)
        self.clock: ClockMapping | None = None
        self.profile: DeviceProfile | None = None
        self._stitcher: SessionStitcher | None = None
        self._raw: asyncio.Queue[tuple] = asyncio.Queue()
        self._frames: asyncio.Queue[object] = asyncio.Queue()
        self._closing = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._pump: asyncio.Task[None] | None = None
        self._session: _Session | None = None
        self._sessions = 0  # connections whose setup began
        self._streamed = 0  # connections that reached streaming
        self._counts = dict.fromkeys(
            (
                "packets_received",
                "packets_lost",
                "samples_received",
                "samples_lost",
                "reconnect_samples_lost",
                "reconnects",
                "decode_errors",
                "overflow_samples_lost",
            ),
            0,
        )
        self._battery: int | None = None
        self._flags: frozenset[str] = frozenset()
        self.resumptions: list[Resumption] = []
        """One entry per reconnect that delivered samples, added before its first Frame."""
        self._resuming = False
        self.overflows: list[Overflow] = []
        """Each run of Frames dropped because the consumer fell behind, in stream order."""
        self._queued = 0  # samples in the Frame queue
        self._carry = 0  # samples dropped (and lost before them) since the last Frame queued
        self._overflowing = False
        self.last_rejection = ""
        """Why the latest rejected notification was rejected (empty before any)."""
        self._rejections_logged = 0
        self._rejection_log_at = float("-inf")
        self._rejections_unlogged = 0

    # -- public API ---------------------------------------------------------------------------
    @property
    def status(self) -> LinkStatus:
        """The latest published link status (safe to read from any thread)."""
        return self.monitor.latest

    @property
    def stats(self) -> LinkStats:
        """Loss and packet counts up to now (not rate-limited like :attr:`status`)."""
        return LinkStats(**self._counts)

    async def start(self) -> None:
        """Start finding the device and streaming in the background (idempotent)."""
        if self._runner is not None:
            return
        self._pump = asyncio.create_task(self._pump_loop(), name="emgspasm-ble-pump")
        self._runner = asyncio.create_task(self._run(), name="emgspasm-ble-link")

    async def close(self, grace_s: float = 3.0) -> None:
        """Stop streaming (STOP written when connected), disconnect, end the Frame iteration.

        A source that is streaming stops at once; one still scanning or connecting is given
        ``grace_s`` seconds and then cancelled (its connection, if any, is closed).
        """
        self._closing.set()
        if self._runner is not None:
            await asyncio.wait({self._runner}, timeout=grace_s)
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self._pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def __aenter__(self) -> BleSource:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self.frames()

    async def frames(self) -> AsyncIterator[Frame]:
        """The Frames in order; ends after :meth:`close`; raises the error that stopped the
        source (DeviceError, ProtocolError)."""
        await self.start()
        while True:
            item = await self._frames.get()
            if item is _END or isinstance(item, BaseException):
                self._frames.put_nowait(item)  # every iterator sees the end
                if item is _END:
                    return
                raise item
            assert isinstance(item, Frame)
            self._queued -= item.n
            yield item

    # -- the link ------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._connect_loop()
            self.monitor.set_state(LinkState.CLOSED, stats=self.stats)
        except asyncio.CancelledError:
            self.monitor.set_state(LinkState.CLOSED, "closed while connecting", stats=self.stats)
            raise
        except (DeviceError, ProtocolError) as exc:
            self.monitor.set_state(LinkState.FAILED, str(exc), stats=self.stats)
            self._raw.put_nowait(("error", exc))
        except Exception as exc:  # a bug must still end the iteration, with its cause
            logger.exception("Bluetooth source stopped")
            self.monitor.set_state(LinkState.FAILED, repr(exc), stats=self.stats)
            self._raw.put_nowait(("error", exc))
        finally:
            self._raw.put_nowait(("end",))

    async def _connect_loop(self) -> None:
        options = self.connect_options
        target = self.target
        streamed = False
        failures = 0
        last_error = ""
        while not self._closing.is_set():
            state = LinkState.RECONNECTING if streamed else LinkState.CONNECTING
            self.monitor.set_state(state, last_error, attempt=failures + 1, stats=self.stats)
            try:
                device = await self._find(target, first=not streamed)
                target = self.target.pinned(device.address)
                if await self._stream(device):
                    streamed = True
                    failures = 0
                    last_error = "link lost"
                    continue  # dropped after streaming: look for it again at once
            except _RETRYABLE + (_LinkLost,) as exc:
                last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            except DeviceNotFound as exc:
                if not streamed:
                    raise
                last_error = str(exc)  # not back yet: keep looking
            if self._closing.is_set():
                return
            failures += 1
            if not streamed and failures >= options.connect_attempts:
                raise DeviceError(
                    f"connection to {target} failed after {failures} attempts: {last_error}"
                )
            if streamed and options.reconnect.exhausted(failures):
                raise DeviceError(
                    f"lost {target} and could not reconnect after {failures} attempts: {last_error}"
                )
            self.monitor.set_state(state, last_error, attempt=failures, stats=self.stats)
            delay = options.reconnect.delay(failures)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)

    async def _find(self, target: DeviceTarget, first: bool) -> BLEDevice:
        options = self.connect_options
        device, _adv = await find_device(
            target,
            timeout=options.scan_timeout_s,
            service_uuids=list(options.service_uuids) if options.service_uuids else None,
            ambiguity_s=options.ambiguity_s if first else 0.0,
            scanner_backend=self.scanner_backend,
        )
        return device

    async def _stream(self, device: BLEDevice) -> bool:
        """One connection: returns True if it streamed until the link dropped, False when
        closed; raises for a failure before streaming."""
        dropped = asyncio.Event()
        client = BleakClient(
            device,
            disconnected_callback=lambda _client: dropped.set(),
            timeout=self.connect_options.connect_timeout_s,
            backend=self.client_backend,
        )
        await client.connect()
        try:
            profile = await identify_profile(client, self.profile_options)
            session = DeviceSession(client, profile)
            profile = await session.prepare(self.bridge_rate_hz)
            self._begin_session(profile)
            number = self._sessions
            loop = asyncio.get_running_loop()

            def on_data(characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
                arrival = loop.time()
                self._raw.put_nowait(("data", number, characteristic.uuid, bytes(data), arrival))

            await session.start(on_data, self._on_battery)
            if dropped.is_set():
                raise _LinkLost("the link dropped while starting the stream")
            self._streamed += 1
            if self._streamed > 1:
                self._counts["reconnects"] += 1
            self.monitor.set_state(
                LinkState.STREAMING,
                device_address=device.address,
                device_name=device.name,
                profile=profile.name,
                fs=profile.fs,
                channels=tuple(profile.channels),
                units=profile.units,
                mtu=client.mtu_size,
                attempt=0,
                stats=self.stats,
            )
            closing = asyncio.ensure_future(self._closing.wait())
            lost = asyncio.ensure_future(dropped.wait())
            try:
                await asyncio.wait({closing, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                closing.cancel()
                lost.cancel()
            if self._closing.is_set() and client.is_connected:
                with contextlib.suppress(*_RETRYABLE):
                    await asyncio.wait_for(session.stop(), 2.0)
            return not self._closing.is_set()
        finally:
            if client.is_connected:
                with contextlib.suppress(*_RETRYABLE):
                    await asyncio.wait_for(client.disconnect(), 5.0)

    def _begin_session(self, profile: DeviceProfile) -> None:
        if self.profile is None:
            self.profile = profile
            self.clock = ClockMapping(profile.fs)
            self._stitcher = SessionStitcher(self.clock, self.settle_packets, self.settle_s)
        elif not same_stream(self.profile, profile):
            raise DeviceError(
                f"the device came back with another stream ({profile.name}, {profile.fs:g} Hz, "
                f"{len(profile.channels)} channels) than it had ({self.profile.name}, "
                f"{self.profile.fs:g} Hz, {len(self.profile.channels)} channels)"
            )
        self._sessions += 1
        self._raw.put_nowait(("session", _Session(self._sessions, profile, profile.decoder())))

    def _on_battery(self, percent: int) -> None:
        self._battery = percent

    # -- decoding, placing, counting -------------------------------------------------------------
    async def _pump_loop(self) -> None:
        while True:
            item = await self._raw.get()
            kind = item[0]
            if kind == "data":
                self._on_packet(*item[1:])
            elif kind == "session":
                self._session = item[1]
                assert self._stitcher is not None
                self._emit(self._stitcher.new_session())
                self._resuming = self._counts["samples_received"] > 0
            elif kind == "error":
                self._flush()
                self._frames.put_nowait(item[1])
            elif kind == "end":
                self._flush()
                self._frames.put_nowait(_END)
                return

    def _on_packet(self, number: int, uuid: str, data: bytes, host_time: float) -> None:
        session = self._session
        if session is None or session.number != number:
            return  # a late notification of a connection already replaced
        try:
            packet = session.decoder.decode(data, characteristic=uuid, host_time=host_time)
        except ProtocolError as exc:
            self._reject(str(exc), host_time)
            return
        self._counts["packets_received"] += 1
        self._counts["packets_lost"] += int(packet.extra.get("lost_packets", 0) or 0)
        if packet.battery is not None:
            self._battery = packet.battery
        if packet.n:
            self._flags = packet.flags
        assert self._stitcher is not None
        self._emit(self._stitcher.push(packet, host_time))

    def _emit(self, placed: list[Placed]) -> None:
        assert self.profile is not None
        for item in placed:
            if self._resuming:
                self._resuming = False
                self.resumptions.append(
                    Resumption(item.start, item.gap_before, item.reconnect_gap, item.host_time)
                )
            n = item.packet.n
            self._counts["samples_received"] += n
            self._counts["samples_lost"] += item.gap_before - item.reconnect_gap
            self._counts["reconnect_samples_lost"] += item.reconnect_gap
            if self._queued + n > max(1, round(self.max_queued_s * self.profile.fs)):
                self._drop(item)
                continue
            self._overflowing = False
            self._frames.put_nowait(
                Frame(
                    samples=item.packet.samples,
                    start=item.start,
                    fs=self.profile.fs,
                    channels=tuple(self.profile.channels),
                    gap_before=item.gap_before + self._carry,
                )
            )
            self._carry = 0
            self._queued += n
        if self.monitor.due():
            self._publish()

    def _drop(self, item: Placed) -> None:
        """Leave out a Frame the full queue cannot take (see module doc)."""
        n = item.packet.n
        self._carry += item.gap_before + n
        self._counts["overflow_samples_lost"] += n
        if self._overflowing:
            last = self.overflows[-1]
            self.overflows[-1] = Overflow(last.start, item.stop, last.samples + n)
            return
        self._overflowing = True
        self.overflows.append(Overflow(item.start, item.stop, n))
        message = (
            f"the consumer fell {self.max_queued_s:g} s of samples behind: samples from index "
            f"{item.start} on are dropped until it catches up"
        )
        logger.warning("%s: %s", self.target, message)
        self.monitor.update(force=True, message=message, stats=self.stats)

    def _reject(self, reason: str, host_time: float) -> None:
        """Count, keep and log a notification the decoder refused (see module doc)."""
        self._counts["decode_errors"] += 1
        self.last_rejection = reason
        self.monitor.update(message=f"rejected a notification: {reason}", stats=self.stats)
        if self._rejections_logged < REJECTIONS_LOGGED:
            self._rejections_logged += 1
            self._rejection_log_at = host_time
            logger.warning("%s: rejected a notification: %s", self.target, reason)
            return
        self._rejections_unlogged += 1
        if host_time - self._rejection_log_at >= REJECTION_LOG_S:
            logger.warning(
                "%s: rejected %d more notification(s) (%d in all), the latest: %s",
                self.target,
                self._rejections_unlogged,
                self._counts["decode_errors"],
                reason,
            )
            self._rejections_unlogged = 0
            self._rejection_log_at = host_time

    def _flush(self) -> None:
        if self._stitcher is not None:
            self._emit(self._stitcher.flush())
        self._publish()

    def _publish(self) -> None:
        self.monitor.update(
            force=True,
            stats=self.stats,
            battery=self._battery,
            flags=self._flags,
            clock=self.clock.estimate() if self.clock is not None else None,
        )


def _as_target(target: DeviceTarget | str) -> DeviceTarget:
    if isinstance(target, DeviceTarget):
        return target
    parts = target.split(":")
    if len(parts) == 6 and all(len(p) == 2 for p in parts):
        return DeviceTarget(address=target)
    return DeviceTarget(name=target)


__all__ = [
    "BleSource",
    "ConnectOptions",
    "DeviceTarget",
    "Overflow",
    "ProfileOptions",
    "ReconnectPolicy",
    "Resumption",
]
