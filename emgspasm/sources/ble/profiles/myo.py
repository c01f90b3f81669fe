"""Profile of the Thalmic Labs Myo armband in raw EMG mode.

Facts from the vendor's Bluetooth header (``myohw.h``, thalmiclabs/myo-bluetooth): the command
characteristic ``d5060401-...`` takes ``[0x01 set_mode, 3, emg_mode, imu_mode, classifier_mode]``
with emg_mode 3 for raw (unfiltered) EMG, and ``[0x09 set_sleep_mode, 1, 1]`` keeps the armband
awake; EMG arrives on four notify characteristics ``d5060105/0205/0305/0405-...``, each
notification holding two consecutive samples of the eight channels as int8, 200 Hz in all.
Values are unitless ADC counts.

The notifications carry no counter. Armbands are reported to send them round-robin over the four
characteristics; that order is not documented in the header and has not been checked here on a
real armband, so it is used for loss accounting only on request (``check_rotation=True``): the
characteristic then acts as a 2-bit counter, which sees up to three lost notifications in a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ....errors import ProtocolError
from ....recording import COUNTS
from ..packet import DecodedPacket
from ..sequence import SequenceTracker
from .base import GattWrite, channel_names

_BASE = "d506{:04x}-a904-deb9-4748-2c7f4a124842"
SERVICE = _BASE.format(0x0005)
"""The EMG data service."""
CONTROL_SERVICE = _BASE.format(0x0001)
COMMAND_CHARACTERISTIC = _BASE.format(0x0401)
EMG_CHARACTERISTICS = tuple(_BASE.format(short) for short in (0x0105, 0x0205, 0x0305, 0x0405))

SET_MODE = 0x01
SET_SLEEP_MODE = 0x09
EMG_MODE_NONE = 0x00
EMG_MODE_FILTERED = 0x02
EMG_MODE_RAW = 0x03
IMU_MODE_NONE = 0x00
CLASSIFIER_DISABLED = 0x00
SLEEP_NORMAL = 0
SLEEP_NEVER = 1

FS = 200.0
SAMPLES_PER_NOTIFICATION = 2
N_CHANNELS = 8
NOTIFICATION_SIZE = SAMPLES_PER_NOTIFICATION * N_CHANNELS


def set_mode_command(
    emg_mode: int, imu_mode: int = IMU_MODE_NONE, classifier_mode: int = CLASSIFIER_DISABLED
) -> bytes:
    """The set-mode command: header ``(0x01, payload size 3)`` then the three modes."""
    return bytes((SET_MODE, 3, emg_mode, imu_mode, classifier_mode))


def set_sleep_mode_command(mode: int) -> bytes:
    """The set-sleep-mode command: ``(0x09, 1, mode)``."""
    return bytes((SET_SLEEP_MODE, 1, mode))


def decode_emg(data: bytes) -> np.ndarray:
    """The two 8-channel int8 samples of one EMG notification, as int8 ``(2, 8)``."""
    data = bytes(data)
    if len(data) != NOTIFICATION_SIZE:
        raise ProtocolError(f"Myo EMG notification of {len(data)} bytes, expected 16")
    return np.frombuffer(data, dtype=np.int8).reshape(SAMPLES_PER_NOTIFICATION, N_CHANNELS)


@dataclass(frozen=True)
class MyoProfile:
    """The Myo armband streaming raw EMG (no IMU, no classifier)."""

    check_rotation: bool = False

    name: ClassVar[str] = "myo"
    service_uuid: ClassVar[str] = SERVICE
    data_characteristics: ClassVar[tuple[str, ...]] = EMG_CHARACTERISTICS
    fs: ClassVar[float] = FS
    channels: ClassVar[tuple[str, ...]] = channel_names("ch", N_CHANNELS)
    units: ClassVar[str] = COUNTS

    def start_writes(self) -> tuple[GattWrite, ...]:
        return (
            GattWrite(COMMAND_CHARACTERISTIC, set_sleep_mode_command(SLEEP_NEVER)),
            GattWrite(COMMAND_CHARACTERISTIC, set_mode_command(EMG_MODE_RAW)),
        )

    def stop_writes(self) -> tuple[GattWrite, ...]:
        return (
            GattWrite(COMMAND_CHARACTERISTIC, set_mode_command(EMG_MODE_NONE)),
            GattWrite(COMMAND_CHARACTERISTIC, set_sleep_mode_command(SLEEP_NORMAL)),
        )

    def decoder(self) -> MyoDecoder:
        return MyoDecoder(check_rotation=self.check_rotation)


class MyoDecoder:
    """Places each notification's two samples after the previous ones.

    ``extra["slot"]`` is which of the four EMG characteristics the notification came on (None if
    the caller did not say). With ``check_rotation`` the slot is used as a counter and
    ``extra["lost_packets"]`` counts notifications missing before this one.
    """

    def __init__(self, check_rotation: bool = False) -> None:
        self.check_rotation = check_rotation
        self._tracker = SequenceTracker(len(EMG_CHARACTERISTICS), SAMPLES_PER_NOTIFICATION)
        self._next = 0

    def decode(
        self, data: bytes, *, characteristic: str | None = None, host_time: float | None = None
    ) -> DecodedPacket:
        values = decode_emg(data)
        slot = None
        if characteristic is not None:
            key = str(characteristic).lower()
            if key not in EMG_CHARACTERISTICS:
                raise ProtocolError(f"{characteristic} is not a Myo EMG characteristic")
            slot = EMG_CHARACTERISTICS.index(key)
        extra: dict[str, object] = {"slot": slot}
        if self.check_rotation:
            if slot is None:
                raise ProtocolError("rotation check needs the characteristic of each notification")
            placement = self._tracker.place(slot, SAMPLES_PER_NOTIFICATION)
            start, gap = placement.start, placement.gap_before
            extra["lost_packets"] = placement.lost_packets
        else:
            start, gap = self._next, 0
            self._next += SAMPLES_PER_NOTIFICATION
        return DecodedPacket(
            samples=values.astype(np.float32), start=start, gap_before=gap, extra=extra
        )
