"""The per-sample detection kernel (Numba): envelope, resting baseline, bursts and potentials.

One plain function over arrays; every bit of per-channel state lives in arrays the caller keeps,
so the output does not depend on how the stream is cut into blocks. Events are written to
preallocated arrays as rows of integers and floats; the Detector turns them into Episodes.

Two detectors share the envelope and the baseline:
- bursts follow the moving mean square (a 50 ms window): a burst that stays active long enough
  is a spasm; every contiguous run of activity longer than a stride-length blip is reported as
  *activity*, so the potential sorter knows where the muscle was not at rest;
- potentials follow the instantaneous filtered signal: a peak far above rest whose half-peak
  width is that of a single motor unit (milliseconds) is reported; wider complexes (a QRS after
  filtering is ~55 ms wide) are not.

The resting levels step once per *tick* (a few milliseconds, counted from the start of the
stream), by how many of the tick's samples were above them, one tick late. Within a tick every
threshold is therefore fixed, and a calm stretch (at rest, far from every threshold) takes a
shortcut: a tight loop that does exactly what the full logic would do for such samples and hands
over to it at the first sample that is not calm. Most of a night is calm. With several channels,
the calm ones take that shortcut side by side, one per lane of a vector register
(:mod:`emgspasm.dsp.lanes`), resting levels' ticks included. The middle of a long burst takes a
shortcut of its own (every sample active, only the burst's sums to update). Every shortcut gives
the full logic's result bit for bit; the tests hold them to it.
"""

from __future__ import annotations

import numba
import numpy as np

from ..dsp.handoff import publish, published
from ..dsp.kernels import (
    LANES_FROM,
    filter_across_channels,
    filter_each_channel,
)
from ..dsp.lanes import (
    absolute,
    add,
    bits_of,
    both,
    but_not,
    count_where,
    first_lanes,
    ge,
    gt,
    lanes_in,
    le,
    load,
    lt,
    mask_of,
    maximum,
    minimum,
    mul,
    next_up,
    splat,
    store,
    sub,
    take,
    where,
)

# Event types written by the kernel.
EV_SPASM_CONFIRMED = 1  # a burst has lasted long enough: the spasm is known (offset open)
EV_SPASM_END = 2  # a confirmed spasm has ended
EV_POTENTIAL = 3  # a narrow potential (fasciculation candidate, isolation not yet known)
EV_FLAT = 4  # a flat-line (lead-off) segment has ended
EV_ACTIVITY = 5  # a contiguous run of activity has become long: the muscle is not at rest
EV_ACTIVITY_END = 6  # that run has ended

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
    P_RUN_MIN,
    P_BLIP_GAP,
    P_FLAT_MIN,
    P_CLIP,
    P_TICK,
    P_SHORTCUT,
) = range(19)
N_PARAMS = 19
"""The vector goes on with the steps of the resting levels over a tick, for k = 0..tick samples
(see :func:`step_tables`)."""

# Per-channel float state.
(
    SF_MSUM,
    SF_B2,
    SF_PEAK,
    SF_SUMSQ,
    SF_SUMSQ_ACTIVE,
    SF_LOW_SUMSQ,
    SF_LOW_PEAK,
    SF_POT_PEAK,
    SF_PREV_Y,
    SF_REST_P,
    SF_FLOOR_P,
    SF_FLOOR_B2,
    SF_B2_STEP,
    SF_P_STEP,
    SF_CREEP_STEP,
) = range(15)
N_SF = 15
"""``SF_*_STEP`` are the factors the resting levels take at the end of the current tick (what the
previous tick earned; 1 at the start)."""
# Per-channel integer state.
(
    SI_POS,
    SI_STATE,
    SI_ONSET,
    SI_LAST_ACTIVE,
    SI_ACTIVE_N,
    SI_DETECTED,
    SI_LAST_LOW,
    SI_PEAK_AT,
    SI_LOW_PEAK_AT,
    SI_CLIP_N,
    SI_LOW_CLIP_N,
    SI_WARM_UNTIL,
    SI_FILLED_AT,
    SI_FLAT_START,
    SI_CLIPPED_TOTAL,
    SI_RUN_START,
    SI_RUN_LONG,
    SI_SUSTAINED,
    SI_POT_AT,
    SI_TICK_AT,
    SI_N_REST,
    SI_B2_UP,
    SI_P_UP,
    SI_N_CREEP,
) = range(24)
N_SI = 24
"""``SI_TICK_AT`` is the first sample of the tick whose steps of the resting levels are being
counted: ``SI_N_REST`` resting samples, of which ``SI_B2_UP`` (envelope) and ``SI_P_UP`` (signal)
were above their level, and ``SI_N_CREEP`` burst samples above it."""

REST, CANDIDATE, CONFIRMED = 0, 1, 2


MEDIAN_CHI2 = 0.4549
"""Median of the square of a standard normal sample: turns the tracked median of the squared
signal at rest into its mean square."""

UNDER = 1.0 - 2.0**-45
"""Just below 1: a calm sample's limit scaled by it errs on the side of the full logic,
whatever the rounding of the comparison the limit stands for."""

HALF_PEAK2 = 0.25
"""A potential's width is where the signal stays above half its peak (a quarter in power)."""


def step_tables(eta_rest: float, eta_creep: float, tick: int) -> np.ndarray:
    """The factors by which a resting level moves in a tick after ``k`` (0..tick) samples above
    it at rest, ``k`` below it, and ``k`` above it in a burst, one row each, flattened: the tail
    of the kernel's parameter vector."""
    up, down = 1.0 - eta_rest + 2.0 * eta_rest, 1.0 - eta_rest
    k = np.arange(tick + 1)
    return np.concatenate([up**k, down**k, (1.0 + eta_creep) ** k])


def ring_shape(channels: int, win: int, max_width: int) -> tuple[int, int, int]:
    """Recent squared samples kept per channel, as the envelope saw them and as they were: the
    envelope window, and enough either side of a potential's peak to measure its width (rounded
    up to a power of two, so that positions wrap around with a mask). Channels are innermost, so
    that neighbouring channels' slots sit side by side for the lanes."""
    need = max(win, 2 * max_width + 2)
    return 2, 1 << (need - 1).bit_length(), channels


@numba.njit(cache=True, inline="always")
def _emit(
    evi, evf, k, kind, at, c, onset, offset, detected, peak_at, clipped, peak2, ms, base, active
):
    """Write event row ``k``: spans as sample indices; ``peak2`` and ``ms`` are powers."""
    evi[k, EI_TYPE] = kind
    evi[k, EI_AT] = at
    evi[k, EI_CH] = c
    evi[k, EI_ONSET] = onset
    evi[k, EI_OFFSET] = offset
    evi[k, EI_DETECTED] = detected
    evi[k, EI_PEAK_AT] = peak_at
    evi[k, EI_CLIPPED] = clipped
    evf[k, EF_PEAK] = np.sqrt(peak2)
    evf[k, EF_RMS] = np.sqrt(ms)
    evf[k, EF_BASE_RMS] = base
    evf[k, EF_ACTIVE] = active


@numba.njit(cache=True, inline="always")
def _follow_factors(eta):
    """The factors by which :func:`_follow` moves a level up and down, bit for bit."""
    return 1.0 - eta + 2.0 * eta * 1.0, 1.0 - eta + 2.0 * eta * 0.0


@numba.njit(cache=True, inline="always")
def _settling_step(n_rest, n_up, since, eta_fast):
    """The factor by which a resting level moves over a tick in which ``n_up`` of ``n_rest``
    resting samples were above it, ``since`` samples after learning ended, while the level still
    moves faster than at rest."""
    up, down = _follow_factors(eta_fast / (1.0 + max(since, 0) * eta_fast))
    return up**n_up * down ** (n_rest - n_up)


@numba.njit(cache=True, inline="always")
def _follow(level, value, eta):
    """One step of a multiplicative running median: ``level`` moves by ``eta`` towards ``value``."""
    # Arithmetic rather than a branch: for a single noisy sample the comparison is a coin toss
    # that a branch predictor cannot learn.
    up = np.float64(value > level)
    return level * (1.0 - eta + 2.0 * eta * up)


@numba.njit(cache=True, nogil=True)
def _half_peak_span(ring, at, reach, level):
    """How far before and after ring slot ``at`` (a peak) the squared signal last exceeds
    ``level``, looking at most ``reach`` samples each way."""
    n = ring.shape[0]
    before = 0
    after = 0
    for k in range(1, reach + 1):
        j = at - k
        if j < 0:
            j += n
        if ring[j] > level:
            before = k
        j = at + k - n if at + k >= n else at + k
        if j < 0:
            j += n
        if ring[j] > level:
            after = k
    return before, after


@numba.njit(cache=True, inline="always")
def _tick_tables(prm):
    """From the parameter vector: the tick, the samples after learning until the settling rate
    has slowed to the resting one, the settling rate, and the step tables (see
    :func:`step_tables`)."""
    tick = np.int64(prm[P_TICK])
    eta_fast = prm[P_ETA_FAST]
    settle = np.int64((eta_fast / prm[P_ETA_REST] - 1.0) / eta_fast) + 1
    ups = prm[N_PARAMS : N_PARAMS + tick + 1]
    downs = prm[N_PARAMS + tick + 1 : N_PARAMS + 2 * tick + 2]
    creeps = prm[N_PARAMS + 2 * tick + 2 : N_PARAMS + 3 * tick + 3]
    return tick, settle, eta_fast, ups, downs, creeps


@numba.njit(cache=True, inline="always")
def _tick_steps(g, tick, settle, eta_fast, ups, downs, creeps, b2, rest_p, floor_b2, floor_p,
                b2_step, p_step, creep_step, n_rest, b2_up, p_up, n_creep, tick_at, warm_until):
    """A tick is over at sample ``g`` (or a gap skipped its end): the resting levels take the
    steps the previous tick earned, and the steps this tick earned (from its counts) become those
    of the next. Returns the levels, the steps and the new tick's first sample."""
    if b2 > 0.0:  # not before the levels have been learnt
        b2 = max(b2 * b2_step, floor_b2) * creep_step
        rest_p = max(rest_p * p_step, floor_p) * creep_step
    since = tick_at - warm_until
    if since >= settle:
        b2_step = ups[b2_up] * downs[n_rest - b2_up]
        p_step = ups[p_up] * downs[n_rest - p_up]
    else:
        b2_step = _settling_step(n_rest, b2_up, since, eta_fast)
        p_step = _settling_step(n_rest, p_up, since, eta_fast)
    creep_step = creeps[n_creep]
    tick_at = g if g == tick_at + tick else g - g % tick
    return b2, rest_p, b2_step, p_step, creep_step, tick_at


@numba.njit(cache=True, inline="always")
def _calm_limits(b2, rest_p, fasc2, flat2, low2, off2):
    """What a calm sample stays within, for the tick's resting levels: the cap of a sample's
    contribution to the envelope, the flat-line level, a level below both the onset-tracing and
    the activity level (as the full logic compares them), and a level of the squared sample
    below the potential level (compared as is, without the full logic's scaling)."""
    calm_b2 = low2 * b2
    if off2 * b2 < calm_b2:
        calm_b2 = np.nextafter(off2 * b2, np.inf)
    return fasc2 * b2, flat2 * b2, calm_b2, fasc2 * rest_p / MEDIAN_CHI2 * UNDER


@numba.njit(cache=True, inline="always")
def _burst_limits(b2, fasc2, off2, low2, flat2):
    """What a sample in the middle of a burst stays above, for the tick's resting level: the cap
    of a sample's contribution to the envelope, and the activity, onset-tracing and flat-line
    levels."""
    return fasc2 * b2, off2 * b2, low2 * b2, flat2 * b2


@numba.njit(cache=True, inline="always")
def _joins(si, c, g, tick, settle):
    """Whether channel ``c`` may go through calm samples in the lanes from sample ``g``: at
    rest, with no potential, flat line or run of activity open, and with the resting levels past
    settling (they then step by the tables)."""
    return (si[c, SI_STATE] == REST and si[c, SI_POT_AT] < 0 and si[c, SI_FLAT_START] < 0
            and si[c, SI_RUN_START] < 0 and g - g % tick - si[c, SI_WARM_UNTIL] >= settle)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _end_tick(c, g, tick, settle, eta_fast, ups, downs, creeps, sf, si):
    """:func:`_tick_steps` for channel ``c`` in the state arrays, if its tick is over at ``g``."""
    tick_at = si[c, SI_TICK_AT]
    if g < tick_at + tick:
        return
    (sf[c, SF_B2], sf[c, SF_REST_P], sf[c, SF_B2_STEP], sf[c, SF_P_STEP], sf[c, SF_CREEP_STEP],
     si[c, SI_TICK_AT]) = _tick_steps(
        g, tick, settle, eta_fast, ups, downs, creeps, sf[c, SF_B2], sf[c, SF_REST_P],
        sf[c, SF_FLOOR_B2], sf[c, SF_FLOOR_P], sf[c, SF_B2_STEP], sf[c, SF_P_STEP],
        sf[c, SF_CREEP_STEP], si[c, SI_N_REST], si[c, SI_B2_UP], si[c, SI_P_UP],
        si[c, SI_N_CREEP], tick_at, si[c, SI_WARM_UNTIL])
    si[c, SI_N_REST] = si[c, SI_B2_UP] = si[c, SI_P_UP] = si[c, SI_N_CREEP] = 0


# The lanes' copy of the state (one column per channel): what :func:`_calm_lanes` takes and gives.
LANE_SF = (SF_MSUM, SF_PREV_Y, SF_B2, SF_REST_P, SF_B2_STEP, SF_P_STEP, SF_CREEP_STEP, SF_FLOOR_B2,
           SF_FLOOR_P)
LANE_SI = (SI_N_REST, SI_B2_UP, SI_P_UP, SI_N_CREEP, SI_TICK_AT)
(LT_MSUM, LT_PREV, LT_B2, LT_P, LT_B2_STEP, LT_P_STEP, LT_CREEP_STEP, LT_FLOOR_B2, LT_FLOOR_P,
 LT_N_REST, LT_B2_UP, LT_P_UP, LT_N_CREEP, LT_TICK_AT, LT_STOP) = range(15)
N_LT = 15


@numba.njit(cache=True, inline="always")
def _lane_limits(b2, rest_p, fasc2, flat2, low2, off2):
    """:func:`_calm_limits` in every lane."""
    low_b2 = mul(b2, low2)
    off_b2 = mul(b2, off2)
    calm_b2 = where(lt(off_b2, low_b2), next_up(off_b2), low_b2)
    return mul(b2, fasc2), mul(b2, flat2), calm_b2, mul(mul(rest_p, fasc2 / MEDIAN_CHI2), UNDER)


@numba.njit(cache=True, inline="always")
def _lane_step(ups, downs, n_rest, n_up, calm):
    """The step tables' factor for ``n_up`` samples above and the rest below, in every lane."""
    return mul(take(ups, n_up, calm), take(downs, sub(n_rest, n_up), calm))


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _calm_lanes(y, x, g0, c0, valid, live, first, end, pos, prm, lane, ring):
    """The channels from ``c0`` that are in ``live`` (one lane each) through calm samples side by
    side from ``first``, each until it is no longer calm, all at most until ``end``: for each
    channel what its own logic does, bit for bit, resting levels' ticks included.

    ``lane`` holds the channels' state in (``LT_*`` rows, from :data:`LANE_SF` and
    :data:`LANE_SI`) and out, with the sample where each stopped (``LT_STOP``).
    """
    mask = ring.shape[1] - 1
    win = np.int64(prm[P_WIN])
    inv_win = 1.0 / win
    fasc2, flat2, low2, off2 = prm[P_FASC2], prm[P_FLAT2], prm[P_LOW2], prm[P_OFF2]
    clip = prm[P_CLIP]
    tick, _, _, ups, downs, creeps = _tick_tables(prm)
    msum = load(lane, LT_MSUM, c0, valid)
    prev = load(lane, LT_PREV, c0, valid)
    b2 = load(lane, LT_B2, c0, valid)
    rest_p = load(lane, LT_P, c0, valid)
    b2_step = load(lane, LT_B2_STEP, c0, valid)
    p_step = load(lane, LT_P_STEP, c0, valid)
    creep_step = load(lane, LT_CREEP_STEP, c0, valid)
    floor_b2 = load(lane, LT_FLOOR_B2, c0, valid)
    floor_p = load(lane, LT_FLOOR_P, c0, valid)
    n_rest = load(lane, LT_N_REST, c0, valid)
    b2_up = load(lane, LT_B2_UP, c0, valid)
    p_up = load(lane, LT_P_UP, c0, valid)
    n_creep = load(lane, LT_N_CREEP, c0, valid)
    tick_at = load(lane, LT_TICK_AT, c0, valid)
    cap2, flat_b2, calm_b2, calm_p = _lane_limits(b2, rest_p, fasc2, flat2, low2, off2)
    stopped_at = splat(end, valid)
    zero = splat(0.0, valid)
    # The envelope sums run on in every lane (nothing waits on a lane's verdict); a lane's sum
    # and last sample when it stops are kept aside.
    kept_msum = msum
    kept_prev = prev
    calm = live
    t = first
    while t < end:
        g = g0 + t
        if g % tick == 0 and t > first:
            # A tick is over for every calm lane (as in _tick_steps; the lanes are settled).
            learnt = both(calm, gt(b2, 0.0))
            b2 = where(learnt, mul(maximum(mul(b2, b2_step), floor_b2), creep_step), b2)
            rest_p = where(learnt, mul(maximum(mul(rest_p, p_step), floor_p), creep_step), rest_p)
            b2_step = where(calm, _lane_step(ups, downs, n_rest, b2_up, calm), b2_step)
            p_step = where(calm, _lane_step(ups, downs, n_rest, p_up, calm), p_step)
            creep_step = where(calm, take(creeps, n_creep, calm), creep_step)
            n_rest = where(calm, zero, n_rest)
            b2_up = where(calm, zero, b2_up)
            p_up = where(calm, zero, p_up)
            n_creep = where(calm, zero, n_creep)
            tick_at = where(calm, splat(g, valid), tick_at)
            cap2, flat_b2, calm_b2, calm_p = _lane_limits(b2, rest_p, fasc2, flat2, low2, off2)
        tick_end = min(end, t + tick - g % tick)
        counted = t  # resting samples are counted when a lane stops or the tick ends
        while t < tick_end:
            v = load(y, t, c0, valid)
            d = sub(v, prev)
            pe = minimum(mul(d, d), cap2)
            old = load(ring[0], np.uint64((pos - win) & mask), c0, valid)
            msum_next = add(msum, sub(pe, old))
            ms = mul(msum_next, inv_win)
            p = mul(v, v)
            now = both(both(calm, le(flat_b2, ms)),
                       both(lt(ms, calm_b2), le(p, calm_p)))
            if clip > 0.0:
                now = but_not(now, ge(absolute(load(x, t, c0, valid)), clip))
            stopping = but_not(calm, now)
            if bits_of(stopping) != 0:
                stopped_at = where(stopping, splat(t, valid), stopped_at)
                n_rest = where(stopping, add(n_rest, np.float64(t - counted)), n_rest)
                kept_msum = where(stopping, msum, kept_msum)
                kept_prev = where(stopping, prev, kept_prev)
                calm = now
                if bits_of(calm) == 0:
                    break
            msum = msum_next
            prev = v
            store(ring[0], pos, c0, pe, calm)
            store(ring[1], pos, c0, p, calm)
            b2_up = count_where(b2_up, both(calm, gt(ms, b2)))
            p_up = count_where(p_up, both(calm, gt(p, rest_p)))
            pos = (pos + 1) & mask
            t += 1
        n_rest = where(calm, add(n_rest, np.float64(t - counted)), n_rest)
        if bits_of(calm) == 0:
            break
    store(lane, LT_MSUM, c0, where(calm, msum, kept_msum), live)
    store(lane, LT_PREV, c0, where(calm, prev, kept_prev), live)
    store(lane, LT_B2, c0, b2, live)
    store(lane, LT_P, c0, rest_p, live)
    store(lane, LT_B2_STEP, c0, b2_step, live)
    store(lane, LT_P_STEP, c0, p_step, live)
    store(lane, LT_CREEP_STEP, c0, creep_step, live)
    store(lane, LT_N_REST, c0, n_rest, live)
    store(lane, LT_B2_UP, c0, b2_up, live)
    store(lane, LT_P_UP, c0, p_up, live)
    store(lane, LT_N_CREEP, c0, n_creep, live)
    store(lane, LT_TICK_AT, c0, tick_at, live)
    store(lane, LT_STOP, c0, stopped_at, live)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _channel_span(y, x, g0, c, first, lockstep, prm, sf, si, ring, ev_i, ev_f, ev_n):
    """Advance channel ``c`` from sample ``first`` of the filtered block ``y`` (whose first
    sample has index ``g0``) to the end of the block, or, with ``lockstep``, only until a tick
    starts calm: its lanes then take over. Returns the sample where it stopped.
    """
    n = y.shape[0]
    rlen = ring.shape[1]
    mask = rlen - 1
    win = np.int64(prm[P_WIN])
    inv_win = 1.0 / win
    on2 = prm[P_ON2]
    off2 = prm[P_OFF2]
    low2 = prm[P_LOW2]
    fasc2 = prm[P_FASC2]
    flat2 = prm[P_FLAT2]
    min_dur = np.int64(prm[P_MIN_DUR])
    dropout = np.int64(prm[P_DROPOUT])
    min_frac = prm[P_MIN_FRAC]
    max_width = np.int64(prm[P_MAX_WIDTH])
    run_min = np.int64(prm[P_RUN_MIN])
    blip_gap = np.int64(prm[P_BLIP_GAP])
    flat_min = np.int64(prm[P_FLAT_MIN])
    clip = prm[P_CLIP]
    cap = ev_i.shape[1]
    tick, settle, eta_fast, ups, downs, creeps = _tick_tables(prm)
    shortcut = prm[P_SHORTCUT] > 0.0
    n_ev = ev_n[c]
    evi = ev_i[c]
    evf = ev_f[c]
    rc = ring[0, :, c]
    rp = ring[1, :, c]
    msum = sf[c, SF_MSUM]
    b2 = sf[c, SF_B2]
    pos = si[c, SI_POS]
    state = si[c, SI_STATE]
    last_low = si[c, SI_LAST_LOW]
    low_sumsq = sf[c, SF_LOW_SUMSQ]
    low_peak = sf[c, SF_LOW_PEAK]
    low_peak_at = si[c, SI_LOW_PEAK_AT]
    low_clip = si[c, SI_LOW_CLIP_N]
    warm_until = si[c, SI_WARM_UNTIL]
    filled_at = si[c, SI_FILLED_AT]
    run_start = si[c, SI_RUN_START]
    run_long = si[c, SI_RUN_LONG]
    pot_at = si[c, SI_POT_AT]
    pot_peak = sf[c, SF_POT_PEAK]
    prev_y = sf[c, SF_PREV_Y]
    rest_p = sf[c, SF_REST_P]
    flat_start = si[c, SI_FLAT_START]
    floor_p = sf[c, SF_FLOOR_P]
    floor_b2 = sf[c, SF_FLOOR_B2]
    tick_at = si[c, SI_TICK_AT]
    n_rest = si[c, SI_N_REST]
    b2_up = si[c, SI_B2_UP]
    p_up = si[c, SI_P_UP]
    n_creep = si[c, SI_N_CREEP]
    b2_step = sf[c, SF_B2_STEP]
    p_step = sf[c, SF_P_STEP]
    creep_step = sf[c, SF_CREEP_STEP]
    t = first
    quiet_tick = False  # whether the tick now ending went all through the calm shortcut
    while True:
        # The resting levels step once per tick (ticks are counted from sample 0 of the
        # stream, so where a block ends does not matter): within a tick every threshold is
        # fixed, and the samples of a calm stretch depend on each other only through the
        # envelope's running sum.
        g = g0 + t
        if (lockstep and quiet_tick and t < n and g % tick == 0 and state == REST and pot_at < 0
                and flat_start < 0 and run_start < 0 and g - warm_until >= settle):
            # Calm for a whole tick, and a tick starts calm (as _joins has it): back to the
            # lanes (not sooner, so that a channel hovering near a threshold does not keep
            # cutting the lanes' run short).
            break
        quiet_tick = g % tick == 0
        if g >= tick_at + tick:
            # The tick is over (or a gap skipped its end). The levels take the steps the
            # previous tick earned, and this tick's become those of the next: that lag keeps
            # the levels off the envelope's dependency chain (they never wait for the last
            # sample of a tick).
            b2, rest_p, b2_step, p_step, creep_step, tick_at = _tick_steps(
                g, tick, settle, eta_fast, ups, downs, creeps, b2, rest_p, floor_b2, floor_p,
                b2_step, p_step, creep_step, n_rest, b2_up, p_up, n_creep, tick_at, warm_until)
            n_rest = b2_up = p_up = n_creep = 0
        if t == n:
            break
        stop = min(n, t + tick_at + tick - g)
        if (shortcut and state == REST and pot_at < 0 and flat_start < 0 and run_start < 0
                and g >= warm_until):
            # The common case, at rest and far from every threshold, in a tight loop that
            # does exactly what the full logic below would do for such samples; it stops
            # before the first sample that is not of this kind.
            cap2, flat_b2, calm_b2, calm_p = _calm_limits(b2, rest_p, fasc2, flat2, low2, off2)
            calm_from = t
            # Unsigned indices: the positions are never negative, and Numba then leaves
            # out its checks for indexing from the end.
            while t < stop:
                v = np.float64(y[np.uint64(t), np.uint64(c)])
                pe = min((v - prev_y) * (v - prev_y), cap2)
                next_msum = msum + (pe - rc[np.uint64((pos - win) & mask)])
                ms = next_msum * inv_win
                p = v * v
                if not ((flat_b2 <= ms) & (ms < calm_b2) & (p <= calm_p)):
                    break
                if clip > 0.0 and abs(x[np.uint64(t), np.uint64(c)]) >= clip:
                    break
                msum = next_msum
                prev_y = v
                rc[np.uint64(pos)] = pe
                rp[np.uint64(pos)] = p
                pos = (pos + 1) & mask
                b2_up += ms > b2
                p_up += p > rest_p
                t += 1
            if t > calm_from:
                n_rest += t - calm_from
                last_low = g0 + t - 1
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = last_low
                low_clip = 0
        if (shortcut and state != REST and run_long == 1 and pot_at < 0 and flat_start < 0
                and g >= warm_until):
            # The other common case, well inside a long burst: every sample active and far
            # from rest, nothing left to decide but the burst's sums, again exactly as the full
            # logic below does it, ticks included. It hands over at the first sample that is
            # not of this kind, or when a candidate is old enough to be confirmed.
            cap2, off_b2, low_b2, flat_b2 = _burst_limits(b2, fasc2, off2, low2, flat2)
            confirm_at = si[c, SI_ONSET] + min_dur - 1 if state == CANDIDATE else g0 + n
            sumsq = sf[c, SF_SUMSQ]
            peak = sf[c, SF_PEAK]
            peak_at = si[c, SI_PEAK_AT]
            clip_n = si[c, SI_CLIP_N]
            active_n = si[c, SI_ACTIVE_N]
            burst_from = t
            while True:
                # The samples of this tick, in a loop kept small: counts that every sample adds
                # to alike are added when it ends.
                limit = min(stop, confirm_at - g0)
                run_from = t
                clips = 0
                while t < limit:
                    v = np.float64(y[np.uint64(t), np.uint64(c)])
                    pe = min((v - prev_y) * (v - prev_y), cap2)
                    next_msum = msum + (pe - rc[np.uint64((pos - win) & mask)])
                    ms = next_msum * inv_win
                    if not ((ms > off_b2) & (ms >= low_b2) & (ms >= flat_b2)):
                        break
                    p = v * v
                    if clip > 0.0 and abs(x[np.uint64(t), np.uint64(c)]) >= clip:
                        clips += 1
                    msum = next_msum
                    prev_y = v
                    rc[np.uint64(pos)] = pe
                    rp[np.uint64(pos)] = p
                    pos = (pos + 1) & mask
                    low_sumsq += p
                    if p > low_peak:
                        low_peak = p
                        low_peak_at = g0 + t
                    n_creep += ms > b2
                    sumsq += p
                    if p > peak:
                        peak = p
                        peak_at = g0 + t
                    t += 1
                active_n += t - run_from
                clip_n += clips
                low_clip += clips
                si[c, SI_CLIPPED_TOTAL] += clips
                if t < limit or t == n or g0 + t >= confirm_at:
                    break
                # The tick is over, as at the top of the outer loop (nothing else there applies
                # inside a burst).
                b2, rest_p, b2_step, p_step, creep_step, tick_at = _tick_steps(
                    g0 + t, tick, settle, eta_fast, ups, downs, creeps, b2, rest_p, floor_b2,
                    floor_p, b2_step, p_step, creep_step, n_rest, b2_up, p_up, n_creep, tick_at,
                    warm_until)
                n_rest = b2_up = p_up = n_creep = 0
                quiet_tick = True
                stop = min(n, t + tick)
                cap2, off_b2, low_b2, flat_b2 = _burst_limits(b2, fasc2, off2, low2, flat2)
            if t > burst_from:
                sf[c, SF_SUMSQ] = sumsq
                sf[c, SF_SUMSQ_ACTIVE] = sumsq
                sf[c, SF_PEAK] = peak
                si[c, SI_PEAK_AT] = peak_at
                si[c, SI_CLIP_N] = clip_n
                si[c, SI_ACTIVE_N] = active_n
                si[c, SI_LAST_ACTIVE] = g0 + t - 1
                si[c, SI_SUSTAINED] = 1
        # The full logic, for whatever the shortcuts did not take.
        slow_from = t
        if slow_from < stop:
            quiet_tick = False
        for t in range(slow_from, stop):
            g = g0 + t
            v = np.float64(y[t, c])
            p = v * v
            # The envelope follows the sample-to-sample change, which weighs the fast
            # motor-unit potentials of a contraction over the slow QRS and movement
            # remnants; each sample counts at most at the potential level, so that one
            # large twitch (and the filters' ringing after it) does not pass for a
            # contraction.
            d = v - prev_y
            prev_y = v
            pe = d * d
            if g >= warm_until and pe > fasc2 * b2:
                pe = fasc2 * b2
            msum = msum + (pe - rc[(pos - win) & mask])
            rc[pos] = pe
            rp[pos] = p
            here = pos
            pos = (pos + 1) & mask
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
                        # First full window: start both levels from its medians, which a
                        # twitch inside the window does not inflate.
                        first_e = np.empty(win)
                        first_p = np.empty(win)
                        for k in range(win):
                            j = here - k
                            if j < 0:
                                j += rlen
                            first_e[k] = rc[j]
                            first_p[k] = rp[j]
                        b2 = max(np.median(first_e) / MEDIAN_CHI2, floor_b2)
                        rest_p = max(np.median(first_p), floor_p)
                        if b2 <= 0.0:
                            b2 = ms
                    else:
                        b2 = max(_follow(b2, ms, eta_fast), floor_b2)
                        rest_p = max(_follow(rest_p, p, eta_fast), floor_p)
                n_rest = b2_up = p_up = n_creep = 0
                b2_step = p_step = creep_step = 1.0
                last_low = g
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = g
                low_clip = 0
                run_start = -1
                run_long = 0
                pot_at = -1
                continue

            # Potentials: narrow peaks of the filtered signal, tracked unless a long run of
            # activity is under way (nothing inside a contraction can be a fasciculation).
            if pot_at >= 0:
                if p > pot_peak:
                    pot_peak = p
                    pot_at = g
                elif g - pot_at >= max_width:
                    before, after = _half_peak_span(
                        rp, here - (g - pot_at), max_width, HALF_PEAK2 * pot_peak
                    )
                    first = pot_at - before
                    last = pot_at + after
                    narrow = before < max_width and after < max_width
                    if narrow and last - first < max_width and n_ev < cap:
                        base = np.sqrt(rest_p / MEDIAN_CHI2)
                        _emit(evi, evf, n_ev, EV_POTENTIAL, g, c, first, last + 1, g, pot_at,
                              0, pot_peak, pot_peak, base, 0.0)
                        n_ev += 1
                    pot_at = -1
            elif p * MEDIAN_CHI2 > fasc2 * rest_p and run_long == 0:
                pot_at = g
                pot_peak = p

            # Trace-back point for onsets: the last moment the envelope was near rest.
            if ms < low2 * b2:
                last_low = g
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = g
                low_clip = 0
            else:
                low_sumsq += p
                low_clip += clipped
                if p > low_peak:
                    low_peak = p
                    low_peak_at = g
            # Flat line (lead-off): envelope far below rest; the baseline does not learn it.
            flat = ms < flat2 * b2
            if flat:
                if flat_start < 0:
                    flat_start = g
            elif flat_start >= 0:
                if g - flat_start >= flat_min and n_ev < cap:
                    _emit(evi, evf, n_ev, EV_FLAT, g, c, flat_start, g, g, flat_start, 0,
                          0.0, 0.0, 0.0, 0.0)
                    n_ev += 1
                flat_start = -1

            # Contiguous runs of activity; a long one means the muscle is working.
            active = ms > off2 * b2
            if active:
                if run_start < 0:
                    run_start = g
                if run_long == 0 and g - run_start + 1 >= run_min:
                    run_long = 1
                    pot_at = -1
                    if n_ev < cap:
                        _emit(evi, evf, n_ev, EV_ACTIVITY, g, c, run_start, g + 1, g,
                              run_start, 0, 0.0, 0.0, 0.0, 1.0)
                        n_ev += 1
            elif run_start >= 0:
                if run_long == 1 and n_ev < cap:
                    _emit(evi, evf, n_ev, EV_ACTIVITY_END, g, c, run_start, g, g, run_start,
                          0, 0.0, 0.0, 0.0, 1.0)
                    n_ev += 1
                run_start = -1
                run_long = 0

            if state == REST:
                if not flat:
                    # The resting levels learn from this sample when the tick closes.
                    n_rest += 1
                    b2_up += ms > b2
                    p_up += p > rest_p
                if ms > on2 * b2:
                    # A burst starts: it is dated from the last moment of rest.
                    state = CANDIDATE
                    onset = last_low + 1
                    si[c, SI_ONSET] = onset
                    si[c, SI_LAST_ACTIVE] = g
                    si[c, SI_ACTIVE_N] = g - onset + 1
                    si[c, SI_SUSTAINED] = run_long
                    sf[c, SF_SUMSQ] = low_sumsq
                    sf[c, SF_SUMSQ_ACTIVE] = low_sumsq
                    sf[c, SF_PEAK] = low_peak
                    si[c, SI_PEAK_AT] = low_peak_at
                    si[c, SI_CLIP_N] = low_clip
                continue
            # Inside a burst (candidate or confirmed spasm): the levels creep up only.
            n_creep += ms > b2
            onset = si[c, SI_ONSET]
            sf[c, SF_SUMSQ] += p
            si[c, SI_CLIP_N] += clipped
            if p > sf[c, SF_PEAK]:
                sf[c, SF_PEAK] = p
                si[c, SI_PEAK_AT] = g
            quiet = g - si[c, SI_LAST_ACTIVE]
            if active:
                si[c, SI_LAST_ACTIVE] = g
                si[c, SI_ACTIVE_N] += 1
                sf[c, SF_SUMSQ_ACTIVE] = sf[c, SF_SUMSQ]
                if run_long == 1:
                    si[c, SI_SUSTAINED] = 1
            elif quiet > dropout or (si[c, SI_SUSTAINED] == 0 and quiet > blip_gap):
                # The burst is over: after the longest tolerated relaxation, or sooner when
                # it was only blips (a heartbeat, a twitch) that must not carry an onset
                # forward.
                last_active = si[c, SI_LAST_ACTIVE]
                offset = last_active + 1
                if state == CONFIRMED and n_ev < cap:
                    span = offset - onset
                    _emit(evi, evf, n_ev, EV_SPASM_END, g, c, onset, offset,
                          si[c, SI_DETECTED], si[c, SI_PEAK_AT], si[c, SI_CLIP_N],
                          sf[c, SF_PEAK], sf[c, SF_SUMSQ_ACTIVE] / span,
                          np.sqrt(rest_p / MEDIAN_CHI2), si[c, SI_ACTIVE_N] / span)
                    n_ev += 1
                state = REST
                last_low = g
                low_sumsq = 0.0
                low_peak = 0.0
                low_peak_at = g
                low_clip = 0
                continue
            if state == CANDIDATE:
                span = g - onset + 1
                if span >= min_dur and si[c, SI_ACTIVE_N] >= min_frac * span:
                    state = CONFIRMED
                    si[c, SI_DETECTED] = g
                    if n_ev < cap:
                        _emit(evi, evf, n_ev, EV_SPASM_CONFIRMED, g, c, onset, g + 1, g,
                              si[c, SI_PEAK_AT], si[c, SI_CLIP_N], sf[c, SF_PEAK],
                              sf[c, SF_SUMSQ] / span, np.sqrt(rest_p / MEDIAN_CHI2),
                              si[c, SI_ACTIVE_N] / span)
                        n_ev += 1
        t = stop
    sf[c, SF_MSUM] = msum
    sf[c, SF_B2] = b2
    si[c, SI_POS] = pos
    si[c, SI_STATE] = state
    si[c, SI_LAST_LOW] = last_low
    sf[c, SF_LOW_SUMSQ] = low_sumsq
    sf[c, SF_LOW_PEAK] = low_peak
    si[c, SI_LOW_PEAK_AT] = low_peak_at
    si[c, SI_LOW_CLIP_N] = low_clip
    si[c, SI_RUN_START] = run_start
    si[c, SI_RUN_LONG] = run_long
    si[c, SI_POT_AT] = pot_at
    sf[c, SF_POT_PEAK] = pot_peak
    sf[c, SF_PREV_Y] = prev_y
    sf[c, SF_REST_P] = rest_p
    si[c, SI_FLAT_START] = flat_start
    si[c, SI_TICK_AT] = tick_at
    si[c, SI_N_REST] = n_rest
    si[c, SI_B2_UP] = b2_up
    si[c, SI_P_UP] = p_up
    si[c, SI_N_CREEP] = n_creep
    sf[c, SF_B2_STEP] = b2_step
    sf[c, SF_P_STEP] = p_step
    sf[c, SF_CREEP_STEP] = creep_step
    ev_n[c] = n_ev
    return t


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _in_lanes(y, x, g0, prm, sf, si, ring, ev_i, ev_f, ev_n, shape):
    """:func:`detect_block` for several channels, in groups as wide as the mask ``shape``
    (eight float64 lanes, a 512-bit register; four when there are no more than four channels)."""
    n, nch = y.shape
    tick, settle, eta_fast, ups, downs, creeps = _tick_tables(prm)
    rmask = ring.shape[1] - 1
    done = np.zeros(nch, np.int64)  # where each channel has got to
    lanes = lanes_in(shape)
    lane = np.zeros((N_LT, nch + lanes))
    for c0 in range(0, nch, lanes):
        width = min(lanes, nch - c0)
        valid = mask_of((1 << width) - 1, shape)
        while True:
            first = done[c0 : c0 + width].min()
            if first >= n:
                break
            g = g0 + first
            live = 0
            end = n  # where the next channel waits to join
            pos = 0
            for k in range(width):
                c = c0 + k
                if done[c] > first:
                    end = min(end, done[c])
                elif _joins(si, c, g, tick, settle):
                    _end_tick(c, g, tick, settle, eta_fast, ups, downs, creeps, sf, si)
                    for row, field in enumerate(LANE_SF):
                        lane[row, c] = sf[c, field]
                    for row, field in enumerate(LANE_SI):
                        lane[len(LANE_SF) + row, c] = si[c, field]
                    pos = si[c, SI_POS]  # the same in every channel: they see the same samples
                    live |= 1 << k
                else:
                    done[c] = _channel_span(y, x, g0, c, first, True, prm, sf, si, ring, ev_i,
                                            ev_f, ev_n)
            if live == 0:
                continue
            _calm_lanes(y, x, g0, c0, valid, mask_of(live, shape), first, end, pos, prm, lane, ring)
            for k in range(width):
                if not (live >> k) & 1:
                    continue
                c = c0 + k
                for row, field in enumerate(LANE_SF):
                    sf[c, field] = lane[row, c]
                for row, field in enumerate(LANE_SI):
                    si[c, field] = np.int64(lane[len(LANE_SF) + row, c])
                at = np.int64(lane[LT_STOP, c])
                si[c, SI_POS] = (pos + at - first) & rmask
                if at > first:  # the last calm sample is the last one near rest
                    si[c, SI_LAST_LOW] = si[c, SI_LOW_PEAK_AT] = g0 + at - 1
                    sf[c, SF_LOW_SUMSQ] = sf[c, SF_LOW_PEAK] = 0.0
                    si[c, SI_LOW_CLIP_N] = 0
                done[c] = at
                if at < end:
                    done[c] = _channel_span(y, x, g0, c, at, True, prm, sf, si, ring, ev_i, ev_f,
                                            ev_n)


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

    ``x`` is the raw block (for clipping). Each channel appends its events to its own rows
    ``ev_i[c, ev_n[c]:]`` and ``ev_f[c, ev_n[c]:]`` and counts them in ``ev_n[c]``.

    A single channel goes through the block on its own. Several go in groups of up to eight:
    the group's calm channels go side by side in vector lanes (:func:`_calm_lanes`); one that
    stops being calm goes on alone until a tick starts calm for it again, and joins the lanes
    when the others get there (channels are independent, so who goes first does not matter).
    """
    n, nch = y.shape
    if nch == 1 or prm[P_SHORTCUT] <= 0.0:
        for c in range(nch):
            _channel_span(y, x, g0, c, 0, False, prm, sf, si, ring, ev_i, ev_f, ev_n)
        return
    if nch <= 4:
        _in_lanes(y, x, g0, prm, sf, si, ring, ev_i, ev_f, ev_n, first_lanes(0, 4))
    else:
        _in_lanes(y, x, g0, prm, sf, si, ring, ev_i, ev_f, ev_n, first_lanes(0, 8))
    tick, settle, eta_fast, ups, downs, creeps = _tick_tables(prm)
    for c in range(nch):  # a tick that ends with the block ends here, as for a single channel
        _end_tick(c, g0 + n, tick, settle, eta_fast, ups, downs, creeps, sf, si)


@numba.njit(cache=True)
def event_rows(block: int) -> int:
    """Event rows one channel may need for one block (a potential takes at least two samples)."""
    return block // 2 + 8


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _room_for(n, block, b, ev_i, ev_n):
    """Whether block ``b`` of a frame of ``n`` samples is still to do and every channel has room
    for its events."""
    return b * block < n and ev_i.shape[1] - ev_n.max() >= event_rows(block)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _filter(sos, x, y, z1, z2):
    """Filter ``x`` into ``y`` with the faster loop order for its number of channels."""
    if x.shape[1] >= LANES_FROM:
        filter_across_channels(sos, x, y, z1, z2)
    else:
        filter_each_channel(sos, x, y, z1, z2)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def run_blocks(raw, g0, block, first, sos, z1, z2, prm, sf, si, ring, ys, ev_i, ev_f, ev_n):
    """Filter and detect the frame ``raw`` (first sample ``g0``), ``block`` samples at a time
    from block ``first``, while every channel's event rows have room for another block. Returns
    the next block to do (past the end when the frame is done).

    ``ys`` is a ``(block, channels)`` buffer for the filtered samples.
    """
    b = first
    while _room_for(raw.shape[0], block, b, ev_i, ev_n):
        b0, b1 = b * block, min(raw.shape[0], (b + 1) * block)
        x, y = raw[b0:b1], ys[: b1 - b0]
        _filter(sos, x, y, z1, z2)
        detect_block(y, x, g0 + b0, prm, sf, si, ring, ev_i, ev_f, ev_n)
        b += 1
    return b


@numba.njit(cache=True, nogil=True, boundscheck=False)
def filter_ahead(raw, block, first, sos, z1, z2, y, ready):
    """Filter the frame ``raw`` into ``y``, ``block`` samples at a time from block ``first``,
    publishing in ``ready`` how many blocks are done: the first half of
    :func:`detect_filtered`'s pipeline, run in another thread."""
    b = first
    while b * block < raw.shape[0]:
        b0, b1 = b * block, min(raw.shape[0], (b + 1) * block)
        _filter(sos, raw[b0:b1], y[b0:b1], z1, z2)
        b += 1
        publish(ready, b)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def detect_filtered(raw, y, g0, block, first, ready, patience, post, job, prm, sf, si, ring,
                    ev_i, ev_f, ev_n):
    """Detect over the frame ``raw`` as :func:`filter_ahead` filters it into ``y``: block ``b``
    once ``ready`` says it is filtered. Returns the next block to do, as :func:`run_blocks`
    does, and also after waiting ``patience`` polls for a block (the caller then checks on the
    other thread).

    A ``job`` other than 0 is published in ``post`` first: announced from here, where the GIL
    is let go, the filter thread takes it up without waiting for this thread."""
    if job != 0:
        publish(post, job)
    b = first
    polls = 0
    while _room_for(raw.shape[0], block, b, ev_i, ev_n):
        if published(ready) <= b:
            polls += 1
            if polls > patience:
                break
            continue
        b0, b1 = b * block, min(raw.shape[0], (b + 1) * block)
        detect_block(y[b0:b1], raw[b0:b1], g0 + b0, prm, sf, si, ring, ev_i, ev_f, ev_n)
        b += 1
    return b
