"""Link status of a Bluetooth source: state, device, loss counts, battery and flags.

A live view or a recorder wants to show "streaming from emgspasm-bridge, 0.3 % lost, battery
71 %" and to note when the link went down. :class:`LinkMonitor` holds that for one source:

- :attr:`LinkMonitor.latest` is an immutable :class:`LinkStatus` that is replaced (never changed)
  on every publication, so any thread can poll it (a Qt timer, say) without locking;
- :meth:`LinkMonitor.subscribe` registers a callback called with each new status on the event
  loop (it must not block: put the status on a queue or emit a Qt signal);
- :meth:`LinkMonitor.updates` is an async iterator of statuses for asyncio consumers.

A status is published on every state change and, while streaming, at most every ``interval_s``
seconds as packets arrive, so a 1 kHz stream does not flood subscribers.

Loss accounting (:class:`LinkStats`) separates what is exact from what is estimated:
``samples_lost`` counts samples missing inside a connection, known exactly from the device's
sample index or packet counter; ``reconnect_samples_lost`` counts the samples missing across
reconnects, whose number comes from the host clock mapping (:mod:`.clock`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from enum import Enum

from .clock import ClockEstimate


class LinkState(str, Enum):
    """Where a source is in its life."""

    IDLE = "idle"
    CONNECTING = "connecting"
    """Looking for the device and connecting for the first time."""
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    """The link dropped; looking for the same device again, with back-off."""
    CLOSED = "closed"
    """Stopped by the caller."""
    FAILED = "failed"
    """Gave up (device not found, too many failed attempts, a device that breaks its protocol)."""


@dataclass(frozen=True)
class LinkStats:
    """Counts since the source started.

    ``packets_lost`` and ``samples_lost``: missing inside connections, exact where the device
    numbers its packets or samples. ``reconnect_samples_lost``: missing across reconnects,
    estimated from the host clock. ``decode_errors``: notifications rejected by the decoder
    (malformed: they carried no samples). ``overflow_samples_lost``: samples received but dropped
    on the host because its consumer fell behind (not a loss of the link, so not in
    :attr:`total_samples_lost`).
    """

    packets_received: int = 0
    packets_lost: int = 0
    samples_received: int = 0
    samples_lost: int = 0
    reconnect_samples_lost: int = 0
    reconnects: int = 0
    decode_errors: int = 0
    overflow_samples_lost: int = 0

    @property
    def total_samples_lost(self) -> int:
        return self.samples_lost + self.reconnect_samples_lost

    @property
    def loss_percent(self) -> float:
        """Samples lost (inside connections and across reconnects) per sample due, in %."""
        due = self.samples_received + self.total_samples_lost
        return 100.0 * self.total_samples_lost / due if due else 0.0

    @property
    def packet_loss_percent(self) -> float:
        """Packets lost inside connections per packet sent, in %."""
        sent = self.packets_received + self.packets_lost
        return 100.0 * self.packets_lost / sent if sent else 0.0


@dataclass(frozen=True)
class LinkStatus:
    """One published view of a source's link."""

    state: LinkState = LinkState.IDLE
    device_address: str | None = None
    device_name: str | None = None
    profile: str | None = None
    fs: float | None = None
    channels: tuple[str, ...] = ()
    units: str | None = None
    mtu: int | None = None
    battery: int | None = None
    """Percent, when the device says."""
    flags: frozenset[str] = frozenset()
    """Status flags of the latest packet (``saturated``, ``lead_off``, ``overflow``, ...)."""
    stats: LinkStats = field(default_factory=LinkStats)
    clock: ClockEstimate | None = None
    attempt: int = 0
    """Connection attempts made since the last successful connection."""
    message: str = ""
    """The latest error or reason for the state, empty when there is none."""
    since: float = 0.0
    """Host time (``time.monotonic``) of the latest state change."""

    @property
    def loss_percent(self) -> float:
        return self.stats.loss_percent


StatusCallback = Callable[[LinkStatus], None]


class LinkMonitor:
    """Publishes the :class:`LinkStatus` of one source (see module doc)."""

    def __init__(self, interval_s: float = 0.25, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self._clock = clock
        self.latest = LinkStatus(since=clock())
        self._pending = self.latest
        self._last_publish = float("-inf")
        self._callbacks: dict[object, StatusCallback] = {}

    def subscribe(self, callback: StatusCallback) -> Callable[[], None]:
        """Call ``callback(status)`` on each publication; returns a function that unsubscribes."""
        token = object()
        self._callbacks[token] = callback

        def unsubscribe() -> None:
            self._callbacks.pop(token, None)

        return unsubscribe

    async def updates(self) -> AsyncIterator[LinkStatus]:
        """Each published status, starting with the current one. If the consumer falls behind,
        it gets the newest status (older ones it missed are skipped, not queued)."""
        queue: asyncio.Queue[LinkStatus] = asyncio.Queue(maxsize=1)

        def put(status: LinkStatus) -> None:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(status)

        put(self.latest)
        unsubscribe = self.subscribe(put)
        try:
            while True:
                status = await queue.get()
                yield status
                if status.state in (LinkState.CLOSED, LinkState.FAILED):
                    return
        finally:
            unsubscribe()

    # -- used by the source ------------------------------------------------------------------
    @property
    def current(self) -> LinkStatus:
        """The newest status, including changes not yet published."""
        return self._pending

    def due(self) -> bool:
        """True when the publication interval has passed since the last publication."""
        return self._clock() - self._last_publish >= self.interval_s

    def set_state(self, state: LinkState, message: str = "", **changes: object) -> None:
        """Change the state (published at once)."""
        self._pending = replace(self._pending, state=state, message=message, since=self._clock())
        self.update(force=True, **changes)

    def update(self, force: bool = False, **changes: object) -> None:
        """Change fields; publish if ``force`` or the publication interval has passed."""
        if changes:
            self._pending = replace(self._pending, **changes)  # type: ignore[arg-type]
        now = self._clock()
        if force or now - self._last_publish >= self.interval_s:
            self._last_publish = now
            self.latest = self._pending
            for callback in list(self._callbacks.values()):
                callback(self.latest)
