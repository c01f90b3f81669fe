"""The Detector: one stateful, causal object that live, replay and batch all feed with Frames.

It filters each block (band-pass and mains notches designed for the stream's sample rate), runs
the detection kernel, and turns the kernel's events into Episodes. Feeding the same stream in
blocks of any size gives the same episodes in the same order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import signal

from ..config import DetectorConfig
from ..dsp.design import band_edges, bandpass_sos, detect_mains, mains_sos
from ..dsp.kernels import sos_state
from ..errors import ConfigError
from ..frames import Episode, Frame
from . import kernel as K
from .filter_thread import filter_thread
from .potentials import HeartbeatRule, Potential, PotentialSorter

TINY_GAP_S = 0.002
"""Gaps up to this long (a sample or two, such as a sensor's periodic skipped sample) do not
restart the filters."""

BLOCK = 8192
"""Samples the kernel handles per call: the block stays in cache between filter and detection."""


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


THREADS = min(_cores(), 2)
"""Threads for large frames: 2 runs the filters a block ahead of detection in a second thread,
1 does everything in the calling thread. The episodes are the same either way.
"""
TICK_S = 0.008
"""The resting levels step once per tick of about this long (a power of two samples, so 16 at
2 kHz and 1 at 200 Hz): far shorter than their time constants, long enough that most samples are
handled by the kernel's shortcut for calm signal."""
SHORTCUT = True
"""Whether the kernel takes its shortcut through calm stretches; the episodes are identical
without it (it is only slower)."""
PARALLEL_MIN = 65536
"""Channel-samples a frame must hold before its filters run in another thread: below, handing
the work over costs more than it saves (a live 50 ms frame stays in the calling thread)."""
PIPE_BLOCK = 2048
"""Samples per step of that pipeline: short, so that the two threads overlap on most of a frame."""
PATIENCE = 1_000_000
"""Polls for a filtered block before detection returns to check on the filtering thread."""

class _Pace:
    """Whether running the filters in a second thread pays, measured on the frames themselves.

    On a machine whose cores are busy with other work, a thread that cannot get a core holds up
    the frame, and one thread on its own can be faster. So the time per channel-sample is kept
    for both ways (a running mean, after a first frame of each that is not counted: it pays for
    starting threads and buffers), the faster one is used, and every :data:`PROBE_EVERY` frames
    the other one is tried again. The episodes are the same either way.
    """

    PROBE_EVERY = 16
    LEARN = 3
    """Frames each way is timed before the faster one is preferred (the first not counted)."""

    def __init__(self) -> None:
        self._cost: dict[int, float] = {}
        self._seen: dict[int, int] = {}
        self._frames = 0

    def choose(self, threads: int) -> int:
        """Threads to use for the next frame: ``threads`` or 1."""
        self._frames += 1
        modes = (threads, 1)
        learning = [m for m in modes if self._seen.get(m, 0) < self.LEARN]
        if learning:
            return min(learning, key=lambda m: self._seen.get(m, 0))
        best, other = sorted(modes, key=self._cost.__getitem__)
        return other if self._frames % self.PROBE_EVERY == 0 else best

    def note(self, threads: int, seconds_per_sample: float) -> None:
        """What the last frame cost with ``threads`` threads."""
        seen = self._seen.get(threads, 0)
        self._seen[threads] = seen + 1
        if seen == 0:
            return
        old = self._cost.get(threads)
        self._cost[threads] = (
            seconds_per_sample if old is None else 0.7 * old + 0.3 * seconds_per_sample
        )


@dataclass(frozen=True)
class QualitySegment:
    """A stretch of one channel where the signal cannot be trusted (``flat``, ``gap``)."""

    kind: str
    channel: str
    start: int
    stop: int


class Detector:
    """Finds spasms and fasciculations in a stream of Frames, per channel.

    ``process`` returns episodes as they are final, ordered by the sample at which they became
    final; ``ongoing`` lists spasms already confirmed whose end is not known yet (what a live view
    shows as provisional); ``flush`` closes the stream.
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.fs: float | None = None
        self.channels: tuple[str, ...] = ()
        self.mains_hz: float | None = None
        self.quality: list[QualitySegment] = []
        self._ongoing: dict[int, Episode] = {}
        self._probe: list[Frame] = []
        self._next: int | None = None
        self._ready = False
        self._closed = False
        self.samples_seen = 0
        self.gap_samples = 0

    # -- public API ---------------------------------------------------------------------------

    @property
    def ongoing(self) -> list[Episode]:
        """Confirmed spasms still in progress (offset = the latest sample seen)."""
        return [self._ongoing[c] for c in sorted(self._ongoing)]

    @property
    def clipped_samples(self) -> dict[str, int]:
        """Samples at or beyond the configured clip level, per channel."""
        if not self._ready:
            return {}
        return {ch: int(self._si[i, K.SI_CLIPPED_TOTAL]) for i, ch in enumerate(self.channels)}

    def baseline_rms(self) -> np.ndarray:
        """The current resting RMS level per channel (filtered signal, recording's unit)."""
        if not self._ready:
            return np.full(len(self.channels), np.nan)
        return np.sqrt(self._sf[:, K.SF_REST_P] / K.MEDIAN_CHI2)

    def envelope_rest(self) -> np.ndarray:
        """The current resting mean square of the envelope per channel: the level the envelope
        is compared with (``on_ratio ** 2`` times it starts a burst)."""
        if not self._ready:
            return np.full(len(self.channels), np.nan)
        return self._sf[:, K.SF_B2].copy()

    def process(self, frame: Frame) -> list[Episode]:
        """Take the next block of the stream; return the episodes that became final in it."""
        if self._closed:
            raise RuntimeError("the detector was flushed; make a new one for a new stream")
        if frame.n == 0:
            return []
        if self.fs is None:
            self._first_frame(frame)
        elif frame.fs != self.fs or tuple(frame.channels) != self.channels:
            raise ConfigError("a stream must keep its sample rate and channels")
        expected = self._next
        if expected is not None and frame.start < expected:
            raise ValueError(f"frame starts at sample {frame.start}, before {expected}: overlap")
        self._next = frame.stop
        if not self._ready:
            self._probe.append(frame)
            if sum(f.n for f in self._probe) < self._probe_len and not self._probe_has_gap():
                return []
            return self._start()
        return self._run(frame, expected)

    def flush(self) -> list[Episode]:
        """End of stream: close open spasms, release held potentials. Returns final episodes."""
        if self._closed:
            return []
        out: list[tuple[int, int, Episode]] = []
        if not self._ready and self._probe:
            out_eps = self._start()
            out.extend((0, i, e) for i, e in enumerate(out_eps))
        self._closed = True
        if not self._ready:
            return [e for _, _, e in out]
        end = self._next if self._next is not None else 0
        for c in sorted(self._ongoing):
            ep = self._ongoing.pop(c)
            out.append((end, c, self._final_spasm(ep, end, ("open at end of stream",))))
        self._si[:, K.SI_STATE] = K.REST
        for c, sorter in enumerate(self._sorters):
            out.extend((key, c, self._fasciculation(c, p, key)) for key, p in sorter.drain(end))
        for c in range(len(self.channels)):
            start = self._si[c, K.SI_FLAT_START]
            if start >= 0 and end - start >= self._flat_min:
                self.quality.append(QualitySegment("flat", self.channels[c], int(start), end))
        out.sort(key=lambda e: (e[0], e[1], e[2].onset))
        return [e for _, _, e in out]

    # -- set-up ---------------------------------------------------------------------------------

    def _first_frame(self, frame: Frame) -> None:
        if not 50 <= frame.fs <= 100_000:
            raise ConfigError(f"sample rate {frame.fs} Hz is outside what the detector supports")
        self.fs = float(frame.fs)
        self.channels = tuple(frame.channels)
        # The first second decides the mains frequency (if asked) and the recording's
        # quantisation step; nothing is detected in it anyway while the resting level is learnt.
        self._probe_len = int(round(self.fs))
        self._next = frame.start

    def _probe_has_gap(self) -> bool:
        return any(f.gap_before for f in self._probe[1:])

    def _start(self) -> list[Episode]:
        """Design the filters (deciding the mains frequency if asked) and run the held frames."""
        cfg, fs = self.config, self.fs
        assert fs is not None
        contiguous = [self._probe[0]]
        for f in self._probe[1:]:
            if f.gap_before:
                break
            contiguous.append(f)
        data = np.concatenate([f.samples for f in contiguous])[: self._probe_len]
        if cfg.mains == "auto":
            self.mains_hz = detect_mains(data, fs)
        elif cfg.mains == "off":
            self.mains_hz = None
        else:
            self.mains_hz = float(cfg.mains)
        sos = bandpass_sos(fs, cfg.band_low_hz, cfg.band_high_hz, cfg.band_order)
        if self.mains_hz:
            _, high = band_edges(fs, cfg.band_low_hz, cfg.band_high_hz)
            notch = mains_sos(fs, self.mains_hz, cfg.mains_harmonics, cfg.notch_q, high)
            sos = np.vstack([sos, notch])
        self._sos = np.ascontiguousarray(sos, dtype=np.float32)
        self._sos64 = sos
        nch = len(self.channels)
        self._win = max(2, int(round(cfg.envelope_window_s * fs)))
        self._flat_min = int(round(cfg.flat_min_s * fs))
        self._tiny_gap = max(1, int(round(TINY_GAP_S * fs)))
        self._bridge_gap = int(round(cfg.max_dropout_s * fs))
        self._prm = kernel_params(cfg, fs, self._win)
        self._sf = np.zeros((nch, K.N_SF))
        self._sf[:, K.SF_FLOOR_P], self._sf[:, K.SF_FLOOR_B2] = quantisation_floors(data, sos)
        self._sf[:, [K.SF_B2_STEP, K.SF_P_STEP, K.SF_CREEP_STEP]] = 1.0
        self._si = np.zeros((nch, K.N_SI), dtype=np.int64)
        self._si[:, [K.SI_FLAT_START, K.SI_RUN_START, K.SI_POT_AT]] = -1
        max_width = int(self._prm[K.P_MAX_WIDTH])
        self._ring = np.zeros(K.ring_shape(nch, self._win, max_width))
        rows = 2 * K.event_rows(BLOCK)  # room for a block's worst case and many blocks' usual
        self._ev_i = np.zeros((nch, rows, K.N_EI), dtype=np.int64)
        self._ev_f = np.zeros((nch, rows, K.N_EF))
        self._ev_n = np.zeros(nch, dtype=np.int64)
        rule = HeartbeatRule(
            min_interval=int(cfg.ecg_min_interval_s * fs),
            max_interval=int(cfg.ecg_max_interval_s * fs),
            interval_tolerance=cfg.ecg_interval_tolerance,
            amplitude_tolerance=cfg.ecg_amplitude_tolerance,
        )
        guard = int(round(cfg.fasc_guard_s * fs))
        report_delay = 2 * max_width + self._win + int(self._prm[K.P_RUN_MIN]) + 1
        run_min = int(self._prm[K.P_RUN_MIN])
        self._sorters = [
            PotentialSorter(rule, guard, self._win, run_min, report_delay) for _ in range(nch)
        ]
        self._ready = True
        probe, self._probe = self._probe, []
        self._restart(probe[0], startup=True)
        out = self._run(probe[0], None)
        for prev, f in zip(probe, probe[1:], strict=False):
            out += self._run(f, prev.stop)
        return out

    def _restart(self, frame: Frame, startup: bool, keep_bursts: bool = False) -> None:
        """(Re)start the filters at ``frame``: steady state for its first value, envelope empty.

        With ``keep_bursts`` a burst under way stays open across the restart."""
        self._z1, self._z2 = sos_state(self._sos64, frame.samples[0])
        self._ring[:] = 0.0
        self._sf[:, K.SF_MSUM] = 0.0
        self._si[:, K.SI_POS] = 0
        fs = self.fs
        assert fs is not None
        settle = self._win + int(round(0.1 * fs))
        learn = int(round(self.config.baseline_startup_s * fs)) if startup else 0
        self._si[:, K.SI_FILLED_AT] = frame.start + settle
        # A gap during the opening second does not cut the learning of the resting level short.
        still_learning = 0 if startup else int(self._si[:, K.SI_WARM_UNTIL].max())
        self._si[:, K.SI_WARM_UNTIL] = max(frame.start + max(settle, learn), still_learning)
        resting = self._si[:, K.SI_STATE] == K.REST
        if not keep_bursts:
            resting[:] = True
            self._si[:, K.SI_STATE] = K.REST
        self._si[resting, K.SI_LAST_LOW] = frame.start
        self._si[:, [K.SI_RUN_START, K.SI_POT_AT]] = -1
        self._si[:, K.SI_RUN_LONG] = 0

    # -- streaming ------------------------------------------------------------------------------

    def _run(self, frame: Frame, expected: int | None) -> list[Episode]:
        out: list[tuple[int, int, Episode]] = []
        if expected is not None and (frame.gap_before or frame.start > expected):
            out += self._gap(expected, frame)
        raw = np.ascontiguousarray(frame.samples, dtype=np.float32)
        nch = raw.shape[1]
        threads = min(THREADS, 2)
        if threads > 1 and frame.n > PIPE_BLOCK and frame.n * nch >= PARALLEL_MIN:
            threads = self._pace.choose(threads)
            t0 = time.perf_counter()
            out += self._filter_detect(raw, frame.start, threads)
            self._pace.note(threads, (time.perf_counter() - t0) / raw.size)
        else:
            out += self._filter_detect(raw, frame.start, 1)
        self.samples_seen += frame.n
        end = frame.stop
        for c, ep in list(self._ongoing.items()):
            self._ongoing[c] = replace(ep, offset=end)
        for c, sorter in enumerate(self._sorters):
            out.extend((key, c, self._fasciculation(c, p, key)) for key, p in sorter.release(end))
        out.sort(key=lambda e: (e[0], e[1], e[2].onset))
        return [e for _, _, e in out]

    def _filter_detect(
        self, raw: np.ndarray, start: int, threads: int
    ) -> list[tuple[int, int, Episode]]:
        """Filter and detect ``raw``: block after block in this thread, or, with ``threads`` > 1,
        with the filters a block ahead in the process's filter thread (a two-stage pipeline in
        which every channel stays in one vector register; the filters take about a quarter of
        the time). If another detector has that thread, this one goes on alone."""
        nch = raw.shape[1]
        ev_i, ev_f, ev_n = self._ev_i, self._ev_f, self._ev_n
        out: list[tuple[int, int, Episode]] = []
        helper = filter_thread() if threads > 1 else None
        if helper is not None and not helper.claim():
            helper = None  # another detector has it: this one goes on alone
        if helper is None:
            blocks = -(-raw.shape[0] // BLOCK)
            ys = self._buffer(BLOCK, nch)
            b = 0
            while b < blocks:
                b = K.run_blocks(raw, start, BLOCK, b, self._sos, self._z1, self._z2, self._prm,
                        self._sf, self._si, self._ring, ys, ev_i, ev_f, ev_n)
                out += self._take_events()
            return out
        y = self._buffer(raw.shape[0], nch)
        ready = np.zeros(1, dtype=np.int64)
        sos, z1, z2 = self._sos, self._z1, self._z2
        # The first block here, so that detection has work while the other thread takes up
        # the rest, announced by detection's first call.
        K.filter_ahead(raw[:PIPE_BLOCK], PIPE_BLOCK, 0, sos, z1, z2, y, ready)
        job = helper.prepare(lambda: K.filter_ahead(raw, PIPE_BLOCK, 1, sos, z1, z2, y, ready))
        blocks = -(-raw.shape[0] // PIPE_BLOCK)
        b = 0
        try:
            while b < blocks:
                b = K.detect_filtered(raw, y, start, PIPE_BLOCK, b, ready, PATIENCE,
                                      helper.posted, job, self._prm, self._sf, self._si,
                                      self._ring, ev_i, ev_f, ev_n)
                if job:
                    helper.announced()
                    job = 0
                out += self._take_events()
                helper.check()
        finally:
            # Stopped early, the filters must be done with this detector's state first.
            helper.release(wait=b < blocks)
        return out

    def _take_events(self) -> list[tuple[int, int, Episode]]:
        """The episodes of the kernel's event rows so far, which are then emptied."""
        counts = self._ev_n
        if not counts.any():
            return []
        out = self._events(counts.copy(), self._ev_i, self._ev_f)
        counts[:] = 0
        return out

    @property
    def _pace(self) -> _Pace:
        pace = getattr(self, "_pace_", None)
        if pace is None:
            pace = self._pace_ = _Pace()
        return pace

    def _buffer(self, n: int, nch: int) -> np.ndarray:
        """A reusable float32 ``(n, nch)`` array for filtered samples (kept at its largest)."""
        buf = getattr(self, "_filtered", None)
        if buf is None or buf.shape[0] < n:
            buf = self._filtered = np.empty((max(n, BLOCK), nch), np.float32)
        return buf[:n]

    def _gap(self, expected: int, frame: Frame) -> list[tuple[int, int, Episode]]:
        """Samples were lost before ``frame``.

        A gap of a sample or two (a packet's worth at most) leaves filters and bursts as they
        are: only the sample index jumps. A gap no longer than the relaxation a spasm may hold
        restarts the filters but keeps the bursts under way, so a lossy link does not chop a
        cramp into pieces. A longer one ends what was open. Potentials near any gap are not
        vouched for.
        """
        lost_from = expected
        lost = frame.start - expected
        self.gap_samples += lost
        bridged = lost <= self._bridge_gap
        out: list[tuple[int, int, Episode]] = []
        for c, ch in enumerate(self.channels):
            self.quality.append(QualitySegment("gap", ch, lost_from, frame.start))
            if c in self._ongoing and not bridged:
                ep = self._ongoing.pop(c)
                last_active = int(self._si[c, K.SI_LAST_ACTIVE])
                out.append(
                    (frame.start, c, self._final_spasm(ep, last_active + 1, ("ended by gap",)))
                )
            self._sorters[c].busy_until(lost_from)
            self._sorters[c].mark_busy(lost_from, frame.start)
        if lost > self._tiny_gap:
            self._restart(frame, startup=False, keep_bursts=bridged)
        return out

    def _gap_notes(self, channel: str, onset: int, offset: int) -> tuple[str, ...]:
        """A note for an episode that spans samples lost in a gap it was carried across."""
        lost = sum(
            min(q.stop, offset) - max(q.start, onset)
            for q in self.quality
            if q.kind == "gap" and q.channel == channel and q.start < offset and q.stop > onset
        )
        return (f"spans gaps ({lost} samples lost)",) if lost > 0 else ()

    def _events(
        self, counts: np.ndarray, rows_i: np.ndarray, rows_f: np.ndarray
    ) -> list[tuple[int, int, Episode]]:
        """Episodes (and quality segments, potentials, activity) from the kernel's event rows,
        ``counts[c]`` of them for channel ``c``."""
        out: list[tuple[int, int, Episode]] = []
        fs = self.fs
        assert fs is not None
        for c, count in enumerate(counts.tolist()):
            if not count:
                continue
            # As Python numbers at once: far quicker than reading numpy scalars one by one.
            for row, row_f in zip(rows_i[c, :count].tolist(), rows_f[c, :count].tolist(),
                                  strict=True):
                out += self._event(c, row, row_f, fs)
        return out

    def _event(
        self, c: int, row: list[int], row_f: list[float], fs: float
    ) -> list[tuple[int, int, Episode]]:
        """What one event row of channel ``c`` means: a spasm that ended is returned, the rest
        is noted (quality segments, potentials for the sorter, activity, open spasms)."""
        kind, at = row[K.EI_TYPE], row[K.EI_AT]
        onset, offset = row[K.EI_ONSET], row[K.EI_OFFSET]
        peak, rms, base, _active = row_f
        channel = self.channels[c]
        if kind == K.EV_FLAT:
            self.quality.append(QualitySegment("flat", channel, onset, offset))
        elif kind == K.EV_POTENTIAL:
            self._sorters[c].add(Potential(onset, offset, row[K.EI_PEAK_AT], peak, base))
        elif kind == K.EV_ACTIVITY:
            self._sorters[c].busy_from(onset)
        elif kind == K.EV_ACTIVITY_END:
            self._sorters[c].busy_until(offset)
        else:
            notes: tuple[str, ...] = ()
            span = max(1, offset - onset)
            if row[K.EI_CLIPPED]:
                notes = (f"clipped {100.0 * row[K.EI_CLIPPED] / span:.1f}%",)
            if kind == K.EV_SPASM_END:
                notes += self._gap_notes(channel, onset, offset)
            ep = Episode("spasm", channel, onset, offset, row[K.EI_DETECTED], fs, peak, rms,
                         base, notes)
            if kind == K.EV_SPASM_CONFIRMED:
                self._ongoing[c] = ep
            else:
                self._ongoing.pop(c, None)
                return [(at, c, ep)]
        return []

    def _final_spasm(self, ep: Episode, offset: int, notes: tuple[str, ...]) -> Episode:
        offset = max(offset, ep.onset + 1)
        notes = self._gap_notes(ep.channel, ep.onset, offset) + notes
        return replace(ep, offset=offset, quality=ep.quality + notes)

    def _fasciculation(self, c: int, p: Potential, decided: int) -> Episode:
        assert self.fs is not None
        return Episode(
            "fasciculation",
            self.channels[c],
            p.onset,
            p.offset,
            decided,
            self.fs,
            p.peak,
            p.peak,
            p.base_rms,
        )


def kernel_params(cfg: DetectorConfig, fs: float, win: int) -> np.ndarray:
    """The kernel's parameter vector: every duration turned into samples at this rate."""
    tick = tick_samples(fs)
    eta_rest = 1.0 / (cfg.baseline_tau_s * fs)
    eta_creep = 1.0 / (cfg.baseline_creep_tau_s * fs)
    prm = np.concatenate([np.zeros(K.N_PARAMS), K.step_tables(eta_rest, eta_creep, tick)])
    prm[K.P_WIN] = win
    prm[K.P_ON2] = cfg.on_ratio**2
    prm[K.P_OFF2] = cfg.off_ratio**2
    prm[K.P_LOW2] = cfg.onset_ratio**2
    prm[K.P_FASC2] = cfg.fasc_ratio**2
    prm[K.P_FLAT2] = cfg.flat_ratio**2
    prm[K.P_ETA_REST] = eta_rest
    prm[K.P_ETA_FAST] = 1.0 / (0.2 * fs)
    prm[K.P_ETA_CREEP] = eta_creep
    prm[K.P_MIN_DUR] = round(cfg.min_duration_s * fs)
    prm[K.P_DROPOUT] = round(cfg.max_dropout_s * fs)
    prm[K.P_MIN_FRAC] = cfg.min_active_fraction
    prm[K.P_MAX_WIDTH] = max(1, round(cfg.fasc_max_width_s * fs))
    prm[K.P_RUN_MIN] = max(1, round(cfg.activity_run_s * fs))
    prm[K.P_BLIP_GAP] = round(min(cfg.blip_gap_s, cfg.max_dropout_s) * fs)
    prm[K.P_FLAT_MIN] = round(cfg.flat_min_s * fs)
    prm[K.P_CLIP] = cfg.clip_level or 0.0
    prm[K.P_TICK] = tick
    prm[K.P_SHORTCUT] = float(SHORTCUT)
    return prm


def tick_samples(fs: float) -> int:
    """Samples per tick of the resting levels at this rate (see :data:`TICK_S`)."""
    return 1 << max(0, int(np.floor(np.log2(max(1.0, TICK_S * fs)))))


def quantisation_floors(samples: np.ndarray, sos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest resting levels the kernel may learn, per channel: those of the recording's own
    quantisation noise (step²/12, white) after the filters, for the signal and for its
    sample-to-sample change.

    A channel of a coarse converter that barely moves between codes would otherwise learn a
    resting level of zero, and every single code step would look enormous. The step is the
    smallest change between consecutive samples; for finely quantised data it is tiny and the
    floor never matters.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.shape[0] < 2:
        zero = np.zeros(x.shape[1])
        return zero, zero
    steps = np.abs(np.diff(x, axis=0))
    steps[steps == 0.0] = np.inf
    q = steps.min(axis=0)
    q[~np.isfinite(q)] = 0.0
    gain, change_gain = _noise_gains(np.ascontiguousarray(sos, dtype=np.float64).tobytes())
    noise = q**2 / 12.0
    return K.MEDIAN_CHI2 * noise * gain, noise * change_gain


@lru_cache(maxsize=64)
def _noise_gains(sos: bytes) -> tuple[float, float]:
    """How much the sections ``sos`` (as bytes, to be kept once made) multiply the power of white
    noise, and that of its sample-to-sample change."""
    impulse = np.zeros(4096)
    impulse[0] = 1.0
    h = signal.sosfilt(np.frombuffer(sos).reshape(-1, 6).copy(), impulse)
    return float(np.sum(h**2)), float(np.sum(np.diff(h) ** 2))
