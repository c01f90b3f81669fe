"""A virtual OpenBCI Ganglion with firmware 3, on bumble.

What the host uses of the board: the Ganglion service (0xFE84) with its receive (notify), send
(write without response) and disconnect characteristics, and Device Information with the
software revision ``3.0.2`` (0x2A28), from which the host picks the packet format. ``b`` written
to the send characteristic starts streaming, ``s`` stops it.

Packets as firmware 3 builds them (see :mod:`..profiles.ganglion_wire`): the 24-bit samples are
shifted right by 5 and sent as 19-bit fields (packet ids 100..199, the board's mode without
accelerometer), two samples of four channels per packet, the sign moved into each field's
least significant bit; the sample counter runs 0..200 and sample 200 of every cycle is never
sent, so the host sees a one-sample gap at each wrap. 200 Hz, four channels.

The feed's values (µV) become counts ``round(uV / UV_PER_COUNT)`` clipped to 24 bits;
:meth:`VirtualGanglion.sent_counts` gives what survives the truncation, which is what a host
decodes (times ``UV_PER_COUNT``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Unpack

import numpy as np
from bumble.gatt import Characteristic, CharacteristicValue, Service

from ....errors import ConfigError
from ..profiles import ganglion
from ..profiles.bridge_control import DEVICE_INFORMATION_SERVICE
from ..profiles.ganglion_wire import N_CHANNELS
from .faults import StreamSession
from .feed import SampleFeed
from .peripheral import LinkOptions, VirtualPeripheral

if TYPE_CHECKING:
    from ..bumble_link import VirtualRadio

READ = Characteristic.Properties.READ
NOTIFY = Characteristic.Properties.NOTIFY
WRITE_WITHOUT_RESPONSE = Characteristic.Properties.WRITE_WITHOUT_RESPONSE
READABLE = Characteristic.Permissions.READABLE
WRITEABLE = Characteristic.Permissions.WRITEABLE

BITS = 19
SHIFT = 24 - BITS
FIRST_ID = 100
CYCLE = 201  # samples counted per cycle; the last one is never sent
SOFTWARE_REVISION = "3.0.2"


def sign_in_lsb(values: np.ndarray) -> np.ndarray:
    """The firmware's ``bitWrite(x, 0, sign)``: bit 0 of each value says whether it is negative."""
    return (values & ~1) | (values < 0)


def pack_fields(values: np.ndarray, bits: int = BITS) -> bytes:
    """Eight fields as one big-endian bit string (``bits`` bytes)."""
    stream = 0
    for v in values.ravel().tolist():
        stream = (stream << bits) | (int(v) % (1 << bits))
    return stream.to_bytes(bits, "big")


class VirtualGanglion(VirtualPeripheral):
    """The OpenBCI Ganglion with firmware 3, virtual (see module doc)."""

    kind = "ganglion"

    def __init__(
        self,
        radio: VirtualRadio,
        feed: SampleFeed,
        *,
        name: str = "Ganglion-1a2b",
        address: str = "F0:6A:61:00:00:01",
        **link: Unpack[LinkOptions],
    ) -> None:
        super().__init__(
            radio,
            feed,
            name=name,
            address=address,
            **link,
        )
        if feed.fs != ganglion.FS:
            raise ConfigError(f"the Ganglion samples at {ganglion.FS:g} Hz, not {feed.fs:g}")
        if len(feed.channels) > N_CHANNELS:
            raise ConfigError(f"the Ganglion has {N_CHANNELS} channels")
        self._receive = Characteristic(ganglion.RECEIVE_CHARACTERISTIC, NOTIFY, READABLE, b"")
        self._send = Characteristic(
            ganglion.SEND_CHARACTERISTIC,
            WRITE_WITHOUT_RESPONSE,
            WRITEABLE,
            CharacteristicValue(write=self._on_send),
        )
        self._disconnect = Characteristic(
            ganglion.DISCONNECT_CHARACTERISTIC, WRITE_WITHOUT_RESPONSE, WRITEABLE, b""
        )

    def services(self) -> list[Service]:
        revision = Characteristic(
            ganglion.SOFTWARE_REVISION_CHARACTERISTIC, READ, READABLE, SOFTWARE_REVISION.encode()
        )
        return [
            Service(ganglion.SERVICE, [self._receive, self._send, self._disconnect]),
            Service(DEVICE_INFORMATION_SERVICE, [revision]),
        ]

    def advertised_uuids(self) -> list[str]:
        return [ganglion.SERVICE]

    def _on_send(self, _connection: object, value: bytes) -> None:
        if bytes(value) == ganglion.START and not self.streaming:
            self.start_streaming()
        elif bytes(value) == ganglion.STOP:
            self.stop_streaming()

    def counts(self, start: int, stop: int) -> np.ndarray:
        """24-bit counts (int64 ``(k, 4)``) measured at world indices ``start..stop-1``."""
        values = self.feed.samples(start, stop).astype(np.float64)
        out = np.zeros((values.shape[0], N_CHANNELS), dtype=np.int64)
        limit = (1 << 23) - 1
        counts = np.clip(np.rint(values / ganglion.UV_PER_COUNT), -limit - 1, limit)
        out[:, : values.shape[1]] = counts.astype(np.int64)
        return out

    def sent_counts(self, start: int, stop: int) -> np.ndarray:
        """The counts a host rebuilds: truncated to 19 bits with the sign in bit 0, shifted back."""
        return sign_in_lsb(self.counts(start, stop) >> SHIFT) << SHIFT

    async def stream(self, session: StreamSession) -> None:
        assert self.clock is not None
        loop = asyncio.get_running_loop()
        done = 0  # samples of the session counted (sent, or skipped at the cycle's end)
        while True:
            taken = min(self.clock.taken_by(loop.time()), self.feed.n_samples) - session.world_start
            while True:
                counter = done % CYCLE
                if counter == CYCLE - 1:  # sample 200: taken, never sent
                    if taken - done < 1:
                        break
                    done += 1
                    continue
                if taken - done < 2:
                    break
                first = session.world_start + done
                fields = sign_in_lsb(self.counts(first, first + 2) >> SHIFT)
                packet = bytes((FIRST_ID + counter // 2,)) + pack_fields(fields)
                await self.send(self._receive, packet, first, 2, FIRST_ID + counter // 2)
                done += 2
            if session.world_start + done + 2 > self.feed.n_samples:
                return
            due = session.world_start + done + 1
            await asyncio.sleep(max(0.0, self.clock.host_time_of(due) - loop.time()))
