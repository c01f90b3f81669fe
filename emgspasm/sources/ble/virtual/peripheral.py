"""What every virtual sensor shares: a bumble peripheral that advertises, takes one connection,
streams on its own clock and injects the faults of a :class:`~.faults.FaultPlan`.

Subclasses (:mod:`.bridge`, :mod:`.myo`) give the GATT services, the advertised service UUIDs
and the streaming loop of their device; they send every data notification through
:meth:`VirtualPeripheral.send`, which numbers it, applies the plan (lost or delivered, with what
delay, followed by a malformed notification or not) and logs it in
:attr:`VirtualPeripheral.log`. :meth:`VirtualPeripheral.malformed` builds the garbage; a device
with a checksum in its packets (the bridge) makes the ``crc`` kind its own way.

Like the devices they stand for, the virtual sensors accept one connection at a time (they stop
advertising while connected), stop streaming when the link drops, and advertise again once any
injected outage is over.

The device clock normally starts at power-on, so the samples taken before a host starts the
stream are never sent, as on a real device. With ``play_from_start`` it starts at the first
streaming session instead: the feed's first sample is the first one sent, which is what a replay
of a recording through the link wants (fault times then count from that moment too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, ClassVar, TypedDict

import numpy as np
from bumble import data_types
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import HCI_CONNECTION_TIMEOUT_ERROR, HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR

from ..profiles.bridge_control import BATTERY_LEVEL_CHARACTERISTIC, BATTERY_SERVICE
from .faults import DropDecider, FaultPlan, SensorLog, SentNotification, StreamSession
from .feed import DeviceClock, SampleFeed

if TYPE_CHECKING:
    from ..bumble_link import VirtualRadio

ADVERTISING_INTERVAL_MS = 20.0


class _Garbage:
    """A malformed notification waiting in the delivery queue (never a SentNotification)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind


class LinkOptions(TypedDict, total=False):
    """How any virtual sensor plays its feed over the link: pace (``speed``, 0 for as fast
    as the loop goes), clock drift, the faults it injects, and whether it starts from the
    feed's first sample. Each sensor forwards them to :class:`VirtualPeripheral` unchanged."""

    speed: float
    drift_ppm: float
    faults: FaultPlan | None
    play_from_start: bool


class VirtualPeripheral:
    """Base of the virtual sensors (see module doc)."""

    kind: ClassVar[str] = ""
    battery: int | None = None
    """Battery level in percent, offered as the standard battery service (None: no battery)."""

    def __init__(
        self,
        radio: VirtualRadio,
        feed: SampleFeed,
        *,
        name: str,
        address: str,
        speed: float = 1.0,
        drift_ppm: float = 0.0,
        faults: FaultPlan | None = None,
        max_mtu: int = 517,
        play_from_start: bool = False,
    ) -> None:
        self.radio = radio
        self.feed = feed
        self.name = name
        self.address = address
        self.speed = speed
        self.drift_ppm = drift_ppm
        self.faults = faults or FaultPlan()
        self.max_mtu = max_mtu
        self.play_from_start = play_from_start
        self.log = SensorLog()
        self.device: Device | None = None
        self.clock: DeviceClock | None = None
        self.connection: Connection | None = None
        self._decider = DropDecider(self.faults)
        self._tasks: set[asyncio.Task[None]] = set()
        self._hci_ops: set[asyncio.Future[object]] = set()
        self._stream_task: asyncio.Task[None] | None = None
        self._session: StreamSession | None = None
        self._silent_until = float("-inf")
        self._outages = 0
        self._queue: deque[
            tuple[float, Connection, Characteristic, bytes, SentNotification | _Garbage]
        ] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._release_at = float("-inf")
        self._closed = False

    # -- for subclasses ------------------------------------------------------------------------
    def services(self) -> list[Service]:
        """The GATT services of the device."""
        raise NotImplementedError

    def advertised_uuids(self) -> list[str]:
        """Service UUIDs put in the advertisement."""
        raise NotImplementedError

    def battery_services(self) -> list[Service]:
        """The standard battery service, reading :attr:`battery`, if the device has one."""
        if self.battery is None:
            return []
        level = Characteristic(
            BATTERY_LEVEL_CHARACTERISTIC,
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.Permissions.READABLE,
            CharacteristicValue(read=lambda _c: bytes((self.battery or 0,))),
        )
        return [Service(BATTERY_SERVICE, [level])]

    async def stream(self, session: StreamSession) -> None:
        """The streaming loop of one session (cancelled when streaming stops)."""
        raise NotImplementedError

    # -- life ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Power on, start the device clock and advertise."""
        device = self.radio.device(self.name, self.address)
        device.gatt_server.max_mtu = self.max_mtu
        device.add_services(self.services())
        device.advertising_data = bytes(
            AdvertisingData(
                [
                    data_types.Flags(
                        AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                        | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
                    ),
                    data_types.CompleteListOf128BitServiceUUIDs(
                        [UUID(u) for u in self.advertised_uuids()]
                    ),
                    data_types.CompleteLocalName(self.name),
                ]
            )
        )
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        await device.power_on()
        self.device = device
        if not self.play_from_start:
            self._start_clock(asyncio.get_running_loop().time())
        await self._advertise()

    def _start_clock(self, origin: float) -> None:
        """Start taking samples (world sample 0 at ``origin``) and the fault schedule."""
        self.clock = DeviceClock(self.feed.fs, origin, self.speed, self.drift_ppm)
        self._spawn(self._fault_schedule())

    async def close(self) -> None:
        """Stop everything and end any connection."""
        self._closed = True
        self.stop_streaming()
        for task in list(self._tasks) + ([self._sender] if self._sender else []):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._hci_ops, return_exceptions=True)
        connection = self.connection
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.disconnect(HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        if self.device is not None:
            with contextlib.suppress(Exception):
                await self.device.stop_advertising()

    async def __aenter__(self) -> VirtualPeripheral:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def samples_taken(self) -> int:
        """World samples taken so far (capped at the end of the feed)."""
        if self.clock is None:
            return 0  # play_from_start: not streamed yet
        now = asyncio.get_running_loop().time()
        return min(self.clock.taken_by(now), self.feed.n_samples)

    @property
    def finished(self) -> bool:
        """True once every sample of the feed has been taken."""
        return self.clock is not None and self.samples_taken >= self.feed.n_samples

    @property
    def done(self) -> bool:
        """True once the feed is over and every notification of it has been sent or lost."""
        return self.finished and not self.streaming and not self._queue and bool(self.log.sessions)

    # -- connections ---------------------------------------------------------------------------
    async def _hci(self, operation: Awaitable[object]) -> None:
        """Run a command to the emulated controller so that cancelling the caller cannot leave
        it half done (close() waits for it)."""
        future = asyncio.ensure_future(operation)
        self._hci_ops.add(future)
        future.add_done_callback(self._hci_ops.discard)
        await asyncio.shield(future)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _advertise(self) -> None:
        loop = asyncio.get_running_loop()
        outage = self._outages
        wait = self._silent_until - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if self._closed or self.connection is not None or self.device is None:
            return
        if outage != self._outages:
            return  # a later outage started meanwhile; its own task advertises after it
        await self._hci(
            self.device.start_advertising(
                advertising_interval_min=ADVERTISING_INTERVAL_MS,
                advertising_interval_max=ADVERTISING_INTERVAL_MS,
            )
        )

    def _on_connection(self, connection: Connection) -> None:
        if self.connection is not None:
            return
        self.connection = connection
        self.log.connections.append(connection.peer_address.to_string(False))
        connection.on(
            Connection.EVENT_DISCONNECTION,
            lambda reason: self._on_disconnection(connection, reason),
        )

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection is not self.connection:
            return
        self.connection = None
        self.stop_streaming()
        while self._queue:
            held = self._queue.popleft()[4]  # held back in the air when the link went
            if isinstance(held, SentNotification):
                held.lost = True
        if not self._closed:
            self._spawn(self._advertise())

    async def _fault_schedule(self) -> None:
        assert self.clock is not None and self.device is not None
        loop = asyncio.get_running_loop()
        for k, at_s in enumerate(self.faults.disconnect_at_s):
            at = self.clock.host_time_of(at_s * self.feed.fs)
            await asyncio.sleep(max(0.0, at - loop.time()))
            now = loop.time()
            self._outages += 1
            self._silent_until = now + self.clock.host_seconds(self.faults.outage_for(k))
            self.log.drops.append((now, self.clock.taken_by(now)))
            if self.connection is not None:
                await self._hci(self.connection.disconnect(HCI_CONNECTION_TIMEOUT_ERROR))
            else:
                await self._hci(self.device.stop_advertising())
                self._spawn(self._advertise())

    # -- streaming -----------------------------------------------------------------------------
    @property
    def streaming(self) -> bool:
        return self._stream_task is not None and not self._stream_task.done()

    def start_streaming(self) -> StreamSession:
        """Begin a session: device sample 0 is the next world sample taken (with
        ``play_from_start``, the first session begins at world sample 0, taken now)."""
        now = asyncio.get_running_loop().time()
        if self.clock is None:
            self._start_clock(now)
            world_start = 0
        else:
            world_start = self.clock.taken_by(now)
        session = StreamSession(len(self.log.sessions) + 1, world_start, now)
        self.log.sessions.append(session)
        self._session = session
        self._stream_task = asyncio.ensure_future(self.stream(session))
        return session

    def stop_streaming(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    def subscribed(self, characteristic: Characteristic) -> bool:
        """True if the connected host enabled notifications of ``characteristic``."""
        if self.connection is None or self.device is None:
            return False
        cccds = self.device.gatt_server.subscribers.get(self.connection, {})
        value = cccds.get(characteristic.handle, b"\x00\x00")
        return bool(value and value[0] & 0x01)

    async def send(
        self,
        characteristic: Characteristic,
        value: bytes,
        first: int,
        n: int,
        sequence: int | None = None,
    ) -> SentNotification:
        """Send one data notification of ``n`` samples from world index ``first``, or lose it
        as the fault plan says (and follow it with a malformed one, when the plan says so);
        returns its log entry."""
        loop = asyncio.get_running_loop()
        session = self._session.number if self._session is not None else 0
        entry = self.log.notifications.add(session, first, n, sequence, loop.time())
        entry.lost = self._decider.lose(entry.number, first / self.feed.fs)
        connection = self.connection
        if connection is None or not self.subscribed(characteristic):
            entry.lost = True
            return entry
        garbage = self._decider.garbage()
        if not entry.lost:
            await self._deliver(connection, characteristic, value, entry, self._decider.delay())
        if garbage is not None:  # right behind it, in the same connection event
            self.log.garbage_sent[garbage] += 1
            data = self.malformed(garbage, value, self._decider.garbage_rng)
            await self._deliver(connection, characteristic, data, _Garbage(garbage), 0.0)
        return entry

    def malformed(self, kind: str, value: bytes, rng: np.random.Generator) -> bytes:
        """A malformed notification of ``kind`` made from the real one ``value`` (see
        :mod:`.faults`); never a notification the device's decoder could accept. Devices with a
        checksum override this for the ``crc`` kind."""
        if kind == "long":
            return value + rng.integers(0, 256, int(rng.integers(1, 8)), dtype=np.uint8).tobytes()
        if kind == "random":
            size = int(rng.integers(1, max(3, self.max_mtu - 3)))
            if size == len(value):
                size += 1
            return rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        return value[: int(rng.integers(0, len(value)))]  # short (and crc without a checksum)

    async def _deliver(
        self,
        connection: Connection,
        characteristic: Characteristic,
        value: bytes,
        entry: SentNotification | _Garbage,
        delay: float,
    ) -> None:
        """Hand a notification to the link now, or hold it ``delay`` seconds (order kept)."""
        assert self.device is not None
        loop = asyncio.get_running_loop()
        if delay <= 0 and not self._queue:
            await self.device.notify_subscriber(connection, characteristic, value)
            self._delivered(entry)
            return
        self._release_at = max(self._release_at, loop.time() + delay)
        self._queue.append((self._release_at, connection, characteristic, value, entry))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send_held())

    def _delivered(self, entry: SentNotification | _Garbage) -> None:
        if isinstance(entry, _Garbage):
            self.log.garbage_delivered[entry.kind] += 1

    async def _send_held(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.device is not None
        while self._queue:
            release, connection, characteristic, value, entry = self._queue[0]
            await asyncio.sleep(max(0.0, release - loop.time()))
            if not self._queue or self._queue[0][4] is not entry:
                continue  # the queue was emptied by a disconnection
            self._queue.popleft()
            if connection is not self.connection:
                if isinstance(entry, SentNotification):
                    entry.lost = True
                continue
            await self.device.notify_subscriber(connection, characteristic, value)
            self._delivered(entry)
