"""Virtual Bluetooth EMG sensors on bumble, for tests and demos without hardware.

Each virtual sensor is a bumble peripheral on a :class:`~..bumble_link.VirtualRadio` that plays
one device profile from a recording (the simulator's or a file's) at real-time pace or faster,
on a clock that may drift, and injects the link faults of a :class:`FaultPlan` (lost
notifications, link drops with outages, delivery delays). The host side reaches it through the
real bleak API with the backend of :mod:`..bumble_backend`.

In-process use::

    radio = VirtualRadio()
    sensor = await start_virtual_sensor("bridge", radio, SampleFeed.simulated("night", 60))
    async with BleSource(DeviceTarget(name=sensor.name), **radio.bleak_backends()) as source:
        async for frame in source:
            ...
    await sensor.close()

- :class:`VirtualBridge`: the emgspasm bridge firmware (our protocol).
- :class:`VirtualMyo`: the Myo armband in raw EMG mode.
- :class:`VirtualGanglion`: the OpenBCI Ganglion with firmware 3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ....errors import ConfigError
from .bridge import VirtualBridge
from .faults import FaultPlan, SensorLog, SentNotification, StreamSession
from .feed import DeviceClock, SampleFeed
from .ganglion import VirtualGanglion
from .myo import VirtualMyo
from .peripheral import VirtualPeripheral

if TYPE_CHECKING:
    from ..bumble_link import VirtualRadio

SENSORS: dict[str, type[VirtualPeripheral]] = {
    "bridge": VirtualBridge,
    "myo": VirtualMyo,
    "ganglion": VirtualGanglion,
}


async def start_virtual_sensor(
    kind: str, radio: VirtualRadio, feed: SampleFeed, **options: Any
) -> VirtualPeripheral:
    """Make a virtual sensor of ``kind`` (``"bridge"``, ``"myo"``, ``"ganglion"``) streaming
    ``feed``, power it on and start advertising. ``options`` go to the sensor's class (``name``,
    ``address``, ``speed``, ``drift_ppm``, ``faults``, and the device's own settings)."""
    if kind not in SENSORS:
        raise ConfigError(f"unknown virtual sensor {kind!r}; choose one of {', '.join(SENSORS)}")
    sensor = SENSORS[kind](radio, feed, **options)
    await sensor.start()
    return sensor


__all__ = [
    "SENSORS",
    "DeviceClock",
    "FaultPlan",
    "SampleFeed",
    "SensorLog",
    "SentNotification",
    "StreamSession",
    "VirtualBridge",
    "VirtualGanglion",
    "VirtualMyo",
    "VirtualPeripheral",
    "start_virtual_sensor",
]
