"""How long to wait between attempts to reach a device: exponential back-off with a ceiling.

After a drop the first attempt goes at once (the device is usually back within a second); each
failed attempt doubles the wait, up to ``max_delay_s``, so that a sensor out of range for the
rest of the night is looked for every half minute instead of flooding the radio. ``max_attempts``
caps consecutive failures (None: keep trying until the source is closed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReconnectPolicy:
    """Back-off after failed attempts: ``initial_delay_s * factor**(k - 1)`` after the k-th
    consecutive failure, at most ``max_delay_s``; give up after ``max_attempts`` failures."""

    initial_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 30.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_delay_s < 0 or self.factor < 1 or self.max_delay_s < 0:
            raise ValueError("delays must be non-negative and the factor at least 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None)")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failed attempts (0 before any)."""
        if failures <= 0:
            return 0.0
        return min(self.max_delay_s, self.initial_delay_s * self.factor ** (failures - 1))

    def exhausted(self, failures: int) -> bool:
        """True when ``failures`` consecutive failures reach the limit."""
        return self.max_attempts is not None and failures >= self.max_attempts
