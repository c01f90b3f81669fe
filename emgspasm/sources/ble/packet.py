"""What a device decoder hands back for one notification: samples already placed on the stream.

Every decoder turns the bytes of one notification into a :class:`DecodedPacket` whose samples sit
at a known stream sample index (``start``) with the samples lost just before them counted
(``gap_before``), so a client builds a :class:`~emgspasm.frames.Frame` without knowing anything
about the device. A packet without samples (an impedance reading, a text message, a compressed
packet that cannot be reconstructed) never carries a gap: the gap is reported on the next packet
that has samples, so that it is attached to a Frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ...frames import Frame

SAMPLES = "samples"
"""Kind of a packet that carries (possibly zero) samples of the signal."""


@dataclass(frozen=True)
class DecodedPacket:
    """One decoded notification.

    ``samples`` is float32 ``(n, channels)`` in the profile's unit; ``start`` is the stream index
    of its first row and ``gap_before`` the number of samples missing just before it (``start``
    already counts them). ``kind`` is ``"samples"`` or a profile-specific kind such as
    ``"impedance"`` or ``"message"``. ``sequence`` is the device's packet counter as sent (None
    when the device sends none), ``flags`` names status conditions (``saturated``, ``lead_off``,
    ``overflow``, ...), ``battery`` is a percentage when the packet says, and ``extra`` holds
    anything else the profile documents.
    """

    samples: np.ndarray
    start: int
    gap_before: int = 0
    kind: str = SAMPLES
    sequence: int | None = None
    flags: frozenset[str] = frozenset()
    battery: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    @property
    def n(self) -> int:
        """Number of samples (rows)."""
        return int(self.samples.shape[0])

    @property
    def stop(self) -> int:
        """Stream index one past the last sample."""
        return self.start + self.n

    def to_frame(self, fs: float, channels: tuple[str, ...]) -> Frame | None:
        """The samples as a Frame, or None when the packet has none."""
        if self.n == 0:
            return None
        return Frame(
            samples=self.samples,
            start=self.start,
            fs=fs,
            channels=channels,
            gap_before=self.gap_before,
        )


def empty_samples(channels: int) -> np.ndarray:
    """A float32 ``(0, channels)`` array for packets without samples."""
    return np.zeros((0, channels), dtype=np.float32)
