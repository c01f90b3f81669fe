"""Numba kernels over arrays with explicit state, in the manner of ``scipy.signal.sosfilt(zi=)``.

State lives in arrays the caller keeps between calls, so a stream cut into blocks of any size
gives exactly the output of the whole stream at once. Channels are the innermost loop so the
compiler vectorises across them.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import signal


@numba.njit(cache=True, nogil=True, fastmath=True, boundscheck=False)
def sosfilt_inplace(sos: np.ndarray, y: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> None:
    """Run the section cascade ``sos`` over ``y`` (n, channels) in place (transposed DF-II).

    ``z1``/``z2`` are ``(sections, channels)`` and carry the filter state between calls.
    """
    n, nch = y.shape
    nsec = sos.shape[0]
    for t in range(n):
        yt = y[t]
        for s in range(nsec):
            b0 = sos[s, 0]
            b1 = sos[s, 1]
            b2 = sos[s, 2]
            a1 = sos[s, 4]
            a2 = sos[s, 5]
            s1 = z1[s]
            s2 = z2[s]
            for c in range(nch):
                v = yt[c]
                o = b0 * v + s1[c]
                s1[c] = b1 * v - a1 * o + s2[c]
                s2[c] = b2 * v - a2 * o
                yt[c] = o


def sos_state(sos: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filter state as if the signal had always been ``first`` (one value per channel).

    Starting from this steady state avoids the step response a DC offset would otherwise give
    at the start of a stream or after a gap.
    """
    first = np.asarray(first, dtype=np.float64)
    nsec = sos.shape[0]
    z1 = np.zeros((nsec, first.size), dtype=np.float32)
    z2 = np.zeros((nsec, first.size), dtype=np.float32)
    if nsec == 0:
        return z1, z2
    zi = signal.sosfilt_zi(sos)  # (sections, 2), gains of earlier sections included
    z1[:] = zi[:, 0, None] * first[None, :]
    z2[:] = zi[:, 1, None] * first[None, :]
    return z1, z2


def sosfilt_stream(sos: np.ndarray, x: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Filter ``x`` (n, channels) with carried state; returns a new float32 array."""
    y = np.array(x, dtype=np.float32, order="C", copy=True)
    if y.ndim == 1:
        y = y[:, None]
    sosfilt_inplace(np.ascontiguousarray(sos, dtype=np.float32), y, z1, z2)
    return y
