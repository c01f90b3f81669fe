"""An in-process Bluetooth LE "air": bumble controllers on one LocalLink, no radio hardware.

bumble (Google's Python Bluetooth stack) can emulate Bluetooth controllers in software; a
:class:`bumble.link.LocalLink` carries advertisements, connection requests and ACL data between
them within one asyncio event loop. :class:`VirtualRadio` owns such a link and

- one *central* bumble :class:`~bumble.device.Device` that plays the host's Bluetooth adapter;
  the bleak backend of :mod:`.bumble_backend` drives it, so the real ``BleakClient`` and
  ``BleakScanner`` run on top of it;
- makes the peripheral Devices the virtual sensors (:mod:`.virtual`) are built on.

Everything (sensors, central, host code) must run in the same event loop.

The controllers and hosts are bumble's own with one change: bumble formats every HCI packet it
passes into a debug line (colours, all fields) before the logger decides to drop it, which costs
about a quarter of the CPU time of a long virtual stream. :class:`QuietController` and
:class:`QuietHost` skip that formatting unless debug logging of bumble is enabled (then they
behave exactly as bumble's classes do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bumble import controller as bumble_controller
from bumble import hci
from bumble import host as bumble_host
from bumble.controller import Controller
from bumble.device import Advertisement, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

CENTRAL_ADDRESS = "C0:E7:50:00:00:01"
"""Static random address of the virtual host adapter."""


class QuietController(Controller):
    """bumble's emulated controller without the eager debug formatting (see module doc)."""

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if bumble_controller.logger.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)  # rare kinds: bumble's own handling

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if bumble_controller.logger.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))


class QuietHost(Host):
    """bumble's host without the eager debug formatting (see module doc)."""

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.snooper or bumble_host.logger.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Event):
            self.on_hci_event_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if self.snooper or bumble_host.logger.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.hci_sink:
            self.hci_sink.on_packet(bytes(packet))


class VirtualRadio:
    """A LocalLink with a central Device for bleak and any number of peripherals."""

    def __init__(self, central_address: str = CENTRAL_ADDRESS) -> None:
        self.link = LocalLink()
        self.central_address = central_address
        self._central: Device | None = None
        self._central_lock = asyncio.Lock()
        self._scan_listeners: set[Callable[[Advertisement], None]] = set()

    def device(self, name: str, address: str) -> Device:
        """A new (powered-off) bumble Device with its own controller on this link."""
        controller = QuietController(name, link=self.link)
        return Device(
            name=name,
            address=Address(address),
            host=QuietHost(controller, AsyncPipeSink(controller)),
        )

    async def central(self) -> Device:
        """The host side's Device, powered on at first use."""
        async with self._central_lock:
            if self._central is None:
                central = self.device("emgspasm-host", self.central_address)
                await central.power_on()
                central.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
                self._central = central
            return self._central

    # -- scanning is shared: bleak may run several scanners on one adapter --------------------
    async def start_scanning(self, listener: Callable[[Advertisement], None], active: bool) -> None:
        central = await self.central()
        first = not self._scan_listeners
        self._scan_listeners.add(listener)
        if first:
            await central.start_scanning(active=active, filter_duplicates=False)

    async def stop_scanning(self, listener: Callable[[Advertisement], None]) -> None:
        if listener not in self._scan_listeners:
            return
        self._scan_listeners.discard(listener)
        if not self._scan_listeners and self._central is not None:
            await self._central.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._scan_listeners):
            listener(advertisement)

    def bleak_backends(self) -> dict[str, Any]:
        """``client_backend`` and ``scanner_backend`` bound to this radio, as keyword arguments
        for :class:`~emgspasm.sources.ble.client.BleSource`."""
        from .bumble_backend import backends_for

        client, scanner = backends_for(self)
        return {"client_backend": client, "scanner_backend": scanner}
