"""Link faults a virtual sensor injects, and the log of what it really sent and lost.

:class:`FaultPlan` says what goes wrong:

- lost notifications: each data notification starts a lost burst with ``drop_probability``
  (the burst is 1..``drop_burst`` notifications long, drawn uniformly), and the notifications
  numbered in ``drop_notifications`` (0-based over the sensor's life) are lost for sure. A lost
  notification is built and counted by the device, then never delivered: to the host it looks
  exactly like a packet lost over the air.
- link drops: at each device time in ``disconnect_at_s`` (seconds since power-on) the sensor
  ends the connection with reason "connection timeout" (0x08), as a supervision timeout does,
  and stays silent (no advertising) for ``outage_s`` device seconds before it can be found
  again.
- delivery delay: each delivered notification is held an extra random ``delay_s`` (uniform
  between the two bounds, host seconds), order kept, like radio connection intervals and
  retransmissions. Notifications still held when the link drops are lost.

:class:`SensorLog` records every data notification (its world index span, sequence number,
whether it was lost), each streaming session's start and each connection and drop, so a test
can compare what the host reports with what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ....errors import ConfigError


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "drop_notifications", frozenset(self.drop_notifications))
        object.__setattr__(self, "disconnect_at_s", tuple(sorted(self.disconnect_at_s)))
        if not 0.0 <= self.drop_probability <= 1.0:
            raise ConfigError("drop probability must be between 0 and 1")
        if self.drop_burst < 1:
            raise ConfigError("drop bursts are at least one notification long")
        if self.outage_s < 0 or any(t < 0 for t in self.disconnect_at_s):
            raise ConfigError("disconnect times and outages must not be negative")
        lo, hi = self.delay_s
        if not 0.0 <= lo <= hi:
            raise ConfigError("delay bounds must satisfy 0 <= low <= high")


class DropDecider:
    """Decides, notification by notification, which ones a FaultPlan loses."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = np.random.default_rng(plan.seed)
        self._burst_left = 0

    def lose(self, number: int) -> bool:
        if number in self.plan.drop_notifications:
            return True
        if self._burst_left > 0:
            self._burst_left -= 1
            return True
        if self.plan.drop_probability > 0 and self._rng.random() < self.plan.drop_probability:
            self._burst_left = int(self._rng.integers(1, self.plan.drop_burst + 1)) - 1
            return True
        return False

    def delay(self) -> float:
        lo, hi = self.plan.delay_s
        return float(self._rng.uniform(lo, hi)) if hi > 0 else 0.0


@dataclass
class SentNotification:
    """One data notification the sensor built: ``n`` samples from world index ``first``."""

    number: int
    session: int
    first: int
    n: int
    sequence: int | None
    host_time: float
    lost: bool = False

    @property
    def stop(self) -> int:
        return self.first + self.n


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

    notifications: list[SentNotification] = field(default_factory=list)
    sessions: list[StreamSession] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)
    """Peer address of each connection accepted."""
    drops: list[tuple[float, int]] = field(default_factory=list)
    """(host time, world samples taken) of each injected link drop."""

    def lost(self) -> list[SentNotification]:
        return [n for n in self.notifications if n.lost]

    def delivered(self) -> list[SentNotification]:
        return [n for n in self.notifications if not n.lost]
