"""A guard against a reference-count bug of PySide6 6.12 on Python 3.10 and 3.11.

PySide6 6.12.0 drops one reference to ``None`` on every call of a Qt method that returns
nothing (``QTimer.setInterval``, ``QPainter.drawLine``, ``QWidget.repaint``, ...), and one to
``True`` on every signal emission, as if these objects could not be freed. From Python 3.12 on
they cannot (they are immortal); on 3.10 and 3.11 their counts fall by thousands per redraw
and, a few seconds into a live view, reach zero: the interpreter aborts with "Fatal Python
error: none_dealloc: deallocating None" (or ``bool_dealloc``).

:func:`guard_none_refcount` measures the leak once and, only where it is found, gives ``None``,
``True`` and ``False`` what Python 3.12 gives them: a reference count so high that no leak can
exhaust it (they are never freed on any version, so nothing else changes). Upgrading PySide6
past the bug, or running Python 3.12+, makes the guard a no-op.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 48
"""References added to each: at 10^6 leaked per second, enough for nine years."""

_guarded = False


def leaks_singletons(calls: int = 64) -> bool:
    """True when Qt calls lose references to None (a method returning nothing) or to True
    (a signal emission)."""
    from pyqtgraph.Qt import QtCore

    timer = QtCore.QTimer()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        timer.setInterval(5)
        timer.timeout.emit()
    after = sys.getrefcount(None), sys.getrefcount(True)
    return any(b - a >= calls // 2 for b, a in zip(before, after, strict=True))


def guard_none_refcount() -> bool:
    """Apply the guard where the leak exists (once); returns whether it is in place."""
    global _guarded
    if _guarded:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not leaks_singletons():
        return False
    for obj in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(obj))
        refcount.value += _RESERVE
    _guarded = True
    return True
