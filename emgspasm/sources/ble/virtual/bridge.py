"""A virtual emgspasm bridge: the firmware's GATT server and streaming rules, on bumble.

Plays ``firmware_bridge/`` as ``PROTOCOL.md`` and ``src/ble_link.cpp`` describe it: the EMG
service (data notify, control write + notify, info read), Device Information (manufacturer,
model, firmware revision) and, when a battery level is given, the Battery service; a server MTU
of 247 as the firmware asks; commands parsed and answered like the firmware
(:func:`~..profiles.bridge_control.parse_command`), ``START`` resetting the sequence number and
sample index; packets built with the Python encoder (:mod:`..profiles.bridge_wire`), as many
samples as the connection's MTU allows, sent when full or when the oldest sample has waited the
latency (20 ms by default), flagged ``STREAM_START`` / ``SATURATED`` as the firmware does.

The feed's values (µV) become 12-bit ADC codes: ``code = round(uV * 1000 / nv_per_count) +
zero_code``, clipped to 0..4095 (:meth:`VirtualBridge.codes`). A host decodes them back to
``(code - zero_code) * nv_per_count / 1000``, which is what "sample-exact" compares against.

Garbage (:mod:`.faults`): a ``crc`` notification is a real packet with one bit flipped, which its
CRC-16 catches; every kind is checked against the host's packet decoder before it is sent, so it
is always one the host must reject.

Not played: the ring buffer's overflow and the radio refusing a notification (the virtual link
always takes it), lead-off detection. ``SET_RATE`` is accepted only for the feed's own rate
(the feed is not resampled). ``first_sequence`` / ``first_index`` start the counters of each
session elsewhere than 0 (not what the firmware does: a test aid for counter wrap-around).
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Unpack

import numpy as np
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ....errors import ConfigError, ProtocolError
from ..profiles import bridge_control as ctl
from ..profiles.bridge_wire import (
    MAX_CODE,
    Flag,
    decode_packet,
    encode_packet,
    max_samples_per_packet,
)
from .faults import StreamSession
from .feed import SampleFeed
from .peripheral import LinkOptions, VirtualPeripheral

if TYPE_CHECKING:
    from ..bumble_link import VirtualRadio

READ = Characteristic.Properties.READ
NOTIFY = Characteristic.Properties.NOTIFY
WRITE = Characteristic.Properties.WRITE
READABLE = Characteristic.Permissions.READABLE
WRITEABLE = Characteristic.Permissions.WRITEABLE

MANUFACTURER = "emgspasm"
MODEL = "emgspasm-bridge virtual"
FIRMWARE_REVISION = "1.0.0"
FIRMWARE_MTU = 247

_samples_per_packet = functools.lru_cache(maxsize=64)(max_samples_per_packet)
"""The packet size for an MTU and channel count, worked out once (the loop asks every packet)."""


class VirtualBridge(VirtualPeripheral):
    """The emgspasm bridge firmware, virtual (see module doc)."""

    kind = "bridge"

    def __init__(
        self,
        radio: VirtualRadio,
        feed: SampleFeed,
        *,
        name: str = "emgspasm-bridge",
        address: str = "F0:B7:1D:6E:00:01",
        nv_per_count: int = 4029,
        zero_code: int = 2048,
        latency_ms: int = 20,
        battery: int | None = 87,
        first_sequence: int = 0,
        first_index: int = 0,
        **link: Unpack[LinkOptions],
    ) -> None:
        super().__init__(
            radio,
            feed,
            name=name,
            address=address,
            **link,
            max_mtu=FIRMWARE_MTU,
        )
        if feed.fs != int(feed.fs) or not 1 <= feed.fs <= 65535:
            raise ConfigError(f"the bridge samples at a whole number of Hz, not {feed.fs:g}")
        if not 1 <= len(feed.channels) <= 8:
            raise ConfigError("the bridge carries 1 to 8 channels")
        if nv_per_count <= 0:
            raise ConfigError("nv_per_count must be positive")
        self.info = ctl.StreamInfo(
            channels=len(feed.channels),
            rate_hz=int(feed.fs),
            zero_code=zero_code,
            nv_per_count=nv_per_count,
        )
        self.latency_ms = latency_ms
        self.battery = battery
        self.first_sequence = first_sequence
        self.first_index = first_index
        self.replies: list[tuple[int, ctl.Status]] = []
        self._data = Characteristic(ctl.DATA_CHARACTERISTIC, NOTIFY, READABLE, b"")
        self._control = Characteristic(
            ctl.CONTROL_CHARACTERISTIC,
            WRITE | NOTIFY,
            WRITEABLE,
            CharacteristicValue(write=self._on_control),
        )
        self._info = Characteristic(
            ctl.INFO_CHARACTERISTIC, READ, READABLE, CharacteristicValue(read=self._read_info)
        )

    # -- GATT ----------------------------------------------------------------------------------
    def services(self) -> list[Service]:
        def text(uuid: str, value: str) -> Characteristic:
            return Characteristic(uuid, READ, READABLE, value.encode())

        services = [
            Service(ctl.SERVICE, [self._data, self._control, self._info]),
            Service(
                ctl.DEVICE_INFORMATION_SERVICE,
                [
                    text("00002a29-0000-1000-8000-00805f9b34fb", MANUFACTURER),
                    text("00002a24-0000-1000-8000-00805f9b34fb", MODEL),
                    text(ctl.FIRMWARE_REVISION_CHARACTERISTIC, FIRMWARE_REVISION),
                ],
            ),
        ]
        return services + self.battery_services()

    def advertised_uuids(self) -> list[str]:
        return [ctl.SERVICE]

    def _read_info(self, _connection: object) -> bytes:
        return ctl.StreamInfo(
            channels=self.info.channels,
            rate_hz=self.info.rate_hz,
            adc_bits=self.info.adc_bits,
            streaming=self.streaming,
            zero_code=self.info.zero_code,
            nv_per_count=self.info.nv_per_count,
        ).encode()

    def _on_control(self, _connection: object, value: bytes) -> None:
        opcode, argument, status = ctl.parse_command(value)
        if len(value) > 8:
            opcode, status = 0, ctl.Status.BAD_LENGTH
        if status is ctl.Status.OK:
            if opcode == ctl.Opcode.START:
                if self.streaming:
                    status = ctl.Status.BUSY
                else:
                    self.start_streaming()
            elif opcode == ctl.Opcode.STOP:
                self.stop_streaming()
            elif opcode == ctl.Opcode.SET_RATE:
                if self.streaming:
                    status = ctl.Status.BUSY
                elif argument != self.info.rate_hz:
                    status = ctl.Status.BAD_VALUE  # the feed is not resampled
            elif opcode == ctl.Opcode.SET_LATENCY:
                assert argument is not None
                self.latency_ms = argument
        self.replies.append((opcode, status))
        asyncio.ensure_future(self._reply(ctl.encode_reply(opcode, status)))

    async def _reply(self, data: bytes) -> None:
        if self.connection is not None and self.device is not None:
            await self.device.notify_subscriber(self.connection, self._control, data)

    def malformed(self, kind: str, value: bytes, rng: np.random.Generator) -> bytes:
        """Garbage the bridge's decoder rejects (a ``crc`` one fails only its checksum when the
        flipped bit is in the samples)."""
        while True:
            if kind == "crc":
                bit = int(rng.integers(0, 8 * (len(value) - 2)))
                data = bytearray(value)
                data[bit // 8] ^= 1 << (bit % 8)
                garbage = bytes(data)
            else:
                garbage = super().malformed(kind, value, rng)
            try:
                decode_packet(garbage)
            except ProtocolError:
                return garbage

    # -- samples -------------------------------------------------------------------------------
    def codes(self, start: int, stop: int) -> np.ndarray:
        """The ADC codes (uint16 ``(k, channels)``) the device measures at world indices
        ``start..stop-1``."""
        values = self.feed.samples(start, stop).astype(np.float64)
        codes = np.rint(values * 1000.0 / self.info.nv_per_count) + self.info.zero_code
        return np.clip(codes, 0, MAX_CODE).astype(np.uint16)

    async def stream(self, session: StreamSession) -> None:
        assert self.clock is not None
        loop = asyncio.get_running_loop()
        channels = self.info.channels
        sent = 0  # device samples handed to the radio in this session
        sequence = self.first_sequence
        started = False
        end = self.feed.n_samples - session.world_start  # device samples the feed still has
        while True:
            taken = min(self.clock.taken_by(loop.time()), self.feed.n_samples) - session.world_start
            mtu = self.connection.att_mtu if self.connection is not None else 23
            most = _samples_per_packet(mtu, channels)
            latency = max(1, self.latency_ms * self.info.rate_hz // 1000)
            while sent < taken:
                n = min(taken - sent, most)
                if not (n >= most or taken - sent >= latency or taken >= end):
                    break
                codes = self.codes(session.world_start + sent, session.world_start + sent + n)
                flags = Flag(0) if started else Flag.STREAM_START
                if codes.min() == 0 or codes.max() == MAX_CODE:
                    flags |= Flag.SATURATED
                packet = encode_packet(
                    codes,
                    sequence=sequence,
                    first_sample=self.first_index + sent,
                    flags=flags,
                    battery=self.battery,
                )
                await self.send(self._data, packet, session.world_start + sent, n, sequence % 2**16)
                sequence += 1
                sent += n
                started = True
            if sent >= end:
                return  # the feed is over: the device has nothing more to send
            due = min(session.world_start + sent + min(most, latency), self.feed.n_samples) - 1
            await asyncio.sleep(max(0.0, self.clock.host_time_of(due) - loop.time()))
