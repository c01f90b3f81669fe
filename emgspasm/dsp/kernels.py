"""Numba kernels over arrays with explicit state, in the manner of ``scipy.signal.sosfilt(zi=)``.

State lives in arrays the caller keeps between calls, so a stream cut into blocks of any size
gives exactly the output of the whole stream at once: every sample goes through the same
arithmetic whatever the block boundaries, and the state carried between calls is the exact
float32 state, so the output is bit-identical for any cut.

Two loop orders, chosen by the number of channels, give bit-identical results (same operations in
the same order per sample, multiply-adds fused the same way):

- **per channel** (fewer than :data:`LANES_FROM` channels): time outermost for one channel, with
  four sections' states at a time in local variables (registers). A section's recurrence is then
  only two fused multiply-adds long and the four sections overlap in the CPU, instead of waiting
  for each state to go through memory (store, then load) every sample.
- **side by side** (:data:`LANES_FROM` channels or more): the same, with the channels in the
  float32 lanes of one vector register (:mod:`emgspasm.dsp.lanes`), eight at a time.

Each section runs in transposed direct form II (as scipy does), written so that the loop-carried
chain is ``o = b0*v + s1`` then ``s1' = (b1*v + s2) - a1*o``: the term that does not depend on
``o`` is formed off the critical path.

Numba's on-disk cache of a kernel compiled elsewhere (``emgspasm.detect.kernel`` builds these into
its own) does not notice an edit of this module or of :mod:`emgspasm.dsp.lanes`: after changing
them, delete the ``*.nbi``/``*.nbc`` files under ``emgspasm/detect/__pycache__``.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np
from scipy import signal

from .lanes import first_lanes, fma, lanes_in, load_stored, mask_of, mul, splat, store

LANES_FROM = 2
"""From this many channels on, the channels side by side in lanes are the faster kernel."""
LANES = 8
"""Channels side by side: eight float32 lanes, a 256-bit register."""

_FAST = {"contract"}
"""Only fusing multiply-adds is allowed: no reassociation, so every sample is computed alike."""


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _section(v, b0, b1, b2, a1, a2, s1, s2):
    """One transposed direct-form II step: output and the section's new state."""
    o = b0 * v + s1
    w = b1 * v + s2
    return o, w - a1 * o, b2 * v - a2 * o


@numba.njit(cache=True, nogil=True)
def _coefficients(sos, k):
    """``b0, b1, b2, a1, a2`` of section ``k`` (``a0`` is 1); past the last section, a section
    that passes its input through exactly (``v * 1 + 0``) and keeps a zero state."""
    if k < sos.shape[0]:
        return sos[k, 0], sos[k, 1], sos[k, 2], sos[k, 4], sos[k, 5]
    one, zero = sos.dtype.type(1.0), sos.dtype.type(0.0)
    return one, zero, zero, zero, zero


@numba.njit(cache=True, nogil=True)
def _state(z, k, c):
    """State ``z[k, c]``, or zero for a pass-through section past the last one."""
    return z[k, c] if k < z.shape[0] else z.dtype.type(0.0)


@numba.njit(cache=True, nogil=True, fastmath=_FAST, boundscheck=False)
def _per_channel(sos, src, dst, z1, z2, c0):
    """Each channel on its own, sections in groups of four held in registers.

    The first group reads ``src``, later groups work in place on ``dst``. A last group of fewer
    than four sections is filled up with pass-through sections, whose output is their input
    exactly (for finite input), so the result does not depend on the grouping.
    """
    nsec = sos.shape[0]
    for c in range(src.shape[1]):
        zc = c0 + c
        if nsec == 0:
            for t in range(src.shape[0]):
                dst[t, c] = src[t, c]
        for k in range(0, nsec, 4):
            b00, b01, b02, a01, a02 = _coefficients(sos, k)
            b10, b11, b12, a11, a12 = _coefficients(sos, k + 1)
            b20, b21, b22, a21, a22 = _coefficients(sos, k + 2)
            b30, b31, b32, a31, a32 = _coefficients(sos, k + 3)
            p0, q0 = _state(z1, k, zc), _state(z2, k, zc)
            p1, q1 = _state(z1, k + 1, zc), _state(z2, k + 1, zc)
            p2, q2 = _state(z1, k + 2, zc), _state(z2, k + 2, zc)
            p3, q3 = _state(z1, k + 3, zc), _state(z2, k + 3, zc)
            for t in range(src.shape[0]):
                v = src[t, c] if k == 0 else dst[t, c]
                v, p0, q0 = _section(v, b00, b01, b02, a01, a02, p0, q0)
                v, p1, q1 = _section(v, b10, b11, b12, a11, a12, p1, q1)
                v, p2, q2 = _section(v, b20, b21, b22, a21, a22, p2, q2)
                v, p3, q3 = _section(v, b30, b31, b32, a31, a32, p3, q3)
                dst[t, c] = v
            for j, (p, q) in enumerate(((p0, q0), (p1, q1), (p2, q2), (p3, q3))):
                if k + j < nsec:
                    z1[k + j, zc] = p
                    z2[k + j, zc] = q


@numba.njit(cache=True, inline="always")
def _section_lanes(v, b0, b1, b2, a1, a2, s1, s2):
    """:func:`_section` in every lane, fused as the compiler fuses the scalar code."""
    o = fma(b0, v, s1)
    return o, fma(-a1, o, fma(b1, v, s2)), fma(b2, v, mul(-a2, o))


@numba.njit(cache=True, inline="always")
def _state_lanes(z, k, c0, valid, like):
    """State row ``k`` from column ``c0`` in lanes, or zeros past the last section."""
    return load_stored(z, k, c0, valid) if k < z.shape[0] else splat(0.0, like)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _across_channels(sos, src, dst, z1, z2, c0, shape):
    """Channels side by side in the lanes of a vector register (as many as the mask ``shape``
    has), time outermost, four sections' states at a time held in registers as in
    :func:`_per_channel`. The first group of sections reads ``src``, later ones work in place on
    ``dst``."""
    n, nch = src.shape
    nsec = sos.shape[0]
    lanes = lanes_in(shape)
    for g in range(0, nch, lanes):
        valid = mask_of((1 << min(lanes, nch - g)) - 1, shape)
        zc = c0 + g
        like = load_stored(src, 0, g, valid)
        if nsec == 0:
            for t in range(n):
                store(dst, t, g, load_stored(src, t, g, valid), valid)
        for k in range(0, nsec, 4):
            b00, b01, b02, a01, a02 = _coefficients(sos, k)
            b10, b11, b12, a11, a12 = _coefficients(sos, k + 1)
            b20, b21, b22, a21, a22 = _coefficients(sos, k + 2)
            b30, b31, b32, a31, a32 = _coefficients(sos, k + 3)
            p0, q0 = _state_lanes(z1, k, zc, valid, like), _state_lanes(z2, k, zc, valid, like)
            p1, q1 = (_state_lanes(z1, k + 1, zc, valid, like),
                      _state_lanes(z2, k + 1, zc, valid, like))
            p2, q2 = (_state_lanes(z1, k + 2, zc, valid, like),
                      _state_lanes(z2, k + 2, zc, valid, like))
            p3, q3 = (_state_lanes(z1, k + 3, zc, valid, like),
                      _state_lanes(z2, k + 3, zc, valid, like))
            m = min(4, nsec - k)  # a loop-invariant test: the compiler makes a loop for each m
            for t in range(n):
                v = load_stored(src, t, g, valid) if k == 0 else load_stored(dst, t, g, valid)
                v, p0, q0 = _section_lanes(v, b00, b01, b02, a01, a02, p0, q0)
                if m > 1:
                    v, p1, q1 = _section_lanes(v, b10, b11, b12, a11, a12, p1, q1)
                if m > 2:
                    v, p2, q2 = _section_lanes(v, b20, b21, b22, a21, a22, p2, q2)
                if m > 3:
                    v, p3, q3 = _section_lanes(v, b30, b31, b32, a31, a32, p3, q3)
                store(dst, t, g, v, valid)
            for j, (p, q) in enumerate(((p0, q0), (p1, q1), (p2, q2), (p3, q3))):
                if k + j < nsec:
                    store(z1, k + j, zc, p, valid)
                    store(z2, k + j, zc, q, valid)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def filter_each_channel(sos, x, y, z1, z2):
    """Filter ``x`` (n, g) into ``y``, each channel on its own; ``z1``/``z2`` are exactly the
    group's state ``(sections, g)``."""
    _per_channel(sos, x, y, z1, z2, 0)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def filter_across_channels(sos, x, y, z1, z2, c0=0):
    """As :func:`filter_each_channel`, channels side by side in vector lanes; the block's
    channels use state columns from ``c0``."""
    _across_channels(sos, x, y, z1, z2, c0, first_lanes(0, LANES))


def sosfilt_block(
    sos: np.ndarray, x: np.ndarray, y: np.ndarray, z1: np.ndarray, z2: np.ndarray, c0: int = 0
) -> None:
    """Filter ``x`` (n, g) into ``y`` (n, g) with the section cascade ``sos``, all float32.

    ``z1``/``z2`` are ``(sections, channels)`` and carry the state between calls; the block's
    channels use state columns ``c0 .. c0 + g``, so that a group of channels can be filtered on
    its own (in another thread, say) against the stream's state arrays. ``y`` may be ``x``
    (in place). ``x`` and ``y`` must be C-contiguous.
    """
    if x.shape[1] < LANES_FROM:
        _per_channel(sos, x, y, z1, z2, c0)
    else:
        filter_across_channels(sos, x, y, z1, z2, c0)


def sosfilt_inplace(sos: np.ndarray, y: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> None:
    """Run the section cascade ``sos`` over ``y`` (n, channels) in place (transposed DF-II).

    ``z1``/``z2`` are ``(sections, channels)`` and carry the filter state between calls.
    """
    sosfilt_block(sos, y, y, z1, z2, 0)


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
    zi = _steady_gains(np.ascontiguousarray(sos, dtype=np.float64).tobytes())
    z1[:] = zi[:, 0, None] * first[None, :]
    z2[:] = zi[:, 1, None] * first[None, :]
    return z1, z2


@lru_cache(maxsize=64)
def _steady_gains(sos: bytes) -> np.ndarray:
    """``sosfilt_zi`` of the sections ``sos`` (as bytes, to be kept once made): (sections, 2),
    gains of earlier sections included."""
    return signal.sosfilt_zi(np.frombuffer(sos).reshape(-1, 6).copy())


def sosfilt_stream(sos: np.ndarray, x: np.ndarray, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Filter ``x`` (n, channels) with carried state; returns a new float32 array."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    x = np.ascontiguousarray(x)
    y = np.empty_like(x)
    sosfilt_block(np.ascontiguousarray(sos, dtype=np.float32), x, y, z1, z2, 0)
    return y
