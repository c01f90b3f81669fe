"""The display tap: the filtered trace, its envelope and signal quality, for drawing only.

The Detector keeps its filtered signal to itself; the live view needs it to draw. The tap runs
beside the Detector (in the worker, after ``Detector.process`` has seen the same Frame) and
repeats the detector's filter with the same scipy design functions (:mod:`emgspasm.dsp.design`:
band-pass and mains notches, for the mains frequency the Detector settled on), with its own
filter state. Until the Detector has decided its filters (the first second of a stream when
mains is ``auto``), the tap holds the Frames and then catches up, so no sample is missing from
the picture.

Units (what the envelope panes show). Everything is in the recording's unit (µV for the
sample files), as RMS amplitudes of the filtered trace:

- ``rest`` is ``Detector.baseline_rms()``: the resting RMS level of the filtered trace;
- ``threshold`` is ``on_ratio x rest``, the level at which the detector calls a contraction;
- ``envelope`` is the detector's own envelope (the 50 ms moving mean square of the filtered
  signal's sample-to-sample change, each sample capped at the fasciculation level), scaled so
  that the detector's resting level of that envelope sits at ``rest``. The envelope therefore
  crosses the drawn threshold exactly when the detector's activity test passes (up to the rest
  level being read once per Frame), while staying in the same unit as the trace beside it.

While the detector is still learning its resting levels (the opening second), the tap falls
back to the plain moving RMS of the filtered trace (``envelope_mode == "rms"``), which sits a
little higher than the detector's envelope on heartbeats and movement remnants.

Quality per channel (:class:`ChannelQuality`): clipping (samples at the configured clip level,
or repeated samples at the extreme of what the channel has reached when no clip level is set),
flat line (envelope below ``flat_ratio x rest`` for ``flat_min_s``, as the detector marks it),
and the mains level: the RMS amplitude of the mains line in the raw signal over the last
second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ..detect import Detector
from ..dsp.design import band_edges, bandpass_sos, mains_sos
from ..frames import Frame


@dataclass(frozen=True)
class ChannelQuality:
    """Signal quality of one channel over the last second or so.

    ``clipped_percent``: samples clipped in the last full second. ``flat``: a flat line (lead
    off) is under way. ``mains_rms``: RMS amplitude of the mains line (``mains_hz``) in the raw
    signal over the last full second, in the recording's unit (None until a second is seen).
    """

    clipped_percent: float = 0.0
    flat: bool = False
    mains_rms: float | None = None
    mains_hz: float | None = None


@dataclass(frozen=True)
class DisplayBlock:
    """One block of display signals, sample for sample with a Frame.

    ``filtered`` and ``envelope`` are float32 ``(n, channels)`` in the recording's unit (see
    the module doc); ``rest`` and ``threshold`` are the levels per channel at the end of the
    block; ``gap_before`` counts samples lost before it.
    """

    start: int
    fs: float
    filtered: np.ndarray
    envelope: np.ndarray
    rest: np.ndarray
    threshold: np.ndarray
    quality: tuple[ChannelQuality, ...]
    gap_before: int = 0

    @property
    def n(self) -> int:
        return int(self.filtered.shape[0])

    @property
    def stop(self) -> int:
        return self.start + self.n


def detector_levels(detector: Detector) -> tuple[np.ndarray, np.ndarray | None]:
    """The Detector's resting levels per channel: ``(rest_rms, envelope_rest)``.

    ``envelope_rest`` is the resting mean square of the detector's envelope, which the detector
    compares its envelope with; None while the detector is still learning it.
    """
    rest = np.asarray(detector.baseline_rms(), dtype=np.float64)
    env_rest = detector.envelope_rest()
    if env_rest.shape != rest.shape or not np.all(np.isfinite(env_rest)):
        return rest, None
    return rest, env_rest


class DisplayTap:
    """Filtered trace, envelope and quality for the live view (see the module doc).

    Call :meth:`process` with each Frame right after ``detector.process`` has had it; it
    returns the display blocks that became ready (none while the Detector is still deciding
    its filters, then every held Frame at once).
    """

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.config = detector.config
        self._held: list[Frame] = []
        self._ready = False
        self._next: int | None = None
        self.envelope_mode = "detector"
        self.samples_out = 0

    # -- set-up -------------------------------------------------------------------------------

    def _design(self) -> None:
        det, cfg = self.detector, self.config
        fs = det.fs
        assert fs is not None
        sos = bandpass_sos(fs, cfg.band_low_hz, cfg.band_high_hz, cfg.band_order)
        if det.mains_hz:
            _, high = band_edges(fs, cfg.band_low_hz, cfg.band_high_hz)
            notch = mains_sos(fs, det.mains_hz, cfg.mains_harmonics, cfg.notch_q, high)
            sos = np.vstack([sos, notch])
        self.fs = float(fs)
        self._sos = sos
        self._zi_unit = signal.sosfilt_zi(sos)
        nch = len(det.channels)
        self.nch = nch
        self._win = max(2, int(round(cfg.envelope_window_s * fs)))
        self._flat_min = int(round(cfg.flat_min_s * fs))
        self._fasc2 = cfg.fasc_ratio**2
        self._flat2 = cfg.flat_ratio**2
        self._on = cfg.on_ratio
        # Mains line: projected onto the mains frequency the Detector uses (50 Hz if none).
        self._mains_hz = float(det.mains_hz) if det.mains_hz else 50.0
        self._second = max(1, int(round(fs)))
        self._peak_abs = np.zeros(nch)
        self._flat_run = np.zeros(nch, dtype=np.int64)
        self._clip_last = np.zeros(nch)
        self._clip_acc = np.zeros(nch, dtype=np.int64)
        self._clip_n = 0
        self._clip_seen = dict(det.clipped_samples)
        self._mains_acc = np.zeros(nch, dtype=np.complex128)
        self._mains_n = 0
        self._mains_last: np.ndarray | None = None
        self._ready = True

    def _restart(self, frame: Frame) -> None:
        """Filter state at steady state for the frame's first sample; envelope window empty."""
        first = frame.samples[0].astype(np.float64)
        self._zi = self._zi_unit[:, :, None] * first[None, None, :]
        self._prev = None
        self._tail = np.zeros((self._win, self.nch))
        self._prev_raw = first.copy()

    # -- streaming ----------------------------------------------------------------------------

    def process(self, frame: Frame) -> list[DisplayBlock]:
        """Display blocks for ``frame`` (and any held before it) once the Detector is ready."""
        if frame.n == 0:
            return []
        if not self._ready:
            self._held.append(frame)
            rest = self.detector.baseline_rms()
            if rest.size == 0 or not np.all(np.isfinite(rest)):
                return []
            self._design()
            held, self._held = self._held, []
            return [self._block(f) for f in held]
        return [self._block(frame)]

    def _block(self, frame: Frame) -> DisplayBlock:
        gap = frame.gap_before
        if self._next is not None and frame.start > self._next:
            gap = max(gap, frame.start - self._next)
        if self._next is None or gap:
            self._restart(frame)
        self._next = frame.stop
        x = frame.samples.astype(np.float64)
        y, self._zi = signal.sosfilt(self._sos, x, axis=0, zi=self._zi)
        rest, env_rest = detector_levels(self.detector)
        if env_rest is None:
            self.envelope_mode = "rms"
            power = y * y
        else:
            self.envelope_mode = "detector"
            prev = y[:1] if self._prev is None else self._prev
            d = np.diff(y, axis=0, prepend=prev)
            power = np.minimum(d * d, self._fasc2 * np.where(env_rest > 0, env_rest, np.inf))
        self._prev = y[-1:].copy()
        ms = self._moving_mean(power)
        if env_rest is None:
            envelope = np.sqrt(ms)
            ratio2 = ms / np.where(rest > 0, rest * rest, np.nan)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio2 = ms / np.where(env_rest > 0, env_rest, np.nan)
            envelope = rest * np.sqrt(ratio2)
        quality = self._quality(frame, x, ratio2)
        self.samples_out += frame.n
        return DisplayBlock(
            start=frame.start,
            fs=self.fs,
            filtered=y.astype(np.float32),
            envelope=envelope.astype(np.float32),
            rest=rest.copy(),
            threshold=self._on * rest,
            quality=quality,
            gap_before=gap,
        )

    def _moving_mean(self, power: np.ndarray) -> np.ndarray:
        """Mean of each sample's last ``win`` values of ``power``, carried across blocks."""
        win = self._win
        ext = np.concatenate([self._tail, power])
        cs = np.cumsum(ext, axis=0)
        total = cs[win:] - cs[:-win]  # row i: the sum of ext[i + 1 : win + i + 1]
        self._tail = ext[-win:].copy()
        return np.maximum(total, 0.0) / win

    def _quality(self, frame: Frame, x: np.ndarray, ratio2: np.ndarray) -> tuple[ChannelQuality]:
        det, n = self.detector, frame.n
        # Clipping: the Detector counts samples at the configured clip level; without one,
        # a sample repeated at the extreme the channel has reached is taken as clipped.
        self._peak_abs = np.maximum(self._peak_abs, np.abs(x).max(axis=0))
        if self.config.clip_level:
            counts = det.clipped_samples
            clipped = np.array(
                [counts.get(ch, 0) - self._clip_seen.get(ch, 0) for ch in det.channels]
            )
            self._clip_seen = dict(counts)
        else:
            prev = np.vstack([self._prev_raw[None, :], x[:-1]])
            at_rail = (x == prev) & (np.abs(x) >= 0.98 * self._peak_abs) & (self._peak_abs > 0)
            clipped = at_rail.sum(axis=0)
        self._prev_raw = x[-1].copy()
        self._clip_acc += clipped
        self._clip_n += n
        if self._clip_n >= self._second:
            self._clip_last = 100.0 * self._clip_acc / self._clip_n
            self._clip_acc[:] = 0
            self._clip_n = 0
        # Flat line: the envelope far below rest for long enough.
        below = np.nan_to_num(ratio2, nan=1.0) < self._flat2
        for c in range(self.nch):
            col = below[:, c]
            if col.all():
                self._flat_run[c] += n
            else:
                last_above = n - 1 - int(np.flatnonzero(~col)[-1])
                self._flat_run[c] = last_above
        flat = self._flat_run >= self._flat_min
        # Mains: projection of the raw signal onto the mains line over whole seconds.
        # Whole seconds hold whole mains cycles: the phase is taken within the second, which
        # keeps it exact however long the stream has run.
        idx = np.fmod(np.arange(frame.start, frame.stop, dtype=np.float64), self.fs)
        phasor = np.exp(-2j * math.pi * self._mains_hz * idx / self.fs)
        centred = x - x.mean(axis=0)
        self._mains_acc += phasor @ centred
        self._mains_n += n
        if self._mains_n >= self._second:
            self._mains_last = np.sqrt(2.0) * np.abs(self._mains_acc) / self._mains_n
            self._mains_acc[:] = 0
            self._mains_n = 0
        mains = self._mains_last
        return tuple(
            ChannelQuality(
                clipped_percent=float(self._clip_last[c]),
                flat=bool(flat[c]),
                mains_rms=None if mains is None else float(mains[c]),
                mains_hz=self._mains_hz,
            )
            for c in range(self.nch)
        )
