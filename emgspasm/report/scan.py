"""One streamed pass over a recording: episodes, signal quality and a muscle-activity level.

The recording is read block by block (never whole) and each block goes through a
:class:`~emgspasm.detect.Detector` and through a band-pass of the same design. What is kept is
small next to the signal:

- the detector's episodes, flat-line and gap segments, and clipped-sample counts (the detector
  counts samples at or beyond ``clip_level`` when the configuration sets one; the increase over
  each block is kept, so clipping can be shown over time);
- per channel and consecutive 50 ms window, the RMS of the band-passed signal's sample-to-sample
  change (the quantity the detector's envelope is made of: motor-unit activity keeps its weight,
  the slow ringing of the filters after an electrode pop or a heartbeat loses most of its) and
  the RMS of the band-passed signal itself (the noise level in the recording's unit). That is
  40 numbers per second and channel, about 4.6 MB per channel for 8 hours (twice that while the
  pass runs). They tell when the muscle was working and show the night at a glance.

Memory therefore grows with the length of the recording only by that much, whatever its rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from ..config import DetectorConfig
from ..detect import Detector
from ..dsp.design import band_edges, bandpass_sos, detect_mains, mains_sos
from ..dsp.kernels import sos_state, sosfilt_stream
from ..frames import Annotation, Episode, Frame
from ..pipeline import DEFAULT_BLOCK_S, read_ahead
from ..recording import RecordingReader

LEVEL_WINDOW_S = 0.05
"""Length of the windows whose RMS makes the activity level."""
REST_PERCENTILE = 20.0


@dataclass(frozen=True)
class Span:
    """A stretch of time (seconds from the first sample); ``channel`` None for all channels.
    ``count`` is how many samples it concerns where that is known (clipped samples)."""

    start_s: float
    stop_s: float
    channel: str | None = None
    count: int = 0

    @property
    def duration_s(self) -> float:
        return self.stop_s - self.start_s


@dataclass
class Scan:
    """What a pass over a recording found (see the module notes)."""

    fs: float
    channels: tuple[str, ...]
    units: tuple[str, ...]
    n_samples: int
    start_time: datetime | None
    annotations: tuple[Annotation, ...]
    path: str = ""
    format: str = ""
    notes: tuple[str, ...] = ()
    profile: str = "night"
    on_ratio: float = 4.0
    mains_hz: float | None = None
    window: int = 1
    """Samples per level window."""
    levels: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """Activity level per window ``(windows, channels)``: the RMS of the band-passed signal's
    sample-to-sample change (as the detector's envelope); NaN where no samples."""
    rms: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """RMS of the band-passed signal per window, in the recording's unit; NaN where none."""
    episodes: list[Episode] = field(default_factory=list)
    gaps: list[Span] = field(default_factory=list)
    flat: list[Span] = field(default_factory=list)
    clipped: list[Span] = field(default_factory=list)
    clip_level: float | None = None

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    @property
    def window_s(self) -> float:
        return self.window / self.fs

    @property
    def gap_s(self) -> float:
        return sum(g.duration_s for g in self.gaps)

    @property
    def recorded_s(self) -> float:
        """Time with samples (the length less the gaps)."""
        return max(0.0, self.duration_s - self.gap_s)

    def rest_level(self) -> np.ndarray:
        """Resting level per channel: the :data:`REST_PERCENTILE` th percentile of the activity
        level over the whole recording (windows with samples and some signal only). Most of a
        night is rest, and even a session that is half movement has quiet moments; a low
        percentile finds them either way (for steady noise it lies within 10-20 % of the
        median)."""
        out = np.full(len(self.channels), np.nan)
        for c in range(len(self.channels)):
            column = self.levels[:, c]
            column = column[np.isfinite(column) & (column > 0)]
            if column.size:
                out[c] = float(np.percentile(column, REST_PERCENTILE))
        return out


class _Levels:
    """Band-pass each block (state carried, restarted after gaps) and sum squares per window."""

    def __init__(self, n_samples: int, channels: int, fs: float, config: DetectorConfig):
        self.fs = fs
        self.config = config
        self.window = max(1, int(round(LEVEL_WINDOW_S * fs)))
        count = max(1, -(-n_samples // self.window))
        self.sums = np.zeros((count, channels), dtype=np.float64)
        self.noise_sums = np.zeros((count, channels), dtype=np.float64)
        self.counts = np.zeros(count, dtype=np.int64)
        self.sos: np.ndarray | None = None
        self.z: tuple[np.ndarray, np.ndarray] | None = None
        self.last: np.ndarray | None = None
        self.mains_hz: float | None = None

    def _design(self, frame: Frame) -> None:
        cfg, fs = self.config, self.fs
        if cfg.mains == "auto":
            self.mains_hz = detect_mains(frame.samples[: int(round(fs))], fs)
        elif cfg.mains != "off":
            self.mains_hz = float(cfg.mains)
        sos = bandpass_sos(fs, cfg.band_low_hz, cfg.band_high_hz, cfg.band_order)
        if self.mains_hz:
            _, high = band_edges(fs, cfg.band_low_hz, cfg.band_high_hz)
            sos = np.vstack(
                [sos, mains_sos(fs, self.mains_hz, cfg.mains_harmonics, cfg.notch_q, high)]
            )
        self.sos = sos

    def add(self, frame: Frame) -> None:
        if frame.n == 0:
            return
        if self.sos is None:
            self._design(frame)
        assert self.sos is not None
        if self.z is None or frame.gap_before:
            self.z = sos_state(self.sos, frame.samples[0])
            self.last = None
        y = sosfilt_stream(self.sos, frame.samples, *self.z).astype(np.float64)
        previous = y[:1] if self.last is None else self.last
        self.last = y[-1:].copy()
        change = np.diff(y, axis=0, prepend=previous)
        square = np.square(change)
        power = np.square(y)
        first = frame.start // self.window
        last = (frame.stop - 1) // self.window
        index = np.arange(frame.start, frame.stop) // self.window - first
        size = last - first + 1
        stop = min(first + size, self.counts.size)
        keep = stop - first
        if keep <= 0:
            return
        self.counts[first:stop] += np.bincount(index, minlength=size)[:keep]
        for c in range(square.shape[1]):
            self.sums[first:stop, c] += np.bincount(index, weights=square[:, c], minlength=size)[
                :keep
            ]
            self.noise_sums[first:stop, c] += np.bincount(
                index, weights=power[:, c], minlength=size
            )[:keep]

    def levels(self, sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.sqrt(sums / self.counts[:, None])
        out[self.counts == 0] = np.nan
        return out.astype(np.float32)


def scan_recording(
    reader: RecordingReader,
    config: DetectorConfig | None = None,
    *,
    block_s: float = DEFAULT_BLOCK_S,
    on_progress: Callable[[int], None] | None = None,
) -> Scan:
    """Stream ``reader`` once through a Detector and the activity level (module notes)."""
    config = config or DetectorConfig()
    header = reader.header
    fs = header.fs
    detector = Detector(config)
    levels = _Levels(header.n_samples, len(header.channels), fs, config)
    episodes: list[Episode] = []
    gaps: list[Span] = []
    clipped: list[Span] = []
    clipped_before: dict[str, int] = {}
    block = max(1, int(round(block_s * fs)))
    position = 0
    frames = read_ahead(reader.frames(block), 2)
    for frame in frames:
        if frame.gap_before:
            gaps.append(Span((frame.start - frame.gap_before) / fs, frame.start / fs))
        episodes.extend(detector.process(frame))
        levels.add(frame)
        if config.clip_level is not None:
            now = detector.clipped_samples
            for channel, total in now.items():
                more = total - clipped_before.get(channel, 0)
                if more > 0:
                    clipped.append(Span(frame.start / fs, frame.stop / fs, channel, more))
            clipped_before = dict(now)
        position = frame.stop
        if on_progress:
            on_progress(frame.n + frame.gap_before)
    episodes.extend(detector.flush())
    if position < header.n_samples:  # lost samples at the very end
        gaps.append(Span(position / fs, header.n_samples / fs))
        if on_progress:
            on_progress(header.n_samples - position)

    flat = [
        Span(q.start / fs, q.stop / fs, q.channel) for q in detector.quality if q.kind == "flat"
    ]
    for a in header.annotations:  # clipping marked by the recorder that wrote the file
        if a.description == "clipped" and a.channel is not None:
            clipped.append(Span(a.onset_s, a.offset_s, a.channel, int(round(a.duration_s * fs))))
    clipped.sort(key=lambda s: (s.start_s, s.channel or ""))
    return Scan(
        fs=fs,
        channels=header.channels,
        units=header.units,
        n_samples=header.n_samples,
        start_time=header.start_time,
        annotations=header.annotations,
        path=header.path,
        format=header.format,
        notes=header.notes,
        profile=config.profile,
        on_ratio=config.on_ratio,
        mains_hz=detector.mains_hz if detector.mains_hz is not None else levels.mains_hz,
        window=levels.window,
        levels=levels.levels(levels.sums),
        rms=levels.levels(levels.noise_sums),
        episodes=episodes,
        gaps=gaps,
        flat=sorted(flat, key=lambda s: (s.start_s, s.channel or "")),
        clipped=clipped,
        clip_level=config.clip_level,
    )
