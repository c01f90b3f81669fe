"""A bleak backend on bumble's in-process link: the real BleakClient/BleakScanner, no radio.

bleak (3.x) lets a caller replace its platform backend: ``BleakClient(..., backend=cls)`` and
``BleakScanner(..., backend=cls)`` take a subclass of ``BaseBleakClient`` /
``BaseBleakScanner``. bleak ships no backend for bumble (a bumble backend was proposed upstream
but not merged, and no ``bleak-bumble`` package exists), so this module is a small one of our
own. It is a **stand-in for the operating system's Bluetooth stack** (BlueZ, WinRT,
CoreBluetooth), used to test the real client code against virtual sensors (:mod:`.virtual`):

- :class:`BumbleLinkScanner` starts LE scanning on the :class:`~.bumble_link.VirtualRadio`'s
  central Device and turns bumble advertisements into bleak ``BLEDevice`` /
  ``AdvertisementData`` (local name, service UUIDs, manufacturer and service data, TX power);
- :class:`BumbleLinkClient` connects over the link (an LE connection between two emulated
  controllers), exchanges the ATT MTU as desktop stacks do on connect (asks for 517), discovers
  services, characteristics and descriptors into bleak's GATT objects, reads and writes with
  or without response, subscribes through the CCCD and delivers ATT notifications to bleak's
  callbacks, and reports an unsolicited disconnection through bleak's disconnected callback.

Pairing is not emulated (the virtual sensors need none). bumble errors are turned into bleak's
(``BleakGATTProtocolError`` for ATT error responses, ``BleakError`` otherwise), as a platform
backend does. Use :meth:`VirtualRadio.bleak_backends` (or :func:`backends_for`) to get the two
classes bound to one radio.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import core
from bumble.att import ATT_Error
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Peer
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy
from bumble.hci import Address

if TYPE_CHECKING:
    from .bumble_link import VirtualRadio

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_PROPERTY_NAMES = (
    (Characteristic.Properties.BROADCAST, "broadcast"),
    (Characteristic.Properties.READ, "read"),
    (Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (Characteristic.Properties.WRITE, "write"),
    (Characteristic.Properties.NOTIFY, "notify"),
    (Characteristic.Properties.INDICATE, "indicate"),
    (Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES, "authenticated-signed-writes"),
    (Characteristic.Properties.EXTENDED_PROPERTIES, "extended-properties"),
)

_SERVICE_LISTS = (
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)
_SERVICE_DATA = (
    AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID,
    AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID,
)


def bleak_uuid(uuid: core.UUID) -> str:
    """A bumble UUID in bleak's form: 128-bit, lower case, with dashes."""
    return str(uuidlib.UUID(bytes=uuid.to_bytes(force_128=True)[::-1]))


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """bleak's view of a bumble advertisement (repeated structures are merged)."""
    data = advertisement.data
    name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.Type.SHORTENED_LOCAL_NAME
    )
    services: list[str] = []
    for kind in _SERVICE_LISTS:
        for group in data.get_all(kind):
            for uuid in group if isinstance(group, list) else [group]:
                text = bleak_uuid(uuid)
                if text not in services:
                    services.append(text)
    manufacturer: dict[int, bytes] = {}
    for company, payload in data.get_all(AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA):
        manufacturer[int(company)] = bytes(payload)
    service_data: dict[str, bytes] = {}
    for kind in _SERVICE_DATA:
        for uuid, payload in data.get_all(kind):
            service_data[bleak_uuid(uuid)] = bytes(payload)
    tx_power = data.get(AdvertisingData.Type.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=str(name) if name is not None else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=services,
        tx_power=int(tx_power) if tx_power is not None else None,
        rssi=int(advertisement.rssi),
        platform_data=(advertisement,),
    )


class BumbleLinkScanner(BaseBleakScanner):
    """bleak scanner backend on a VirtualRadio (stand-in for the OS stack; see module doc)."""

    radio: ClassVar[VirtualRadio]

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode != "passive"

    async def start(self) -> None:
        self.seen_devices = {}
        await self.radio.start_scanning(self._on_advertisement, self._active)

    async def stop(self) -> None:
        await self.radio.stop_scanning(self._on_advertisement)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address.to_string(False)
        device = self.create_or_update_device(
            address, address, adv.local_name, advertisement.address, adv
        )
        self.call_detection_callbacks(device, adv)


class BumbleLinkClient(BaseBleakClient):
    """bleak client backend on a VirtualRadio (stand-in for the OS stack; see module doc)."""

    radio: ClassVar[VirtualRadio]
    requested_mtu: ClassVar[int] = 517

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._bumble_address: Address | None = None
        self._name = self.address
        if isinstance(address_or_ble_device, BLEDevice):
            if isinstance(address_or_ble_device.details, Address):
                self._bumble_address = address_or_ble_device.details
            self._name = address_or_ble_device.name or self.address
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._closing = False
        self._lost: asyncio.Future[None] | None = None
        self._subscriptions: dict[int, Callable[[bytes], None]] = {}

    # -- properties ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    # -- connection -----------------------------------------------------------------------------
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            logger.info("pairing is not emulated on the virtual link; connecting without it")
        central = await self.radio.central()
        address = self._bumble_address or await self._find_address()
        try:
            connection = await central.connect(address, timeout=self._timeout)
        except core.BaseBumbleError as exc:
            raise BleakError(f"could not connect to {self.address}: {exc!r}") from exc
        self._connection = connection
        self._closing = False
        self._lost = asyncio.get_running_loop().create_future()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        self._peer = Peer(connection)
        try:
            await self._guard(self._peer.request_mtu(self.requested_mtu))
            self.services = await self._guard(self._discover())
        except BaseException:
            await self.disconnect()
            raise

    async def _find_address(self) -> Address:
        """Like a platform backend given a bare address: scan until it advertises."""
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Advertisement) -> None:
            if advertisement.address.to_string(False).upper() == self.address.upper():
                if not found.done():
                    found.set_result(advertisement.address)

        await self.radio.start_scanning(listener, active=True)
        try:
            return await asyncio.wait_for(found, self._timeout)
        except asyncio.TimeoutError:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            ) from None
        finally:
            await self.radio.stop_scanning(listener)

    def _on_disconnection(self, reason: int) -> None:
        solicited = self._closing
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        logger.debug("virtual link to %s closed (reason 0x%02x)", self.address, reason)
        if not solicited and self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._closing = True
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:
            if self._connection is not None:
                raise BleakError(f"could not disconnect from {self.address}: {exc!r}") from exc

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("pairing is not emulated on the virtual link")

    async def unpair(self) -> None:
        raise BleakError("pairing is not emulated on the virtual link")

    # -- GATT -------------------------------------------------------------------------------------
    async def _guard(self, operation: Awaitable[_T]) -> _T:
        """Run a GATT operation; a disconnection or a bumble error becomes a BleakError."""
        if self._connection is None or self._lost is None:
            if asyncio.iscoroutine(operation):
                operation.close()
            raise BleakError("Not connected")
        task = asyncio.ensure_future(operation)
        done, _ = await asyncio.wait({task, self._lost}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            task.cancel()
            raise BleakError(f"disconnected from {self.address}")
        try:
            return task.result()
        except ATT_Error as exc:
            raise BleakGATTProtocolError(int(exc.error_code)) from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"{type(exc).__name__}: {exc}") from exc

    async def _discover(self) -> BleakGATTServiceCollection:
        assert self._peer is not None and self._connection is not None
        peer, connection = self._peer, self._connection
        collection = BleakGATTServiceCollection()
        await peer.discover_services()
        for service in peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                await peer.discover_descriptors(characteristic)
                properties = [
                    name for flag, name in _PROPERTY_NAMES if characteristic.properties & flag
                ]
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bleak_uuid(characteristic.uuid),
                    properties,  # type: ignore[arg-type]
                    lambda: connection.att_mtu - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor,
                            descriptor.handle,
                            bleak_uuid(descriptor.type),
                            bleak_characteristic,
                        )
                    )
        return collection

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._peer
        return bytearray(await self._guard(_call(peer, "read_value", characteristic.handle)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._peer
        return bytearray(await self._guard(_call(peer, "read_value", descriptor.handle)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        peer = self._peer
        await self._guard(
            _call(peer, "write_value", characteristic.handle, bytes(data), with_response=response)
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._peer
        await self._guard(_call(peer, "write_value", descriptor.handle, bytes(data), True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        proxy: CharacteristicProxy = characteristic.obj
        peer = self._peer
        previous = self._subscriptions.pop(characteristic.handle, None)
        if previous is not None:
            await self._guard(_call(peer, "unsubscribe", proxy, previous))

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscriptions[characteristic.handle] = deliver
        await self._guard(_call(peer, "subscribe", proxy, deliver))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        subscriber = self._subscriptions.pop(characteristic.handle, None)
        if subscriber is not None:
            await self._guard(_call(self._peer, "unsubscribe", characteristic.obj, subscriber))


async def _call(peer: Peer | None, method: str, *args: Any, **kwargs: Any) -> Any:
    if peer is None:
        raise BleakError("Not connected")
    return await getattr(peer, method)(*args, **kwargs)


def backends_for(
    radio: VirtualRadio,
) -> tuple[type[BumbleLinkClient], type[BumbleLinkScanner]]:
    """Client and scanner backend classes bound to ``radio`` (bleak takes classes, not
    instances, so the radio is a class attribute of a subclass)."""
    client = type("BumbleLinkClient", (BumbleLinkClient,), {"radio": radio})
    scanner = type("BumbleLinkScanner", (BumbleLinkScanner,), {"radio": radio})
    return client, scanner
