"""A stand-in for the passage of time: an asyncio loop whose clock jumps to the next timer.

Everything on the in-process Bluetooth link (bumble's emulated controllers, the virtual sensors,
the bleak client on :mod:`..bumble_backend`) waits on the event loop's timers and never on real
input/output, so a loop that, instead of sleeping, advances its clock straight to the next
scheduled callback runs their exchange exactly as in real time, only without the waiting: an
hour of streaming costs the CPU time of its packets. Arrival times are then free of scheduling
noise; delays come only from what a :class:`~.faults.FaultPlan` injects. Used by tests of long
sessions and clock drift; anything that does real I/O or reads ``time.monotonic()`` directly
does not belong on this loop.

:class:`ScaledTimeLoop` is the same idea at a fixed pace: its clock runs ``speed`` times faster
than the real one, so a virtual sensor playing at its nominal rate on this clock streams
``speed`` times faster than real time while every party on the link (the host's clock mapping,
reconnect back-off, timeouts) still sees a device at its nominal rate. Scheduling delays of the
real machine are multiplied by ``speed`` on this clock.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """Event loop on virtual time (see module doc). Real I/O still works but never waits."""

    def __init__(self, start: float = 1000.0) -> None:
        super().__init__(selectors.DefaultSelector())
        self._virtual_now = start
        real_select = self._selector.select

        def select(timeout: float | None = None) -> list:
            events = real_select(0)
            if not events:
                if timeout is None:
                    raise RuntimeError("virtual time: nothing is scheduled, the test would hang")
                self._virtual_now += max(0.0, timeout)
            return events

        self._selector.select = select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._virtual_now


class ScaledTimeLoop(asyncio.SelectorEventLoop):
    """Event loop whose clock runs ``speed`` times faster than ``time.monotonic()``."""

    def __init__(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError("the speed of a scaled clock must be positive")
        super().__init__(selectors.DefaultSelector())
        self.speed = float(speed)
        self._real_start = time.monotonic()
        real_select = self._selector.select

        def select(timeout: float | None = None) -> list:
            return real_select(None if timeout is None else max(0.0, timeout) / self.speed)

        self._selector.select = select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._real_start + (time.monotonic() - self._real_start) * self.speed


def run_virtual(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to completion on a fresh :class:`VirtualTimeLoop`."""
    return run_on(VirtualTimeLoop(), main)


def run_on(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` to completion on ``loop``, then cancel what is left and close the loop."""
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
