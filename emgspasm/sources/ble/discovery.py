"""Finding the one device a user asked for: by address or by advertised name, never "the nearest".

A night recording must come from the sensor on the user's leg, not from a neighbour's armband,
so a source only ever connects to a device the user named. :func:`find_device` scans (optionally
only for advertisements carrying given service UUIDs) until a device matching the
:class:`DeviceTarget` shows up:

- by address: the first advertisement from that address;
- by name: the first advertisement with that local name, after which the scan goes on for
  ``ambiguity_s`` seconds; if another address advertises the same name the choice is refused
  (:class:`~emgspasm.errors.DeviceError` naming the addresses), since picking one would be a
  guess. Name and address together must both match.

A device not seen within ``timeout`` gives a DeviceError that lists what was seen instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from ...errors import DeviceError


class DeviceNotFound(DeviceError):
    """The device asked for did not advertise within the scan time."""


@dataclass(frozen=True)
class DeviceTarget:
    """The device to stream from: its address, its advertised name, or both."""

    address: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.address and not self.name:
            raise DeviceError("name the device to connect to (an address or a name)")

    def matches(self, device: BLEDevice, adv: AdvertisementData | None = None) -> bool:
        """True if an advertisement (or a known device) is this target."""
        if self.address and device.address.lower() != self.address.lower():
            return False
        if self.name:
            names = {device.name, adv.local_name if adv is not None else None}
            if self.name not in names:
                return False
        return True

    def pinned(self, address: str) -> DeviceTarget:
        """The same target tied to the address it was found at (for reconnects)."""
        return DeviceTarget(address=address, name=self.name)

    def __str__(self) -> str:
        if self.address and self.name:
            return f"{self.name!r} at {self.address}"
        return self.address or repr(self.name)


async def find_device(
    target: DeviceTarget,
    *,
    timeout: float = 10.0,
    service_uuids: list[str] | None = None,
    ambiguity_s: float = 0.5,
    scanner_backend: type[BaseBleakScanner] | None = None,
) -> tuple[BLEDevice, AdvertisementData]:
    """Scan for ``target``; see the module doc. Raises DeviceError when it is not found or when
    its name is ambiguous."""
    found: dict[str, tuple[BLEDevice, AdvertisementData]] = {}
    others: dict[str, str | None] = {}
    first = asyncio.Event()

    def on_advertisement(device: BLEDevice, adv: AdvertisementData) -> None:
        if target.matches(device, adv):
            found.setdefault(device.address.upper(), (device, adv))
            first.set()
        else:
            others[device.address.upper()] = adv.local_name or device.name

    scanner = BleakScanner(on_advertisement, service_uuids, backend=scanner_backend)
    try:
        await scanner.start()
        try:
            await asyncio.wait_for(first.wait(), timeout)
        except asyncio.TimeoutError:
            seen = ", ".join(f"{n or '(no name)'} at {a}" for a, n in sorted(others.items()))
            raise DeviceNotFound(
                f"device {target} not found after scanning {timeout:g} s"
                + (f"; seen: {seen}" if seen else "; no device seen")
            ) from None
        if not target.address and ambiguity_s > 0:
            await asyncio.sleep(ambiguity_s)
    finally:
        await scanner.stop()
    if len(found) > 1:
        raise DeviceError(
            f"more than one device is called {target.name!r} ({', '.join(sorted(found))}); "
            "choose one by its address"
        )
    return next(iter(found.values()))
