"""Which device profile a connected device needs, from its GATT services and what they say.

Decided after connecting, from the services the device offers (a device is identified by what
it is, not by its name):

- emgspasm bridge service: the info characteristic is read; rate, channels and scale come from
  it (:meth:`BridgeProfile.from_info_bytes`);
- OpenBCI Ganglion service: the Device Information software revision (0x2A28) is read; its major
  version selects the packet format (:meth:`GanglionProfile.from_software_revision`);
- Myo EMG service: raw EMG mode; the four-characteristic rotation check only on request;
- MyoWare shield service: the peripheral example (the Nordic UART variant is only used when
  asked for, since many unrelated devices offer that service).

``kind`` restricts the choice to one profile; a device that does not offer it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from bleak import BleakClient

from ...errors import DeviceError
from .profiles import (
    BridgeProfile,
    DeviceProfile,
    GanglionProfile,
    MyoProfile,
    MyoWareProfile,
    bridge_control,
    ganglion,
    myo,
)

KINDS = ("bridge", "ganglion", "myo", "myoware")


@dataclass(frozen=True)
class ProfileOptions:
    """Choices the device cannot tell the host: ``kind`` (one of :data:`KINDS`, None for any),
    the Myo rotation check, and the MyoWare shield's settings (variant, output, unit, grid)."""

    kind: str | None = None
    myo_check_rotation: bool = False
    myoware: MyoWareProfile = MyoWareProfile()

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise DeviceError(f"unknown device kind {self.kind!r}; choose one of {KINDS}")


async def identify_profile(client: BleakClient, options: ProfileOptions) -> DeviceProfile:
    """The profile of the connected device. Raises DeviceError when it offers no supported
    service (or not the one asked for) and ProtocolError when what it says is malformed."""
    services = {service.uuid.lower() for service in client.services}

    def offers(kind: str, uuid: str) -> bool:
        return (options.kind is None or options.kind == kind) and uuid in services

    if offers("bridge", bridge_control.SERVICE):
        info = await client.read_gatt_char(bridge_control.INFO_CHARACTERISTIC)
        return BridgeProfile.from_info_bytes(bytes(info))
    if offers("ganglion", ganglion.SERVICE):
        if client.services.get_characteristic(ganglion.SOFTWARE_REVISION_CHARACTERISTIC) is None:
            raise DeviceError("the Ganglion does not say its software revision (0x2A28)")
        revision = await client.read_gatt_char(ganglion.SOFTWARE_REVISION_CHARACTERISTIC)
        return GanglionProfile.from_software_revision(bytes(revision))
    if offers("myo", myo.SERVICE):
        return MyoProfile(check_rotation=options.myo_check_rotation)
    shield = options.myoware
    if offers("myoware", shield.service_uuid) and (
        shield.variant == "shield" or options.kind == "myoware"
    ):
        return shield
    listed = ", ".join(sorted(services))
    if options.kind:
        raise DeviceError(f"device {client.address} is not a {options.kind} (services: {listed})")
    raise DeviceError(f"device {client.address} offers no supported EMG service ({listed})")


def same_stream(a: DeviceProfile, b: DeviceProfile) -> bool:
    """True if two profiles describe the same stream (a reconnect may continue it)."""
    return (a.name, a.fs, tuple(a.channels), a.units) == (b.name, b.fs, tuple(b.channels), b.units)
