"""The per-sample detection kernel (Numba): envelope, resting baseline, activity state machine.

One plain function over arrays; every bit of per-channel state lives in arrays the caller keeps,
so the output does not depend on how the stream is cut into blocks. Events are written to
preallocated arrays as rows of integers and floats; the Detector turns them into Episodes.
"""

from __future__ import annotations

import numba
import numpy as np

# Event types written by the kernel.
EV_SPASM_CONFIRMED = 1  # a candidate has lasted long enough: the spasm is known (offset open)
EV_SPASM_END = 2  # a confirmed spasm has ended
EV_POTENTIAL = 3  # an isolated short potential at rest (fasciculation candidate)
EV_FLAT = 4  # a flat-line (lead-off) segment has ended

# Columns of the integer event rows.
EI_TYPE, EI_CH, EI_ONSET, EI_OFFSET, EI_DETECTED, EI_PEAK_AT, EI_CLIPPED, EI_AT = range(8)
N_EI = 8
"""``EI_AT`` is the sample at which the kernel decided: episodes are ordered by it."""
# Columns of the float event rows.
EF_PEAK, EF_RMS, EF_BASE_RMS, EF_ACTIVE = range(4)
N_EF = 4

# Parameter vector layout (float64), filled by ``kernel_params``.
(
    P_WIN,
    P_ON2,
    P_OFF2,
    P_LOW2,
    P_FASC2,
    P_FLAT2,
    P_ETA_REST,
    P_ETA_FAST,
    P_ETA_CREEP,
    P_MIN_DUR,
    P_DROPOUT,
    P_MIN_FRAC,
    P_MAX_WIDTH,
    P_GUARD,
    P_FLAT_MIN,
    P_CLIP,
) = range(16)
N_PARAMS = 16

# Per-channel float state.
(
    SF_MSUM,
    SF_B2,
    SF_PEAK,
    SF_SUMSQ,
    SF_SUMSQ_ACTIVE,
    SF_LOW_SUMSQ,
    SF_LOW_PEAK,
    SF_PEND_PEAK,
    SF_PEND_BASE,
) = range(9)
N_SF = 9
# Per-channel integer state.
(
    SI_POS,
    SI_STATE,
    SI_ONSET,
    SI_LAST_ACTIVE,
    SI_ACTIVE_N,
    SI_DETECTED,
    SI_LAST_LOW,
    SI_PREV_END,
    SI_PEAK_AT,
    SI_F_FIRST,
    SI_F_LAST,
    SI_LOW_PEAK_AT,
    SI_LOW_F_FIRST,
    SI_LOW_F_LAST,
    SI_CLIP_N,
    SI_LOW_CLIP_N,
    SI_WARM_UNTIL,
    SI_FILLED_AT,
    SI_FLAT_START,
    SI_PEND_ONSET,
    SI_PEND_OFFSET,
    SI_PEND_PEAK_AT,
    SI_CLIPPED_TOTAL,
) = range(23)
N_SI = 23

REST, CANDIDATE, CONFIRMED = 0, 1, 2

WIDTH_LEVEL2 = 0.25**2
"""A potential's width ends where it last exceeds a quarter of its peak (squared here), so the
filter's ringing after a large potential does not widen it."""


@numba.njit(cache=True, nogil=True, boundscheck=False)
def detect_block(
    y: np.ndarray,
    x: np.ndarray,
    g0: int,
    prm: np.ndarray,
    sf: np.ndarray,
    si: np.ndarray,
    ring: np.ndarray,
    ev_i: np.ndarray,
    ev_f: np.ndarray,
    ev_n: np.ndarray,
) -> None:
    """Advance every channel over the filtered block ``y`` whose first sample has index ``g0``.

    ``x`` is the raw block (for clipping). Each channel writes its events to
    its own rows ``ev_i[c, :ev_n[c]]`` and ``ev_f[c, :ev_n[c]]``.
    """
    n, nch = y.shape
    win = ring.shape[1]
    inv_win = 1.0 / win
    on2 = prm[P_ON2]
    off2 = prm[P_OFF2]
    low2 = prm[P_LOW2]
    fasc2 = prm[P_FASC2]
    flat2 = prm[P_FLAT2]
    eta_rest = prm[P_ETA_REST]
    eta_fast = prm[P_ETA_FAST]
    eta_creep = prm[P_ETA_CREEP]
    min_dur = np.int64(prm[P_MIN_DUR])
    dropout = np.int64(prm[P_DROPOUT])
    min_frac = prm[P_MIN_FRAC]
    max_width = np.int64(prm[P_MAX_WIDTH])
    guard = np.int64(prm[P_GUARD])
    flat_min = np.int64(prm[P_FLAT_MIN])
    clip = prm[P_CLIP]
    cap = ev_i.shape[1]
    for c in range(nch):
        n_ev = 0
        evi = ev_i[c]
        evf = ev_f[c]
        rc = ring[c]
        msum = sf[c, SF_MSUM]
        b2 = sf[c, SF_B2]
        pos = si[c, SI_POS]
        state = si[c, SI_STATE]
        last_low = si[c, SI_LAST_LOW]
        low_sumsq = sf[c, SF_LOW_SUMSQ]
        low_peak = sf[c, SF_LOW_PEAK]
        low_peak_at = si[c, SI_LOW_PEAK_AT]
        low_f_first = si[c, SI_LOW_F_FIRST]
        low_f_last = si[c, SI_LOW_F_LAST]
        low_clip = si[c, SI_LOW_CLIP_N]
        warm_until = si[c, SI_WARM_UNTIL]
        filled_at = si[c, SI_FILLED_AT]
        for t in range(n):
            g = g0 + t
            v = np.float64(y[t, c])
            p = v * v
            msum += p - rc[pos]
            rc[pos] = p
            pos += 1
            if pos == win:
                pos = 0
            ms = msum * inv_win
            if ms < 0.0:
                ms = 0.0
            clipped = 0
            if clip > 0.0 and abs(x[t, c]) >= clip:
                clipped = 1
                si[c, SI_CLIPPED_TOTAL] += 1
            if g < warm_until:
                # Learning the resting level (start of stream) or refilling after a gap.
                if g >= filled_at:
                    if b2 <= 0.0:
                        b2 = ms
                    elif ms > b2:
                        b2 *= 1.0 + eta_fast
                    else:
                        b2 *= 1.0 - eta_fast
                last_low = g
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = g
                low_f_first = -1
                low_f_last = -1
                low_clip = 0
                continue
            a2 = p
            fthr2 = fasc2 * b2
            # Trace-back point for onsets: the last moment the envelope was near rest.
            if ms < low2 * b2 and a2 < fthr2:
                last_low = g
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = g
                low_f_first = -1
                low_f_last = -1
                low_clip = 0
            else:
                low_sumsq += p
                low_clip += clipped
                if a2 > low_peak:
                    low_peak = a2
                    low_peak_at = g
                if a2 > fthr2:
                    if low_f_first < 0:
                        low_f_first = g
                    if a2 > WIDTH_LEVEL2 * low_peak:
                        low_f_last = g
            # Flat line (lead-off): envelope far below rest; the baseline does not learn it.
            flat = ms < flat2 * b2
            if flat:
                if si[c, SI_FLAT_START] < 0:
                    si[c, SI_FLAT_START] = g
            elif si[c, SI_FLAT_START] >= 0:
                fs0 = si[c, SI_FLAT_START]
                if g - fs0 >= flat_min and n_ev < cap:
                    evi[n_ev, EI_TYPE] = EV_FLAT
                    evi[n_ev, EI_AT] = g
                    evi[n_ev, EI_CH] = c
                    evi[n_ev, EI_ONSET] = fs0
                    evi[n_ev, EI_OFFSET] = g
                    evi[n_ev, EI_DETECTED] = g
                    n_ev += 1
                si[c, SI_FLAT_START] = -1
            active = ms > off2 * b2 or a2 > fthr2
            if state == REST:
                if not flat:
                    if ms > b2:
                        b2 *= 1.0 + eta_rest
                    else:
                        b2 *= 1.0 - eta_rest
                # A pending isolated potential is released once the guard time has passed.
                if si[c, SI_PEND_ONSET] >= 0 and g - si[c, SI_PEND_OFFSET] >= guard:
                    if n_ev < cap:
                        evi[n_ev, EI_TYPE] = EV_POTENTIAL
                        evi[n_ev, EI_AT] = g
                        evi[n_ev, EI_CH] = c
                        evi[n_ev, EI_ONSET] = si[c, SI_PEND_ONSET]
                        evi[n_ev, EI_OFFSET] = si[c, SI_PEND_OFFSET]
                        evi[n_ev, EI_DETECTED] = g
                        evi[n_ev, EI_PEAK_AT] = si[c, SI_PEND_PEAK_AT]
                        evi[n_ev, EI_CLIPPED] = 0
                        evf[n_ev, EF_PEAK] = sf[c, SF_PEND_PEAK]
                        evf[n_ev, EF_RMS] = sf[c, SF_PEND_PEAK]
                        evf[n_ev, EF_BASE_RMS] = sf[c, SF_PEND_BASE]
                        evf[n_ev, EF_ACTIVE] = 0.0
                        n_ev += 1
                    si[c, SI_PEND_ONSET] = -1
                if ms > on2 * b2 or a2 > fthr2:
                    # A burst starts: it is dated from the last moment of rest.
                    if si[c, SI_PEND_ONSET] >= 0 and last_low + 1 - si[c, SI_PEND_OFFSET] < guard:
                        si[c, SI_PEND_ONSET] = -1  # the potential was not isolated after all
                    state = CANDIDATE
                    onset = last_low + 1
                    si[c, SI_ONSET] = onset
                    si[c, SI_LAST_ACTIVE] = g
                    si[c, SI_ACTIVE_N] = g - onset + 1
                    sf[c, SF_SUMSQ] = low_sumsq
                    sf[c, SF_SUMSQ_ACTIVE] = low_sumsq
                    sf[c, SF_PEAK] = low_peak
                    si[c, SI_PEAK_AT] = low_peak_at
                    si[c, SI_F_FIRST] = low_f_first
                    si[c, SI_F_LAST] = low_f_last
                    si[c, SI_CLIP_N] = low_clip
                continue
            # Inside a burst (candidate or confirmed spasm).
            if ms > b2:
                b2 *= 1.0 + eta_creep
            onset = si[c, SI_ONSET]
            sf[c, SF_SUMSQ] += p
            si[c, SI_CLIP_N] += clipped
            if a2 > sf[c, SF_PEAK]:
                sf[c, SF_PEAK] = a2
                si[c, SI_PEAK_AT] = g
            if a2 > fthr2:
                if si[c, SI_F_FIRST] < 0:
                    si[c, SI_F_FIRST] = g
                if a2 > WIDTH_LEVEL2 * sf[c, SF_PEAK]:
                    si[c, SI_F_LAST] = g
            if active:
                si[c, SI_LAST_ACTIVE] = g
                si[c, SI_ACTIVE_N] += 1
                sf[c, SF_SUMSQ_ACTIVE] = sf[c, SF_SUMSQ]
            elif g - si[c, SI_LAST_ACTIVE] > dropout:
                last_active = si[c, SI_LAST_ACTIVE]
                offset = last_active + 1
                if state == CONFIRMED:
                    if n_ev < cap:
                        evi[n_ev, EI_TYPE] = EV_SPASM_END
                        evi[n_ev, EI_AT] = g
                        evi[n_ev, EI_CH] = c
                        evi[n_ev, EI_ONSET] = onset
                        evi[n_ev, EI_OFFSET] = offset
                        evi[n_ev, EI_DETECTED] = si[c, SI_DETECTED]
                        evi[n_ev, EI_PEAK_AT] = si[c, SI_PEAK_AT]
                        evi[n_ev, EI_CLIPPED] = si[c, SI_CLIP_N]
                        evf[n_ev, EF_PEAK] = np.sqrt(sf[c, SF_PEAK])
                        evf[n_ev, EF_RMS] = np.sqrt(sf[c, SF_SUMSQ_ACTIVE] / (offset - onset))
                        evf[n_ev, EF_BASE_RMS] = np.sqrt(b2)
                        evf[n_ev, EF_ACTIVE] = si[c, SI_ACTIVE_N] / (offset - onset)
                        n_ev += 1
                else:
                    f_first = si[c, SI_F_FIRST]
                    f_last = si[c, SI_F_LAST]
                    isolated = onset - si[c, SI_PREV_END] >= guard
                    if f_first >= 0 and f_last - f_first < max_width and isolated:
                        si[c, SI_PEND_ONSET] = f_first
                        si[c, SI_PEND_OFFSET] = f_last + 1
                        si[c, SI_PEND_PEAK_AT] = si[c, SI_PEAK_AT]
                        sf[c, SF_PEND_PEAK] = np.sqrt(sf[c, SF_PEAK])
                        sf[c, SF_PEND_BASE] = np.sqrt(b2)
                si[c, SI_PREV_END] = offset
                state = REST
                last_low = g
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = g
                low_f_first = -1
                low_f_last = -1
                low_clip = 0
                continue
            if state == CANDIDATE:
                span = g - onset + 1
                if span >= min_dur and si[c, SI_ACTIVE_N] >= min_frac * span:
                    state = CONFIRMED
                    si[c, SI_DETECTED] = g
                    if n_ev < cap:
                        evi[n_ev, EI_TYPE] = EV_SPASM_CONFIRMED
                        evi[n_ev, EI_AT] = g
                        evi[n_ev, EI_CH] = c
                        evi[n_ev, EI_ONSET] = onset
                        evi[n_ev, EI_OFFSET] = g + 1
                        evi[n_ev, EI_DETECTED] = g
                        evi[n_ev, EI_PEAK_AT] = si[c, SI_PEAK_AT]
                        evi[n_ev, EI_CLIPPED] = si[c, SI_CLIP_N]
                        evf[n_ev, EF_PEAK] = np.sqrt(sf[c, SF_PEAK])
                        evf[n_ev, EF_RMS] = np.sqrt(sf[c, SF_SUMSQ] / span)
                        evf[n_ev, EF_BASE_RMS] = np.sqrt(b2)
                        evf[n_ev, EF_ACTIVE] = si[c, SI_ACTIVE_N] / span
                        n_ev += 1
        sf[c, SF_MSUM] = msum
        sf[c, SF_B2] = b2
        si[c, SI_POS] = pos
        si[c, SI_STATE] = state
        si[c, SI_LAST_LOW] = last_low
        sf[c, SF_LOW_SUMSQ] = low_sumsq
        sf[c, SF_LOW_PEAK] = low_peak
        si[c, SI_LOW_PEAK_AT] = low_peak_at
        si[c, SI_LOW_F_FIRST] = low_f_first
        si[c, SI_LOW_F_LAST] = low_f_last
        si[c, SI_LOW_CLIP_N] = low_clip
        ev_n[c] = n_ev
