"""Link faults a virtual sensor injects, and the log of what it really sent and lost.

:class:`FaultPlan` says what goes wrong:

- lost notifications: each data notification starts a lost burst with ``drop_probability``
  (the burst is 1..``drop_burst`` notifications long, drawn uniformly), and the notifications
  numbered in ``drop_notifications`` (0-based over the sensor's life) are lost for sure. A lost
  notification is built and counted by the device, then never delivered: to the host it looks
  exactly like a packet lost over the air.
  ``drop_schedule`` makes the loss vary over the night: from each listed device time on
  (seconds since the device clock started) the burst probability is the one listed with it.
- link drops: at each device time in ``disconnect_at_s`` (seconds since power-on) the sensor
  ends the connection with reason "connection timeout" (0x08), as a supervision timeout does,
  and stays silent (no advertising) for ``outage_s`` device seconds before it can be found
  again; ``outages_s`` gives each drop its own outage (in the order of ``disconnect_at_s``).
- delivery delay: each delivered notification is held an extra random ``delay_s`` (uniform
  between the two bounds, host seconds), order kept, like radio connection intervals and
  retransmissions. Notifications still held when the link drops are lost.
- garbage: after each data notification, with ``garbage_probability``, the sensor sends one
  malformed notification on the same characteristic, of a kind drawn from ``garbage_kinds``:
  ``short`` (a real packet cut short), ``long`` (a real packet with bytes appended), ``crc`` (a
  real packet with one bit flipped, so its checksum fails; devices without a checksum send a
  ``short`` one instead) or ``random`` (random bytes of another length than the real packet's).
  It carries no samples: a host must reject it, count it and carry on. It is drawn from its own
  random stream, so adding garbage leaves which notifications are lost unchanged.

:class:`SensorLog` records every data notification (its world index span, sequence number,
whether it was lost), each streaming session's start, each connection and drop, and the garbage
sent and delivered, so a test can compare what the host reports with what happened. The
notifications are kept in compact columns (:class:`NotificationLog`, about 30 bytes each), so a
night of them stays small next to what is being measured.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np

from ....errors import ConfigError

GARBAGE_KINDS = ("short", "long", "crc", "random")
"""The kinds of malformed notification a sensor can send (see module doc)."""


@dataclass(frozen=True)
class FaultPlan:
    """What the virtual link does wrong (see module doc); the default plan is a perfect link."""

    drop_probability: float = 0.0
    drop_burst: int = 1
    drop_notifications: frozenset[int] = frozenset()
    disconnect_at_s: tuple[float, ...] = ()
    outage_s: float = 0.5
    delay_s: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    drop_schedule: tuple[tuple[float, float], ...] = ()
    outages_s: tuple[float, ...] = ()
    garbage_probability: float = 0.0
    garbage_kinds: tuple[str, ...] = GARBAGE_KINDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop_notifications", frozenset(self.drop_notifications))
        if self.outages_s and len(self.outages_s) != len(self.disconnect_at_s):
            raise ConfigError("give one outage per disconnect time (or none)")
        outages = tuple(self.outages_s) or (self.outage_s,) * len(self.disconnect_at_s)
        pairs = sorted(zip(self.disconnect_at_s, outages, strict=True))
        object.__setattr__(self, "disconnect_at_s", tuple(t for t, _ in pairs))
        if self.outages_s:
            object.__setattr__(self, "outages_s", tuple(o for _, o in pairs))
        object.__setattr__(
            self,
            "drop_schedule",
            tuple(sorted((float(t), float(p)) for t, p in self.drop_schedule)),
        )
        probabilities = [self.drop_probability, self.garbage_probability]
        probabilities += [p for _, p in self.drop_schedule]
        if not all(0.0 <= p <= 1.0 for p in probabilities):
            raise ConfigError("drop and garbage probabilities must be between 0 and 1")
        if self.drop_burst < 1:
            raise ConfigError("drop bursts are at least one notification long")
        if min((self.outage_s, *outages, *self.disconnect_at_s), default=0.0) < 0:
            raise ConfigError("disconnect times and outages must not be negative")
        lo, hi = self.delay_s
        if not 0.0 <= lo <= hi:
            raise ConfigError("delay bounds must satisfy 0 <= low <= high")
        unknown = set(self.garbage_kinds) - set(GARBAGE_KINDS)
        if unknown or not self.garbage_kinds:
            raise ConfigError(
                f"garbage kinds are some of {', '.join(GARBAGE_KINDS)}, not {sorted(unknown)}"
            )

    def outage_for(self, k: int) -> float:
        """Device seconds the sensor stays away after its ``k``-th drop (0-based)."""
        return self.outages_s[k] if self.outages_s else self.outage_s

    def drop_probability_at(self, device_s: float) -> float:
        """The probability that a notification taken at ``device_s`` starts a lost burst."""
        k = bisect.bisect_right(self.drop_schedule, (device_s, float("inf")))
        return self.drop_schedule[k - 1][1] if k else self.drop_probability


class DropDecider:
    """Decides, notification by notification, which ones a FaultPlan loses, and which are
    followed by garbage (from a random stream of its own)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = np.random.default_rng(plan.seed)
        self.garbage_rng = np.random.default_rng((plan.seed, 0x6A7B))
        self._burst_left = 0

    def lose(self, number: int, device_s: float = 0.0) -> bool:
        if number in self.plan.drop_notifications:
            return True
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        probability = self.plan.drop_probability_at(device_s)
        if probability > 0 and self._rng.random() < probability:
            self._burst_left = int(self._rng.integers(1, self.plan.drop_burst + 1)) - 1
            return True
        return False

    def garbage(self) -> str | None:
        """The kind of malformed notification to send after this one, or None."""
        plan = self.plan
        if plan.garbage_probability <= 0 or self.garbage_rng.random() >= plan.garbage_probability:
            return None
        return plan.garbage_kinds[int(self.garbage_rng.integers(len(plan.garbage_kinds)))]

    def delay(self) -> float:
        lo, hi = self.plan.delay_s
        return float(self._rng.uniform(lo, hi)) if hi > 0 else 0.0


class SentNotification:
    """One data notification the sensor built: ``n`` samples from world index ``first`` (a view
    of one row of a :class:`NotificationLog`; ``lost`` can be set)."""

    __slots__ = ("_log", "number")

    def __init__(self, log: NotificationLog, number: int) -> None:
        self._log = log
        self.number = number

    def _get(self, name: str) -> int | float:
        return self._log.row(self.number)[name].item()  # type: ignore[no-any-return]

    @property
    def session(self) -> int:
        return int(self._get("session"))

    @property
    def first(self) -> int:
        return int(self._get("first"))

    @property
    def n(self) -> int:
        return int(self._get("n"))

    @property
    def sequence(self) -> int | None:
        value = int(self._get("sequence"))
        return None if value < 0 else value

    @property
    def host_time(self) -> float:
        return float(self._get("host_time"))

    @property
    def lost(self) -> bool:
        return bool(self._get("lost"))

    @lost.setter
    def lost(self, value: bool) -> None:
        self._log.row(self.number)["lost"] = 1 if value else 0

    @property
    def stop(self) -> int:
        return self.first + self.n

    def __repr__(self) -> str:
        return (
            f"SentNotification(number={self.number}, session={self.session}, first={self.first}, "
            f"n={self.n}, sequence={self.sequence}, lost={self.lost})"
        )


NOTIFICATION = np.dtype(
    [
        ("session", np.int32),
        ("first", np.int64),
        ("n", np.int32),
        ("sequence", np.int64),  # -1 where the device sends no sequence number
        ("host_time", np.float64),
        ("lost", np.int8),
    ]
)
"""One row of a :class:`NotificationLog` (33 bytes)."""
CHUNK_ROWS = 1 << 16
"""Rows per block of a :class:`NotificationLog` (about 2 MB)."""


class NotificationLog(Sequence[SentNotification]):
    """Every data notification of a sensor, in compact rows (see module doc): a sequence of
    :class:`SentNotification` views, and :meth:`columns` for whole-night checks with numpy.

    Rows go into blocks of :data:`CHUNK_ROWS` that are allocated once and never moved, so the
    log's memory is exactly :attr:`nbytes` and grows in steps a measurement can take off (a
    growing array would be copied, and leave holes in the heap, at each enlargement)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._count = 0

    def add(
        self, session: int, first: int, n: int, sequence: int | None, host_time: float
    ) -> SentNotification:
        """Log a new notification (not lost); returns its view."""
        number = self._count
        chunk, at = divmod(number, CHUNK_ROWS)
        if chunk == len(self._chunks):
            self._chunks.append(np.zeros(CHUNK_ROWS, dtype=NOTIFICATION))
        self._chunks[chunk][at] = (session, first, n, -1 if sequence is None else sequence,
                                   host_time, 0)  # fmt: skip
        self._count += 1
        return SentNotification(self, number)

    def row(self, number: int) -> np.void:
        """The row of notification ``number`` (a view: writing to it changes the log)."""
        chunk, at = divmod(number, CHUNK_ROWS)
        return self._chunks[chunk][at]  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> SentNotification: ...

    @overload
    def __getitem__(self, index: slice) -> list[SentNotification]: ...

    def __getitem__(self, index: int | slice) -> SentNotification | list[SentNotification]:
        if isinstance(index, slice):
            return [SentNotification(self, k) for k in range(len(self))[index]]
        k = range(len(self))[index]  # negative indices, IndexError
        return SentNotification(self, k)

    def __iter__(self) -> Iterator[SentNotification]:
        return (SentNotification(self, k) for k in range(len(self)))

    def columns(self) -> dict[str, np.ndarray]:
        """The columns as numpy arrays (copies; ``lost`` as bool)."""
        rows = (
            np.concatenate(self._chunks)[: self._count]
            if self._chunks
            else np.zeros(0, dtype=NOTIFICATION)
        )
        out = {name: rows[name].copy() for name in NOTIFICATION.names}
        out["lost"] = out["lost"].astype(bool)
        return out

    def lost_count(self) -> int:
        """Notifications lost so far."""
        return int(sum(int(c["lost"].sum()) for c in self._chunks))

    @property
    def nbytes(self) -> int:
        """Memory the log's blocks hold (what a memory measurement may take off as the log's)."""
        return len(self._chunks) * CHUNK_ROWS * NOTIFICATION.itemsize


@dataclass(frozen=True)
class StreamSession:
    """A streaming session (from START, or the Myo's mode command): device sample 0 is world
    sample ``world_start``."""

    number: int
    world_start: int
    host_time: float


@dataclass
class SensorLog:
    """What a virtual sensor did (see module doc)."""

    notifications: NotificationLog = field(default_factory=NotificationLog)
    sessions: list[StreamSession] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    """Peer address of each connection accepted."""
    drops: list[tuple[float, int]] = field(default_factory=list)
    """(host time, world samples taken) of each injected link drop."""
    garbage_sent: Counter[str] = field(default_factory=Counter)
    """Malformed notifications built, by kind."""
    garbage_delivered: Counter[str] = field(default_factory=Counter)
    """Malformed notifications handed to the link (the host received them), by kind."""

    def lost(self) -> list[SentNotification]:
        return [n for n in self.notifications if n.lost]

    def delivered(self) -> list[SentNotification]:
        return [n for n in self.notifications if not n.lost]

    def delivered_count(self) -> int:
        """Data notifications delivered (quicker than ``len(delivered())`` for a night)."""
        return len(self.notifications) - self.notifications.lost_count()
