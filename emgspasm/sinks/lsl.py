"""Lab Streaming Layer outlets: the EMG samples and the detector's episodes, live (pylsl).

:class:`LslOutlet` publishes two streams that LabRecorder, an experiment script or any LSL
inlet can pick up:

``<name>`` (type ``EMG``)
    ``float32`` samples, one channel per EMG channel, at the stream's nominal rate. The stream's
    XML description holds ``<channels><channel><label/><unit/><type>EMG</type></channel>...``
    (the usual LSL meta-data layout) and ``<acquisition><manufacturer>emgspasm``.
``<name>-episodes`` (type ``Markers``)
    One string channel at irregular rate; each sample is one JSON object (see below).

Time stamps follow the sample clock, never the arrival of a block: sample ``i`` gets
``t0 + i / fs`` with ``t0`` taken from ``pylsl.local_clock()`` when the first frame is
written, or ``anchor(i)`` when an ``anchor`` (sample indices to LSL times, vectorised) is given.
Lost samples (``Frame.gap_before``) are never sent; the time stamps jump over them, so a receiver
sees the gap where it happened. A replay faster than real time
therefore runs ahead of ``local_clock()``; whoever knows the device-to-host clock mapping can pass
it as ``anchor``.

Marker format: one JSON object per marker sample, keys in this order, numbers in seconds of
stream time (``*_s``, from the first sample) and of the LSL clock (``*_lsl``), ``null`` for
unknown values:

``{"event": "spasm_onset", "channel", "onset_s", "detected_s", "onset_lsl"}``
    a spasm was confirmed and is still going on (sent once per spasm, from
    :meth:`LslOutlet.note_ongoing`);
``{"event": "episode", "kind", "channel", "onset_s", "offset_s", "duration_s", "detected_s",
"peak", "rms", "baseline", "relative_rms", "quality", "onset_lsl", "offset_lsl"}``
    a final episode (``kind`` ``spasm`` or ``fasciculation``; ``quality`` a list of notes);
``{"event": "marker", "text", "channel", "onset_s", "duration_s", "onset_lsl"}``
    a marker ("stretching", ...) entered during the session.

A marker's own LSL time stamp is the stream time at which it was sent (the end of the last
frame written), so the marker stream's time stamps never go backwards even though an episode is
only final some time after its onset; where the event sits is in its ``*_lsl`` fields.

Nothing here runs unless asked: pylsl is imported when an outlet is made. pylsl 1.18 wheels carry
liblsl for Linux (glibc 2.35 or later, x86_64), macOS and Windows; elsewhere install liblsl
itself (a package from the liblsl releases, or conda-forge ``liblsl``) and let ``PYLSL_LIB``
point at it.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import DeviceError
from ..frames import Annotation, Episode, Frame
from ..recording import COUNTS

EMG_TYPE = "EMG"
MARKER_TYPE = "Markers"
MARKER_SUFFIX = "-episodes"


def _pylsl() -> Any:
    """Import pylsl, turning a missing liblsl into a DeviceError that says what to install."""
    try:
        import pylsl
    except (ImportError, RuntimeError) as exc:  # pylsl raises RuntimeError without liblsl
        raise DeviceError(
            f"Lab Streaming Layer is not available ({exc}); install pylsl (its wheels bundle "
            "liblsl) or the liblsl package of your system"
        ) from None
    return pylsl


def _number(value: float) -> float | None:
    """A float for JSON: NaN and infinities become None (null)."""
    value = float(value)
    return value if math.isfinite(value) else None


def marker_json(payload: dict[str, Any]) -> str:
    """One marker sample: compact JSON with NaN as null."""
    clean = {k: (_number(v) if isinstance(v, float) else v) for k, v in payload.items()}
    return json.dumps(clean, separators=(",", ":"), allow_nan=False)


class LslOutlet:
    """The EMG stream and the episode marker stream of one source (see the module notes).

    With ``fs`` and ``channels`` given the outlets are created at once (a receiver can connect
    before the first sample); otherwise on the first frame, with ``units`` (default: ``counts``
    for every channel). ``source_id`` identifies the stream across restarts (a random one when
    not given). ``anchor`` maps an array of sample indices to LSL time stamps (default: linear
    from the first frame). The object is a sink as the live worker and the recorder take them:
    ``write(frame)``, ``add_episodes``, ``annotate``, ``close``.
    """

    def __init__(
        self,
        fs: float | None = None,
        channels: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        *,
        name: str = "emgspasm",
        source_id: str | None = None,
        anchor: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self._lsl = _pylsl()
        self.name = name
        self.source_id = source_id or f"emgspasm-{uuid.uuid4().hex[:12]}"
        self.fs: float | None = None
        self.channels: tuple[str, ...] = ()
        self.units: tuple[str, ...] = ()
        self._units_wanted = tuple(units) if units is not None else None
        self._anchor = anchor
        self._t0: float | None = None
        self._emg: Any = None
        self._markers: Any = None
        self._now: float | None = None
        self._last_marker: float = -math.inf
        self._announced: set[tuple[str, int]] = set()
        self._pending: list[dict[str, Any]] = []
        self._next: int | None = None
        self.samples_sent = 0
        self.markers_sent = 0
        self.closed = False
        if fs is not None and channels is not None:
            self.open(fs, channels, units)

    # -- streams ------------------------------------------------------------------------------

    def open(self, fs: float, channels: Sequence[str], units: Sequence[str] | None = None) -> None:
        """Create both outlets (once) for a stream of ``channels`` at ``fs`` Hz."""
        if self._emg is not None:
            return
        lsl = self._lsl
        self.fs = float(fs)
        self.channels = tuple(channels)
        wanted = units if units is not None else self._units_wanted
        self.units = tuple(wanted) if wanted is not None else (COUNTS,) * len(self.channels)
        if len(self.units) != len(self.channels):
            raise ValueError(f"{len(self.units)} units for {len(self.channels)} channels")
        info = lsl.StreamInfo(
            self.name, EMG_TYPE, len(self.channels), self.fs, lsl.cf_float32, self.source_id
        )
        desc = info.desc()
        chans = desc.append_child("channels")
        for channel, unit in zip(self.channels, self.units, strict=True):
            ch = chans.append_child("channel")
            ch.append_child_value("label", channel)
            ch.append_child_value("unit", unit)
            ch.append_child_value("type", EMG_TYPE)
        desc.append_child("acquisition").append_child_value("manufacturer", "emgspasm")
        marker_info = lsl.StreamInfo(
            self.name + MARKER_SUFFIX,
            MARKER_TYPE,
            1,
            lsl.IRREGULAR_RATE,
            lsl.cf_string,
            self.source_id + MARKER_SUFFIX,
        )
        marker_info.desc().append_child_value("format", "json")
        self._emg = lsl.StreamOutlet(info)
        self._markers = lsl.StreamOutlet(marker_info)
        pending, self._pending = self._pending, []
        for payload in pending:
            self._send(payload)

    @property
    def emg_outlet(self) -> Any:
        """The pylsl ``StreamOutlet`` of the samples (None until opened)."""
        return self._emg

    @property
    def marker_outlet(self) -> Any:
        """The pylsl ``StreamOutlet`` of the markers (None until opened)."""
        return self._markers

    def timestamp(self, index: float) -> float:
        """The LSL time stamp of sample ``index`` (fractional indices allowed)."""
        return float(self.timestamps(np.array([index], dtype=np.float64))[0])

    def timestamps(self, indices: np.ndarray) -> np.ndarray:
        """The LSL time stamps of an array of sample indices."""
        if self._anchor is not None:
            return np.asarray(self._anchor(indices), dtype=np.float64)
        assert self._t0 is not None and self.fs is not None
        return self._t0 + indices / self.fs

    # -- sink interface -----------------------------------------------------------------------

    def write(self, frame: Frame) -> None:
        """Send a frame's samples, time-stamped by sample index (gaps are jumped, not filled)."""
        self._check_open()
        if self._emg is None:
            self.open(frame.fs, frame.channels)
        if tuple(frame.channels) != self.channels or frame.fs != self.fs:
            raise ValueError("a stream must keep its sample rate and channels")
        if self._next is not None and frame.start < self._next:
            raise ValueError(f"frame starts at sample {frame.start}, before {self._next}")
        if self._t0 is None and self._anchor is None:
            self._t0 = self._lsl.local_clock() - frame.start / self.fs
        self._next = frame.stop
        if frame.n:
            stamps = self.timestamps(np.arange(frame.start, frame.stop, dtype=np.float64))
            samples = np.ascontiguousarray(frame.samples, dtype=np.float32)
            self._emg.push_chunk(samples, timestamp=stamps.tolist())
            self.samples_sent += frame.n
        self._now = self.timestamp(frame.stop)

    def add_episodes(self, episodes: Iterable[Episode]) -> None:
        """Send one ``episode`` marker per final episode."""
        for ep in episodes:
            self._send(
                {
                    "event": "episode",
                    "kind": ep.kind,
                    "channel": ep.channel,
                    "onset_s": round(ep.onset_s, 6),
                    "offset_s": round(ep.offset_s, 6),
                    "duration_s": round(ep.duration_s, 6),
                    "detected_s": round(ep.detected_s, 6),
                    "peak": float(ep.peak),
                    "rms": float(ep.rms),
                    "baseline": float(ep.baseline),
                    "relative_rms": float(ep.relative_rms),
                    "quality": list(ep.quality),
                    "onset_lsl": self._stamp_or_none(ep.onset),
                    "offset_lsl": self._stamp_or_none(ep.offset),
                }
            )
            self._announced.discard((ep.channel, ep.onset))

    def note_ongoing(self, ongoing: Iterable[Episode]) -> None:
        """Send a ``spasm_onset`` marker for each confirmed spasm not announced yet
        (pass ``Detector.ongoing`` after each frame)."""
        for ep in ongoing:
            key = (ep.channel, ep.onset)
            if key in self._announced:
                continue
            self._announced.add(key)
            self._send(
                {
                    "event": "spasm_onset",
                    "channel": ep.channel,
                    "onset_s": round(ep.onset_s, 6),
                    "detected_s": round(ep.detected_s, 6),
                    "onset_lsl": self._stamp_or_none(ep.onset),
                }
            )

    def annotate(self, annotation: Annotation) -> None:
        """Send a ``marker`` marker for a marker entered during the session."""
        onset = annotation.onset_s * self.fs if self.fs else None
        self._send(
            {
                "event": "marker",
                "text": annotation.description,
                "channel": annotation.channel,
                "onset_s": round(annotation.onset_s, 6),
                "duration_s": round(annotation.duration_s, 6),
                "onset_lsl": None if onset is None else self._stamp_or_none(onset),
            }
        )

    def close(self) -> None:
        """Withdraw both streams (receivers see them end)."""
        if self.closed:
            return
        self.closed = True
        self._emg = None
        self._markers = None

    def __enter__(self) -> LslOutlet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------

    def _stamp_or_none(self, index: float) -> float | None:
        if self._t0 is None and self._anchor is None:
            return None
        return round(self.timestamp(index), 6)

    def _send(self, payload: dict[str, Any]) -> None:
        self._check_open()
        if self._markers is None:  # before the first frame: sent once the streams exist
            self._pending.append(payload)
            return
        now = self._now if self._now is not None else self._lsl.local_clock()
        stamp = max(now, self._last_marker)
        self._last_marker = stamp
        self._markers.push_sample([marker_json(payload)], stamp)
        self.markers_sent += 1

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("the LSL outlet is closed")


def publish(
    frames: Iterable[Frame], detector: Any, outlet: LslOutlet
) -> Iterator[tuple[Frame, list[Episode]]]:
    """Run ``frames`` through ``detector`` and publish everything on ``outlet``.

    For each frame: its samples are sent, the detector takes it, spasms that became confirmed
    are announced (``spasm_onset``) and final episodes are sent; yields ``(frame, episodes)`` so
    the caller can do more with them (write a log, record). When the frames end the detector is
    flushed and its last episodes are sent and yielded with an empty frame placed at the end of
    the stream. ``detector`` is a :class:`~emgspasm.detect.Detector` (or anything with
    ``process``, ``ongoing`` and ``flush``).
    """
    last: Frame | None = None
    for frame in frames:
        outlet.write(frame)
        found = detector.process(frame)
        outlet.note_ongoing(detector.ongoing)
        outlet.add_episodes(found)
        last = frame
        yield frame, found
    final = detector.flush()
    outlet.add_episodes(final)
    if last is not None and final:
        empty = np.empty((0, len(last.channels)), dtype=np.float32)
        yield Frame(empty, last.stop, last.fs, last.channels), final
