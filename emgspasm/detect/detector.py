"""The Detector: one stateful, causal object that live, replay and batch all feed with Frames.

It filters each block (band-pass and mains notches designed for the stream's sample rate), runs
the detection kernel, and turns the kernel's events into Episodes. Feeding the same stream in
blocks of any size gives the same episodes in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import DetectorConfig
from ..dsp.design import band_edges, bandpass_sos, detect_mains, mains_sos
from ..dsp.kernels import sos_state, sosfilt_inplace
from ..errors import ConfigError
from ..frames import Episode, Frame
from . import kernel as K
from .potentials import HeartbeatRule, Potential, PotentialSorter

BLOCK = 8192
"""Samples the kernel handles per call: the block stays in cache between filter and detection."""


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
        cfg = self.config
        self._probe_len = int(round(self.fs)) if cfg.mains == "auto" else 1
        self._next = frame.start

    def _probe_has_gap(self) -> bool:
        return any(f.gap_before for f in self._probe[1:])

    def _start(self) -> list[Episode]:
        """Design the filters (deciding the mains frequency if asked) and run the held frames."""
        cfg, fs = self.config, self.fs
        assert fs is not None
        if cfg.mains == "auto":
            contiguous = [self._probe[0]]
            for f in self._probe[1:]:
                if f.gap_before:
                    break
                contiguous.append(f)
            data = np.concatenate([f.samples for f in contiguous])[: self._probe_len]
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
        self._prm = kernel_params(cfg, fs, self._win)
        self._sf = np.zeros((nch, K.N_SF))
        self._si = np.zeros((nch, K.N_SI), dtype=np.int64)
        self._si[:, [K.SI_FLAT_START, K.SI_RUN_START, K.SI_POT_AT]] = -1
        max_width = int(self._prm[K.P_MAX_WIDTH])
        self._ring = np.zeros(K.ring_shape(nch, self._win, max_width))
        self._ev_i = np.zeros((nch, BLOCK // 2 + 8, K.N_EI), dtype=np.int64)
        self._ev_f = np.zeros((nch, BLOCK // 2 + 8, K.N_EF))
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

    def _restart(self, frame: Frame, startup: bool) -> None:
        """(Re)start the filters at ``frame``: steady state for its first value, envelope empty."""
        self._z1, self._z2 = sos_state(self._sos64, frame.samples[0])
        self._ring[:] = 0.0
        self._sf[:, K.SF_MSUM] = 0.0
        self._si[:, K.SI_POS] = 0
        fs = self.fs
        assert fs is not None
        settle = self._win + int(round(0.1 * fs))
        learn = int(round(self.config.baseline_startup_s * fs)) if startup else 0
        self._si[:, K.SI_FILLED_AT] = frame.start + settle
        self._si[:, K.SI_WARM_UNTIL] = frame.start + max(settle, learn)
        self._si[:, K.SI_LAST_LOW] = frame.start
        self._si[:, K.SI_STATE] = K.REST
        self._si[:, [K.SI_RUN_START, K.SI_POT_AT]] = -1
        self._si[:, K.SI_RUN_LONG] = 0

    # -- streaming ------------------------------------------------------------------------------

    def _run(self, frame: Frame, expected: int | None) -> list[Episode]:
        out: list[tuple[int, int, Episode]] = []
        if expected is not None and (frame.gap_before or frame.start > expected):
            out += self._gap(expected, frame)
        raw = frame.samples
        for b0 in range(0, frame.n, BLOCK):
            x = np.ascontiguousarray(raw[b0 : b0 + BLOCK], dtype=np.float32)
            y = x.copy()
            sosfilt_inplace(self._sos, y, self._z1, self._z2)
            g0 = frame.start + b0
            K.detect_block(y, x, g0, self._prm, self._sf, self._si, self._ring, self._ev_i,
                           self._ev_f, self._ev_n)
            out += self._events()
        self.samples_seen += frame.n
        end = frame.stop
        for c, ep in list(self._ongoing.items()):
            self._ongoing[c] = _with_offset(ep, end)
        for c, sorter in enumerate(self._sorters):
            out.extend((key, c, self._fasciculation(c, p, key)) for key, p in sorter.release(end))
        out.sort(key=lambda e: (e[0], e[1], e[2].onset))
        return [e for _, _, e in out]

    def _gap(self, expected: int, frame: Frame) -> list[tuple[int, int, Episode]]:
        """Samples were lost before ``frame``: close what was open, restart the filters."""
        lost_from = expected
        lost = frame.start - expected
        self.gap_samples += lost
        out: list[tuple[int, int, Episode]] = []
        for c, ch in enumerate(self.channels):
            self.quality.append(QualitySegment("gap", ch, lost_from, frame.start))
            if c in self._ongoing:
                ep = self._ongoing.pop(c)
                last_active = int(self._si[c, K.SI_LAST_ACTIVE])
                out.append(
                    (frame.start, c, self._final_spasm(ep, last_active + 1, ("ended by gap",)))
                )
            # Rest cannot be vouched for across lost samples.
            self._sorters[c].busy_until(lost_from)
            self._sorters[c].mark_busy(lost_from, frame.start)
        self._restart(frame, startup=False)
        return out

    def _events(self) -> list[tuple[int, int, Episode]]:
        out: list[tuple[int, int, Episode]] = []
        fs = self.fs
        assert fs is not None
        rows = [(c, k) for c in range(len(self.channels)) for k in range(int(self._ev_n[c]))]
        for c, k in rows:
            row = self._ev_i[c, k]
            kind, at = int(row[K.EI_TYPE]), int(row[K.EI_AT])
            peak, rms, base, _active = (float(v) for v in self._ev_f[c, k])
            if kind == K.EV_FLAT:
                self.quality.append(
                    QualitySegment(
                        "flat", self.channels[c], int(row[K.EI_ONSET]), int(row[K.EI_OFFSET])
                    )
                )
            elif kind == K.EV_POTENTIAL:
                self._sorters[c].add(
                    Potential(
                        int(row[K.EI_ONSET]), int(row[K.EI_OFFSET]), int(row[K.EI_PEAK_AT]),
                        peak, base,
                    )
                )
            elif kind == K.EV_ACTIVITY:
                self._sorters[c].busy_from(int(row[K.EI_ONSET]))
            elif kind == K.EV_ACTIVITY_END:
                self._sorters[c].busy_until(int(row[K.EI_OFFSET]))
            else:
                notes: tuple[str, ...] = ()
                span = max(1, int(row[K.EI_OFFSET] - row[K.EI_ONSET]))
                if row[K.EI_CLIPPED]:
                    notes = (f"clipped {100.0 * row[K.EI_CLIPPED] / span:.1f}%",)
                ep = Episode(
                    "spasm",
                    self.channels[c],
                    int(row[K.EI_ONSET]),
                    int(row[K.EI_OFFSET]),
                    int(row[K.EI_DETECTED]),
                    fs,
                    peak,
                    rms,
                    base,
                    notes,
                )
                if kind == K.EV_SPASM_CONFIRMED:
                    self._ongoing[c] = ep
                else:
                    self._ongoing.pop(c, None)
                    out.append((at, c, ep))
        return out

    def _final_spasm(self, ep: Episode, offset: int, notes: tuple[str, ...]) -> Episode:
        return Episode(
            ep.kind,
            ep.channel,
            ep.onset,
            max(offset, ep.onset + 1),
            ep.detected,
            ep.fs,
            ep.peak,
            ep.rms,
            ep.baseline,
            ep.quality + notes,
        )

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


def _with_offset(ep: Episode, offset: int) -> Episode:
    return Episode(
        ep.kind,
        ep.channel,
        ep.onset,
        offset,
        ep.detected,
        ep.fs,
        ep.peak,
        ep.rms,
        ep.baseline,
        ep.quality,
    )


def kernel_params(cfg: DetectorConfig, fs: float, win: int) -> np.ndarray:
    """The kernel's parameter vector: every duration turned into samples at this rate."""
    prm = np.zeros(K.N_PARAMS)
    prm[K.P_WIN] = win
    prm[K.P_ON2] = cfg.on_ratio**2
    prm[K.P_OFF2] = cfg.off_ratio**2
    prm[K.P_LOW2] = cfg.onset_ratio**2
    prm[K.P_FASC2] = cfg.fasc_ratio**2
    prm[K.P_FLAT2] = cfg.flat_ratio**2
    prm[K.P_ETA_REST] = 1.0 / (cfg.baseline_tau_s * fs)
    prm[K.P_ETA_FAST] = 1.0 / (0.2 * fs)
    prm[K.P_ETA_CREEP] = 1.0 / (cfg.baseline_creep_tau_s * fs)
    prm[K.P_MIN_DUR] = round(cfg.min_duration_s * fs)
    prm[K.P_DROPOUT] = round(cfg.max_dropout_s * fs)
    prm[K.P_MIN_FRAC] = cfg.min_active_fraction
    prm[K.P_MAX_WIDTH] = max(1, round(cfg.fasc_max_width_s * fs))
    prm[K.P_RUN_MIN] = max(1, round(cfg.activity_run_s * fs))
    prm[K.P_BLIP_GAP] = round(min(cfg.blip_gap_s, cfg.max_dropout_s) * fs)
    prm[K.P_FLAT_MIN] = round(cfg.flat_min_s * fs)
    prm[K.P_CLIP] = cfg.clip_level or 0.0
    return prm
