"""Profile of the OpenBCI Ganglion (4 channels, 200 Hz), firmware 2 or 3.

The packet format changed with firmware 3 (see :mod:`.ganglion_wire`), so the profile is chosen
from the Device Information software revision string (characteristic 0x2A28), e.g. ``"2.0.1"``
or ``"3.0.2"``: :meth:`GanglionProfile.from_software_revision`. Streaming starts with the ASCII
byte ``b`` and stops with ``s`` written to the send characteristic. Samples are converted to µV
with the scale OpenBCI documents, ``1.2 V / (8388607 * 1.5 * 51)`` per count.

Placing samples on the stream, from the packet id (the only counter the board sends):

- Firmware 2 counts a cycle of 101 packets: the uncompressed sample (1 sample), then 100
  compressed ones (2 samples each). Compressed samples are differences from the previous
  sample, so they can only be rebuilt from an uncompressed one with no packet lost since. Until
  the next id 0 after a loss (and at the start, until the first id 0) the packets cannot be
  decoded; they are reported with no samples and the flag ``unanchored``, and their samples
  become part of the gap before the next decoded sample. A decoder that started from zeros
  instead would invent a signal.
- Firmware 3 sends 100 packets of 2 samples per cycle, and, by its source, discards the sample
  taken between the last packet of a cycle and the first of the next (its sample counter runs
  to 200 but only 0..199 are sent). That sample is marked as a gap of 1 at each cycle wrap, so
  that the stream's time axis stays at 200 Hz.

A wrapping id cannot count a run of a whole cycle or more of lost packets (about one second).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ....errors import ProtocolError
from ..packet import DecodedPacket, empty_samples
from ..sequence import SequenceTracker
from .base import GattWrite, channel_names, uuid16
from .ganglion_wire import (
    IMPEDANCE_FIRST,
    IMPEDANCE_LAST,
    MESSAGE,
    MESSAGE_END,
    N_CHANNELS,
    accel_axis,
    check_sample_packet,
    int24_values,
    parse_impedance,
    parse_text,
    unpack_fields,
)

SERVICE = uuid16(0xFE84)
RECEIVE_CHARACTERISTIC = "2d30c082-f39f-4ce6-923f-3484ea480596"
"""Notify: data from the board."""
SEND_CHARACTERISTIC = "2d30c083-f39f-4ce6-923f-3484ea480596"
"""Write: commands to the board."""
DISCONNECT_CHARACTERISTIC = "2d30c084-f39f-4ce6-923f-3484ea480596"
SOFTWARE_REVISION_CHARACTERISTIC = uuid16(0x2A28)

FS = 200.0
UV_PER_COUNT = 1.2e6 / (8388607 * 1.5 * 51)
START = b"b"
STOP = b"s"

_REVISION = re.compile(r"\s*v?([0-9]{1,3})(?:\.[0-9]+)*\s*")
SUPPORTED_FIRMWARE = (2, 3)


@dataclass(frozen=True)
class GanglionProfile:
    """The Ganglion with the packet format of firmware ``firmware`` (2 or 3)."""

    firmware: int = 3

    name: ClassVar[str] = "ganglion"
    service_uuid: ClassVar[str] = SERVICE
    data_characteristics: ClassVar[tuple[str, ...]] = (RECEIVE_CHARACTERISTIC,)
    fs: ClassVar[float] = FS
    channels: ClassVar[tuple[str, ...]] = channel_names("ch", N_CHANNELS)
    units: ClassVar[str] = "uV"

    def __post_init__(self) -> None:
        if self.firmware not in SUPPORTED_FIRMWARE:
            raise ProtocolError(
                f"Ganglion firmware {self.firmware} is not supported (known: 2 and 3)"
            )

    @classmethod
    def from_software_revision(cls, revision: str | bytes) -> GanglionProfile:
        """The profile for a software revision string such as ``"3.0.2"``.

        Firmware 1 used the same packets as firmware 2 and is read as such.
        """
        if isinstance(revision, bytes | bytearray):
            revision = bytes(revision).decode("ascii", errors="replace")
        match = _REVISION.fullmatch(revision.rstrip("\x00"))
        if match is None:
            raise ProtocolError(f"Ganglion software revision {revision!r} is not a version")
        major = int(match.group(1))
        return cls(firmware=2 if major == 1 else major)

    def start_writes(self) -> tuple[GattWrite, ...]:
        return (GattWrite(SEND_CHARACTERISTIC, START, response=False),)

    def stop_writes(self) -> tuple[GattWrite, ...]:
        return (GattWrite(SEND_CHARACTERISTIC, STOP, response=False),)

    def decoder(self) -> GanglionDecoder:
        return GanglionDecoder(self.firmware)


def _advance_v2(position: int) -> int:
    return 1 if position == 0 else 2


def _advance_v3(position: int) -> int:
    return 3 if position == 99 else 2


class GanglionDecoder:
    """Decodes one streaming session of a Ganglion.

    Sample packets: ``kind="samples"``, ``sequence`` the packet id, ``extra["accel"]`` an
    ``(axis, value)`` pair when an 18-bit packet carries an accelerometer byte,
    ``extra["counts"]`` (the samples in ADC counts, int64) and ``extra["lost_packets"]``.
    Impedance packets: ``kind="impedance"`` with ``extra["channel"]`` (1..4, or ``"ref"``) and
    ``extra["kohm"]``. Text: ``kind="message"`` with ``extra["text"]`` and ``extra["final"]``
    (true on id 207).
    """

    def __init__(self, firmware: int) -> None:
        if firmware not in SUPPORTED_FIRMWARE:
            raise ProtocolError(f"Ganglion firmware {firmware} is not supported")
        self.firmware = firmware
        if firmware == 2:
            self._tracker = SequenceTracker(101, _advance_v2)
        else:
            self._tracker = SequenceTracker(100, _advance_v3)
        self._last: np.ndarray | None = None  # last rebuilt sample (firmware 2), in counts

    def decode(
        self, data: bytes, *, characteristic: str | None = None, host_time: float | None = None
    ) -> DecodedPacket:
        data = bytes(data)
        if not data:
            raise ProtocolError("empty Ganglion notification")
        pid = data[0]
        if IMPEDANCE_FIRST <= pid <= IMPEDANCE_LAST:
            channel: int | str = pid - IMPEDANCE_FIRST + 1 if pid < IMPEDANCE_LAST else "ref"
            return self._other("impedance", pid, channel=channel, kohm=parse_impedance(data))
        if pid in (MESSAGE, MESSAGE_END):
            return self._other("message", pid, text=parse_text(data), final=pid == MESSAGE_END)
        if self.firmware == 2:
            return self._decode_v2(pid, data)
        return self._decode_v3(pid, data)

    def _other(self, kind: str, pid: int, **extra: object) -> DecodedPacket:
        return DecodedPacket(
            samples=empty_samples(N_CHANNELS),
            start=self._tracker.next_index,
            kind=kind,
            sequence=pid,
            extra=extra,
        )

    def _decode_v2(self, pid: int, data: bytes) -> DecodedPacket:
        if pid > 200:
            raise ProtocolError(f"Ganglion packet id {pid} is unknown to firmware 2")
        check_sample_packet(data)
        position = pid if pid <= 100 else pid - 100
        lost = self._tracker.lost_between(position)
        extra: dict[str, object] = {}
        if pid == 0:
            counts = int24_values(data[1:13])[None, :]
        else:
            bits = 18 if pid <= 100 else 19
            deltas = unpack_fields(data[1:], bits)
            if bits == 18:
                extra.update(_accel(pid, data))
            if self._last is not None and lost == 0:
                first = self._last - deltas[0]
                counts = np.vstack([first, first - deltas[1]])
            else:
                counts = np.zeros((0, N_CHANNELS), dtype=np.int64)
        placement = self._tracker.place(position, counts.shape[0])
        self._last = counts[-1].copy() if counts.shape[0] else None
        flags = frozenset() if counts.shape[0] else frozenset({"unanchored"})
        return self._samples(
            pid, counts, placement.start, placement.gap_before, placement.lost_packets, flags, extra
        )

    def _decode_v3(self, pid: int, data: bytes) -> DecodedPacket:
        if pid >= 200:
            raise ProtocolError(f"Ganglion packet id {pid} is unknown to firmware 3")
        check_sample_packet(data)
        bits, shift = (18, 6) if pid < 100 else (19, 5)
        counts = unpack_fields(data[1:], bits) << shift
        extra = _accel(pid, data) if bits == 18 else {}
        placement = self._tracker.place(pid % 100, 2)
        return self._samples(
            pid,
            counts,
            placement.start,
            placement.gap_before,
            placement.lost_packets,
            frozenset(),
            extra,
        )

    def _samples(
        self,
        pid: int,
        counts: np.ndarray,
        start: int,
        gap: int,
        lost: int,
        flags: frozenset[str],
        extra: dict[str, object],
    ) -> DecodedPacket:
        extra["lost_packets"] = lost
        extra["counts"] = counts
        return DecodedPacket(
            samples=(counts * UV_PER_COUNT).astype(np.float32),
            start=start,
            gap_before=gap,
            sequence=pid,
            flags=flags,
            extra=extra,
        )


def _accel(pid: int, data: bytes) -> dict[str, object]:
    axis = accel_axis(pid)
    if axis is None:
        return {}
    value = data[19] - 256 if data[19] >= 128 else data[19]
    return {"accel": (axis, value)}
