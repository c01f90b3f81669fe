"""The Numba kernel that turns EDF/BDF data records into physical samples (see :mod:`.edf`).

Kept apart so that reading a header (``emgspasm info``) does not load Numba.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, boundscheck=False)
def decode_records(
    buf: np.ndarray,
    skip: int,
    per_record: int,
    record_bytes: int,
    width: int,
    offsets: np.ndarray,
    bitvalue: np.ndarray,
    offset: np.ndarray,
    out: np.ndarray,
    row0: int,
) -> int:
    """Decode whole data records in ``buf`` (uint8) into ``out[row0:]`` (float32, rows = samples,
    one column per channel), from sample ``skip`` of the first record on, until ``out`` is full or
    ``buf`` ends. Returns the number of rows written.

    ``width`` is 2 (EDF, 16-bit) or 3 (BDF, 24-bit) bytes per sample, little-endian two's
    complement; channel ``c`` starts ``offsets[c]`` bytes into each ``record_bytes``-long record
    and becomes ``bitvalue[c] * (offset[c] + digital)`` in double precision, as in edflib.
    """
    rows = min(out.shape[0] - row0, (buf.size // record_bytes) * per_record - skip)
    i = 0
    r = 0
    k = skip
    while i < rows:
        take = min(per_record - k, rows - i)
        base = r * record_bytes + k * width
        for j in range(take):
            row = out[row0 + i + j]
            for c in range(offsets.size):
                p = base + offsets[c] + j * width
                d = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)
                if width == 3:
                    d = ((d | (np.int64(buf[p + 2]) << 16)) ^ 0x800000) - 0x800000
                else:
                    d = (d ^ 0x8000) - 0x8000
                row[c] = bitvalue[c] * (offset[c] + np.float64(d))
        i += take
        r += 1
        k = 0
    return rows
