"""The bleak backend on bumble's in-process link, used through bleak's own public API:
BleakScanner and BleakClient with ``backend=``, against a plain bumble GATT server.

Everything runs on the virtual-time loop: the short waits for a write or a notification to go
through the link are then exact, whatever else the machine is doing."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import data_types
from bumble.att import ATT_Error, ErrorCode
from bumble.core import UUID, AdvertisingData
from bumble.device import Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import HCI_CONNECTION_TIMEOUT_ERROR

from emgspasm.sources.ble.bumble_link import VirtualRadio
from emgspasm.sources.ble.virtual.virtual_time import run_virtual

SERVICE = "0b8b0001-2c4e-4d3a-9d6f-000000000001"
NOTIFY = "0b8b0002-2c4e-4d3a-9d6f-000000000001"
RW = "0b8b0003-2c4e-4d3a-9d6f-000000000001"
READ_ONLY = "0b8b0004-2c4e-4d3a-9d6f-000000000001"
ADDRESS = "F1:22:33:44:55:66"


class Peripheral:
    """A small bumble GATT server: one notify, one read/write, one read-only characteristic."""

    def __init__(self, radio: VirtualRadio, name: str = "probe", address: str = ADDRESS):
        self.writes: list[bytes] = []
        self.value = b"initial"
        self.notify = Characteristic(
            NOTIFY, Characteristic.Properties.NOTIFY, Characteristic.READABLE, b""
        )
        rw = Characteristic(
            RW,
            Characteristic.Properties.READ
            | Characteristic.Properties.WRITE
            | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(read=lambda _c: self.value, write=self._write),
        )
        read_only = Characteristic(
            READ_ONLY, Characteristic.Properties.READ, Characteristic.READABLE, b"fixed"
        )
        self.device: Device = radio.device(name, address)
        self.device.add_service(Service(SERVICE, [self.notify, rw, read_only]))
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    data_types.Flags(AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE),
                    data_types.CompleteListOf128BitServiceUUIDs([UUID(SERVICE)]),
                    data_types.CompleteLocalName(name),
                    data_types.ManufacturerSpecificData(0x0059, b"\x01\x02"),
                ]
            )
        )

    def _write(self, _connection: object, value: bytes) -> None:
        if bytes(value) == b"refused":  # the server answers with an ATT error response
            raise ATT_Error(error_code=ErrorCode.WRITE_NOT_PERMITTED)
        self.writes.append(bytes(value))
        self.value = bytes(value)

    async def start(self) -> None:
        await self.device.power_on()
        await self.device.start_advertising(
            advertising_interval_min=20, advertising_interval_max=20
        )


def test_scanner_reports_advertisements_and_filters_by_service() -> None:
    async def main() -> None:
        radio = VirtualRadio()
        await Peripheral(radio).start()
        await Peripheral(radio, "other", "F1:22:33:44:55:77").start()
        backends = radio.bleak_backends()
        found = await BleakScanner.discover(
            timeout=0.2, return_adv=True, backend=backends["scanner_backend"]
        )
        device, adv = found[ADDRESS]
        assert device.name == "probe" and adv.local_name == "probe"
        assert adv.service_uuids == [SERVICE]
        assert adv.manufacturer_data == {0x0059: b"\x01\x02"}
        assert "F1:22:33:44:55:77" in found
        only = await BleakScanner.discover(
            timeout=0.2,
            service_uuids=["0b8b0001-2c4e-4d3a-9d6f-0000000000ff"],
            backend=backends["scanner_backend"],
        )
        assert only == []
        by_name = await BleakScanner.find_device_by_name(
            "other", timeout=1.0, backend=backends["scanner_backend"]
        )
        assert by_name is not None and by_name.address == "F1:22:33:44:55:77"

    run_virtual(main())


def test_client_gatt_operations_through_bleak() -> None:
    async def main() -> None:
        radio = VirtualRadio()
        peripheral = Peripheral(radio)
        await peripheral.start()
        backends = radio.bleak_backends()
        device = await BleakScanner.find_device_by_address(
            ADDRESS, timeout=1.0, backend=backends["scanner_backend"]
        )
        assert device is not None
        async with BleakClient(device, backend=backends["client_backend"]) as client:
            assert client.is_connected and client.backend_id == "BumbleLinkClient"
            assert client.mtu_size == 517  # exchanged on connect, as desktop stacks do
            service = client.services.get_service(SERVICE)
            assert service is not None
            rw = service.get_characteristic(RW)
            assert rw is not None
            assert sorted(rw.properties) == ["read", "write", "write-without-response"]
            assert rw.max_write_without_response_size == 514
            notify = client.services.get_characteristic(NOTIFY)
            assert notify is not None and notify.properties == ["notify"]
            assert [d.uuid for d in notify.descriptors] == ["00002902-0000-1000-8000-00805f9b34fb"]
            assert await client.read_gatt_char(RW) == bytearray(b"initial")
            await client.write_gatt_char(RW, b"with", response=True)
            await client.write_gatt_char(RW, b"without", response=False)
            await asyncio.sleep(0.01)
            assert peripheral.writes == [b"with", b"without"]
            assert await client.read_gatt_char(RW) == bytearray(b"without")
            with pytest.raises(BleakGATTProtocolError) as refused:
                await client.write_gatt_char(RW, b"refused", response=True)
            assert refused.value.code == ErrorCode.WRITE_NOT_PERMITTED
            assert await client.read_gatt_char(READ_ONLY) == bytearray(b"fixed")

            received: list[bytes] = []
            await client.start_notify(NOTIFY, lambda _c, data: received.append(bytes(data)))
            await peripheral.device.notify_subscribers(peripheral.notify, b"\x01" * 300)
            await asyncio.sleep(0.01)
            await client.stop_notify(NOTIFY)
            await peripheral.device.notify_subscribers(peripheral.notify, b"\x02")
            await asyncio.sleep(0.01)
            assert received == [b"\x01" * 300]
        assert not client.is_connected

    run_virtual(main())


def test_disconnected_callback_only_for_a_drop_and_errors_after_it() -> None:
    async def main() -> None:
        radio = VirtualRadio()
        peripheral = Peripheral(radio)
        await peripheral.start()
        backends = radio.bleak_backends()
        drops: list[BleakClient] = []
        # a bare address: the backend scans for it first, as platform backends do
        client = BleakClient(
            ADDRESS, disconnected_callback=drops.append, backend=backends["client_backend"]
        )
        await client.connect()
        await client.disconnect()
        await asyncio.sleep(0.01)
        assert drops == []  # asked for: no callback
        await peripheral.start()
        await client.connect()
        [connection] = peripheral.device.connections.values()
        await connection.disconnect(HCI_CONNECTION_TIMEOUT_ERROR)
        await asyncio.sleep(0.01)
        assert drops == [client] and not client.is_connected
        with pytest.raises(BleakError):
            await client._backend.read_gatt_char(client.services.get_characteristic(RW))
        missing = BleakClient("F1:00:00:00:00:00", timeout=0.3, backend=backends["client_backend"])
        with pytest.raises(BleakDeviceNotFoundError):
            await missing.connect()

    run_virtual(main())
