"""Starting and stopping the stream on a connected device, the way each profile requires.

Generic profiles: subscribe to the data characteristics, then send the profile's start writes.
The emgspasm bridge follows its protocol (``firmware_bridge/PROTOCOL.md``): subscribe to data
and control, optionally ``SET_RATE`` (then read the info again), ``START``, and wait for each
command's reply notified on the control characteristic. A ``BUSY`` reply to ``START`` (the device
still streams from a connection it has not noticed is gone) is answered with ``STOP`` and a
second ``START``; any other refusal is a DeviceError.

A Battery Level characteristic (0x2A19), when the device has one, is read and subscribed to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic

from ...errors import DeviceError, ProtocolError
from .profiles import BridgeProfile, DeviceProfile
from .profiles.bridge_control import (
    BATTERY_LEVEL_CHARACTERISTIC,
    CONTROL_CHARACTERISTIC,
    INFO_CHARACTERISTIC,
    Opcode,
    Status,
    decode_reply,
    encode_command,
)

DataHandler = Callable[[BleakGATTCharacteristic, bytearray], None]
BatteryHandler = Callable[[int], None]


class DeviceSession:
    """One connection's streaming steps for ``profile`` on a connected ``client``."""

    def __init__(self, client: BleakClient, profile: DeviceProfile, reply_timeout_s: float = 2.0):
        self.client = client
        self.profile = profile
        self._control = (
            _BridgeControl(client, reply_timeout_s) if isinstance(profile, BridgeProfile) else None
        )

    async def prepare(self, bridge_rate_hz: int | None = None) -> DeviceProfile:
        """Settings to apply before streaming; returns (and keeps) the profile that then holds.

        For the bridge, ``bridge_rate_hz`` is written with SET_RATE when it differs from the
        device's rate, and the info is read again.
        """
        profile = self.profile
        if self._control is None or bridge_rate_hz is None:
            return profile
        assert isinstance(profile, BridgeProfile)
        if profile.info.rate_hz == bridge_rate_hz:
            return profile
        status = await self._control.command(encode_command(Opcode.SET_RATE, bridge_rate_hz))
        if status is Status.BUSY:
            await self._control.command(encode_command(Opcode.STOP))
            status = await self._control.command(encode_command(Opcode.SET_RATE, bridge_rate_hz))
        if status is not Status.OK:
            raise DeviceError(f"the bridge refused the rate {bridge_rate_hz} Hz ({status.name})")
        info = await self.client.read_gatt_char(INFO_CHARACTERISTIC)
        self.profile = BridgeProfile.from_info_bytes(bytes(info))
        return self.profile

    async def start(self, on_data: DataHandler, on_battery: BatteryHandler | None = None) -> None:
        """Subscribe and start streaming (see module doc)."""
        for uuid in self.profile.data_characteristics:
            await self.client.start_notify(uuid, on_data)
        if on_battery is not None:
            await _subscribe_battery(self.client, on_battery)
        if self._control is not None:
            status = await self._control.command(encode_command(Opcode.START))
            if status is Status.BUSY:
                await self._control.command(encode_command(Opcode.STOP))
                status = await self._control.command(encode_command(Opcode.START))
            if status is not Status.OK:
                raise DeviceError(f"the bridge refused START ({status.name})")
            return
        for write in self.profile.start_writes():
            await self.client.write_gatt_char(
                write.characteristic, write.data, response=write.response
            )

    async def stop(self) -> None:
        """Send the profile's stop writes (replies are not awaited)."""
        for write in self.profile.stop_writes():
            await self.client.write_gatt_char(
                write.characteristic, write.data, response=write.response
            )


async def _subscribe_battery(client: BleakClient, on_battery: BatteryHandler) -> None:
    characteristic = client.services.get_characteristic(BATTERY_LEVEL_CHARACTERISTIC)
    if characteristic is None:
        return

    def report(value: bytes | bytearray) -> None:
        if len(value) == 1 and value[0] <= 100:
            on_battery(value[0])

    if "read" in characteristic.properties:
        report(await client.read_gatt_char(characteristic))
    if "notify" in characteristic.properties:
        await client.start_notify(characteristic, lambda _c, data: report(data))


class _BridgeControl:
    """Commands to the bridge's control characteristic and their notified replies."""

    def __init__(self, client: BleakClient, timeout_s: float) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.replies: asyncio.Queue[tuple[int, Status]] = asyncio.Queue()
        self._subscribed = False

    def _on_reply(self, _c: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            self.replies.put_nowait(decode_reply(bytes(data)))
        except ProtocolError:
            pass  # a malformed reply is answered by the timeout in command()

    async def command(self, data: bytes) -> Status:
        """Write a command and return the status of its reply (TimeoutError without one)."""
        if not self._subscribed:
            await self.client.start_notify(CONTROL_CHARACTERISTIC, self._on_reply)
            self._subscribed = True
        while not self.replies.empty():
            self.replies.get_nowait()
        await self.client.write_gatt_char(CONTROL_CHARACTERISTIC, data, response=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"the bridge did not answer command 0x{data[0]:02x}")
            opcode, status = await asyncio.wait_for(self.replies.get(), remaining)
            if opcode == data[0]:
                return status
