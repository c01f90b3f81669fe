"""Profile of the MyoWare 2.0 Wireless Shield running Advancer Technologies' BLE examples.

Facts from the MyoWare Arduino library (AdvancerTechnologies/MyoWare-Arduino-Library): the
shield is an ESP32 reading the sensor with its 12-bit ADC at 3.3 V. The peripheral example
notifies the text of one reading (Arduino ``String(double)``, e.g. ``"1523.00"``) on
characteristic ``f3a56edf-...`` of service ``ec3af789-...``: the ENV output in ADC counts by
default, or RAW minus REF; with the library's conversion switched on, millivolts at the
electrodes (RAW has a fixed gain of 200). The UART example notifies ``"<env>,<raw>\\n"`` on the
Nordic UART service. ``-9999`` is the library's error value. Nothing is written to start:
subscribing is enough.

There is no sample rate: readings go out as fast as the loop and the link allow, with no counter
and no device timestamp. The decoder therefore needs the host arrival time of each notification
and resamples onto a regular grid of ``fs`` Hz with :class:`~..resample.ArrivalResampler`;
read that module for what the resampled signal can and cannot be trusted for. Note also that ENV
is an envelope, not raw EMG: the detector's 20-450 Hz band-pass is meant for raw EMG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ....errors import ProtocolError
from ....recording import COUNTS
from ..packet import DecodedPacket
from ..resample import ArrivalResampler
from .base import GattWrite

SERVICE = "ec3af789-2154-49f4-a9fc-bc6c88e9e930"
CHARACTERISTIC = "f3a56edf-8f1e-4533-93bf-5601b2e91308"
UART_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
UART_RX_CHARACTERISTIC = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
UART_TX_CHARACTERISTIC = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"
"""Notify: the shield's text lines."""

ERROR_VALUE = -9999.0
ADC_VOLTS = 3.3
ADC_MAX = 4095
RAW_GAIN = 200.0

_NUMBER = rb"[+-]?[0-9]{1,9}(?:\.[0-9]{1,9})?"
_READING = re.compile(rb"(" + _NUMBER + rb")(?:\r?\n)?")
_UART_LINE = re.compile(rb"(" + _NUMBER + rb"),(" + _NUMBER + rb")\r?\n")

VARIANTS = ("shield", "uart")
OUTPUTS = ("env", "raw")


def parse_reading(data: bytes) -> float:
    """The number in one peripheral-example notification."""
    match = _READING.fullmatch(bytes(data))
    if match is None:
        raise ProtocolError(f"MyoWare notification {bytes(data)[:40]!r} is not one number")
    return _checked(match.group(1))


def parse_uart_line(data: bytes) -> tuple[float, float]:
    """``(env, raw)`` from one UART-example notification (a whole line)."""
    match = _UART_LINE.fullmatch(bytes(data))
    if match is None:
        raise ProtocolError(f"MyoWare UART notification {bytes(data)[:40]!r} is not 'env,raw\\n'")
    return _checked(match.group(1)), _checked(match.group(2))


def _checked(token: bytes) -> float:
    value = float(token)
    if value == ERROR_VALUE:
        raise ProtocolError("the MyoWare shield reported its error value -9999")
    return value


@dataclass(frozen=True)
class MyoWareProfile:
    """A MyoWare 2.0 Wireless Shield.

    ``variant``: ``"shield"`` (one reading per notification, the peripheral example) or
    ``"uart"`` (``env,raw`` lines over the Nordic UART service). ``output`` names what the
    shield's single reading is (``"env"`` or ``"raw"``; the UART variant always sends both).
    ``millivolts``: the shield converts to mV (library conversion on); otherwise ADC counts.
    ``fs`` is the resampling grid, ``max_gap_s`` the longest silence bridged by interpolation.
    """

    variant: str = "shield"
    output: str = "env"
    millivolts: bool = False
    fs: float = 100.0
    max_gap_s: float = 0.25

    name: ClassVar[str] = "myoware-wireless-shield"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}")

    @property
    def service_uuid(self) -> str:
        return SERVICE if self.variant == "shield" else UART_SERVICE

    @property
    def data_characteristics(self) -> tuple[str, ...]:
        return (CHARACTERISTIC,) if self.variant == "shield" else (UART_TX_CHARACTERISTIC,)

    @property
    def channels(self) -> tuple[str, ...]:
        return (self.output.upper(),) if self.variant == "shield" else ("ENV", "RAW")

    @property
    def units(self) -> str:
        return "mV" if self.millivolts else COUNTS

    def start_writes(self) -> tuple[GattWrite, ...]:
        return ()

    def stop_writes(self) -> tuple[GattWrite, ...]:
        return ()

    def decoder(self) -> MyoWareDecoder:
        return MyoWareDecoder(self)


class MyoWareDecoder:
    """Parses each notification and resamples the readings at their host arrival times.

    ``extra["reading"]`` is the tuple of values parsed from the notification; ``extra["merged"]``
    counts readings so far that shared an arrival time with a later one.
    """

    def __init__(self, profile: MyoWareProfile) -> None:
        self.profile = profile
        self._resampler = ArrivalResampler(
            profile.fs, len(profile.channels), max_gap_s=profile.max_gap_s
        )

    def decode(
        self, data: bytes, *, characteristic: str | None = None, host_time: float | None = None
    ) -> DecodedPacket:
        if host_time is None:
            raise ValueError("the MyoWare shield sends no clock: pass the arrival host_time")
        if self.profile.variant == "shield":
            reading: tuple[float, ...] = (parse_reading(data),)
        else:
            reading = parse_uart_line(data)
        out = self._resampler.push(host_time, np.asarray(reading))
        return DecodedPacket(
            samples=out.samples,
            start=out.start,
            gap_before=out.gap_before,
            extra={"reading": reading, "merged": self._resampler.merged},
        )
