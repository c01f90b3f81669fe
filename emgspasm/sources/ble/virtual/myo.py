"""A virtual Thalmic Labs Myo armband streaming raw EMG, on bumble.

The GATT layout of the vendor's header (``myohw.h``) as far as the host uses it: the control
service with the command characteristic, the EMG service with four notify characteristics, and
the standard Battery service. ``set_mode`` with EMG mode raw (3) or filtered (2) starts the
stream, EMG mode none (0) stops it; ``set_sleep_mode`` is accepted. Each notification holds two
consecutive samples of eight channels as int8, 200 Hz in all, and the notifications go round
robin over the four characteristics (as armbands are reported to do; see
:mod:`..profiles.myo`).

The feed must be sampled at 200 Hz with at most eight channels (missing channels read 0); its
values become counts ``round(value * counts_per_unit)`` clipped to -128..127
(:meth:`VirtualMyo.counts`), which is exactly what a host decodes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Unpack

import numpy as np
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ....errors import ConfigError
from ..profiles import myo
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


class VirtualMyo(VirtualPeripheral):
    """The Myo armband in raw EMG mode, virtual (see module doc)."""

    kind = "myo"

    def __init__(
        self,
        radio: VirtualRadio,
        feed: SampleFeed,
        *,
        name: str = "Myo",
        address: str = "F0:3E:0A:00:00:01",
        counts_per_unit: float = 0.25,
        battery: int | None = 64,
        **link: Unpack[LinkOptions],
    ) -> None:
        super().__init__(
            radio,
            feed,
            name=name,
            address=address,
            **link,
        )
        if feed.fs != myo.FS:
            raise ConfigError(f"the Myo samples at {myo.FS:g} Hz; the feed is at {feed.fs:g} Hz")
        if len(feed.channels) > myo.N_CHANNELS:
            raise ConfigError(f"the Myo has {myo.N_CHANNELS} channels")
        self.counts_per_unit = counts_per_unit
        self.battery = battery
        self.sleep_mode: int | None = None
        self._emg = [
            Characteristic(uuid, NOTIFY, READABLE, b"") for uuid in myo.EMG_CHARACTERISTICS
        ]
        self._command = Characteristic(
            myo.COMMAND_CHARACTERISTIC,
            WRITE,
            WRITEABLE,
            CharacteristicValue(write=self._on_command),
        )

    def services(self) -> list[Service]:
        services = [
            Service(myo.CONTROL_SERVICE, [self._command]),
            Service(myo.SERVICE, self._emg),
        ]
        return services + self.battery_services()

    def advertised_uuids(self) -> list[str]:
        return [myo.CONTROL_SERVICE]

    def _on_command(self, _connection: object, value: bytes) -> None:
        value = bytes(value)
        if len(value) == 5 and value[0] == myo.SET_MODE and value[1] == 3:
            if value[2] in (myo.EMG_MODE_RAW, myo.EMG_MODE_FILTERED):
                if not self.streaming:
                    self.start_streaming()
            elif value[2] == myo.EMG_MODE_NONE:
                self.stop_streaming()
        elif len(value) == 3 and value[0] == myo.SET_SLEEP_MODE and value[1] == 1:
            self.sleep_mode = value[2]

    def counts(self, start: int, stop: int) -> np.ndarray:
        """The int8 counts ``(k, 8)`` the armband measures at world indices ``start..stop-1``."""
        values = self.feed.samples(start, stop).astype(np.float64)
        out = np.zeros((values.shape[0], myo.N_CHANNELS), dtype=np.int8)
        scaled = np.clip(np.rint(values * self.counts_per_unit), -128, 127)
        out[:, : values.shape[1]] = scaled.astype(np.int8)
        return out

    async def stream(self, session: StreamSession) -> None:
        assert self.clock is not None
        loop = asyncio.get_running_loop()
        pair = myo.SAMPLES_PER_NOTIFICATION
        sent = 0
        slot = 0
        while True:
            taken = min(self.clock.taken_by(loop.time()), self.feed.n_samples) - session.world_start
            while taken - sent >= pair:
                first = session.world_start + sent
                data = self.counts(first, first + pair).tobytes()
                await self.send(self._emg[slot], data, first, pair)
                slot = (slot + 1) % len(self._emg)
                sent += pair
            if session.world_start + sent + pair > self.feed.n_samples:
                return  # the feed is over
            due = session.world_start + sent + pair - 1
            await asyncio.sleep(max(0.0, self.clock.host_time_of(due) - loop.time()))
