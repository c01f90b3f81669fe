"""XDF files (LabRecorder recordings of Lab Streaming Layer streams), read with pyxdf.

An XDF file holds several streams, each with its own clock-synchronised time stamps. This reader
takes one of them as the EMG recording:

1. the stream named by ``stream`` (its name, or its type) when given;
2. otherwise the stream of type ``EMG``; then a stream whose name contains "EMG";
3. otherwise the first numeric stream with a nominal sample rate.

Other regular streams (an accelerometer, EEG) are left out and named in a note. Streams of
irregular rate (``nominal_srate`` 0: LSL marker streams, string or numeric) become
:class:`~emgspasm.frames.Annotation` objects for the whole recording, placed on the EMG stream's
sample clock (a marker before the first EMG sample is left out and counted in a note; with
several marker streams each description is prefixed with its stream's name).

Time stamps and gaps. LSL time stamps carry transport jitter (a Bluetooth or network block
arrives late, the next ones catch up), so they are not trusted sample by sample. The sample
clock is: consecutive samples of the stream are consecutive sample indices, except where samples
were lost. Lost samples are found from the lower envelope of the stream's lag behind its nominal
rate: jitter only ever delays a time stamp, so the least lag over a second of samples is the true
one, and a lasting rise of that least lag by ``k`` sample periods means ``k`` samples are
missing. They are marked as a gap at the interval where the time stamps jumped; nothing is
invented and nothing closed up. Time stamps that run backwards (a clock reset) or a rate that
drifts from the nominal one are named in the notes, never "corrected" by moving samples. The
sample rate is the stream's nominal rate; the measured rate is noted when it differs by more than
0.1 %.

Samples keep the stream's values, except that a sample holding NaN or infinity (how some
devices mark a lost value) becomes a gap, counted in a note; channel names and units come from
the stream's description (``<channels><channel><label>/<unit>``, units such as "microvolts"
shortened to "uV"). The start time is the file header's ``datetime`` when it states one.

Before pyxdf sees the file, :mod:`._xdfscan` walks its chunks: a damaged file is refused with
the byte offset of the damage instead of being skipped over in silence. pyxdf reads the whole
file into memory, so the recording is returned in memory as a
:class:`~emgspasm.recording.Recording`.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

import numpy as np

from ..errors import RecordingError
from ..frames import Annotation
from ..recording import COUNTS, Recording
from ._common import check_fs, display_name, place_rows
from ._xdfscan import check_xdf

MAX_MISSING_RATIO = 10
MISSING_ALLOWANCE = 2**20
"""Time stamps implying more lost samples than both this and :data:`MAX_MISSING_RATIO` times the
present ones are refused: they are corrupt, and the gap would have to be allocated."""
GAP_WINDOW_S = 1.0
"""Span of samples over which the least lag is taken on each side of a possible gap."""
MIN_GAP_PERIODS = 0.75
"""A rise of the least lag by this many sample periods or more is a gap (rounded to samples)."""
RATE_NOTE_RATIO = 1e-3
_UNITS = {
    "microvolts": "uV",
    "microvolt": "uV",
    "µv": "uV",
    "μv": "uV",
    "uv": "uV",
    "millivolts": "mV",
    "millivolt": "mV",
    "mv": "mV",
    "volts": "V",
    "volt": "V",
    "v": "V",
}


def _first(info: dict[str, Any], key: str, default: str = "") -> str:
    value = info.get(key)
    if isinstance(value, list) and value:
        value = value[0]
    return default if value is None else str(value)


def _channels_meta(info: dict[str, Any], count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Channel labels and units from the stream description (placeholders where absent)."""
    labels: list[str] = []
    units: list[str] = []
    try:
        channels = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        channels = []
    for k in range(count):
        entry = channels[k] if k < len(channels) and isinstance(channels[k], dict) else {}
        label = _first(entry, "label").strip() or f"ch{k + 1}"
        unit = _first(entry, "unit").strip()
        labels.append(label)
        units.append(_UNITS.get(unit.lower(), unit) if unit else COUNTS)
    if len(set(labels)) != len(labels):  # keep them apart: names must be unique
        labels = [
            f"{label}#{k + 1}" if labels.count(label) > 1 else label
            for k, label in enumerate(labels)
        ]
    return tuple(labels), tuple(units)


def _is_numeric(info: dict[str, Any]) -> bool:
    return _first(info, "channel_format").lower() != "string"


def _rate(info: dict[str, Any]) -> float:
    try:
        return float(_first(info, "nominal_srate", "0"))
    except ValueError:
        return 0.0


def choose_stream(streams: list[dict[str, Any]], wanted: str | None, name: str) -> int:
    """Index of the EMG stream among pyxdf's streams (see the module notes for the order)."""
    regular = [k for k, s in enumerate(streams) if _rate(s["info"]) > 0 and _is_numeric(s["info"])]
    if wanted is not None:
        for k in regular:
            info = streams[k]["info"]
            if wanted in (_first(info, "name"), _first(info, "type")):
                return k
        names = ", ".join(repr(_first(streams[k]["info"], "name")) for k in regular) or "none"
        raise RecordingError(
            f"{name}: no numeric stream with a sample rate is named {wanted!r} (there are: {names})"
        )
    for test in (
        lambda info: _first(info, "type").strip().lower() == "emg",
        lambda info: "emg" in _first(info, "name").lower(),
        lambda info: True,
    ):
        for k in regular:
            if test(streams[k]["info"]):
                return k
    raise RecordingError(f"{name}: holds no numeric stream with a nominal sample rate")


def _running_min(values: np.ndarray, window: int, forward: bool) -> np.ndarray:
    """Least of ``values[i : i + window]`` (forward) or ``values[i - window + 1 : i + 1]``."""
    from scipy.ndimage import minimum_filter1d

    if values.size == 0:
        return values.copy()
    origin = -(window // 2) if forward else (window - 1) // 2
    return minimum_filter1d(values, window, mode="nearest", origin=origin)


def find_gaps(stamps: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Where samples were lost: positions ``j`` (samples lost just before sample ``j``) and
    counts, from time stamps ``stamps`` of a stream at nominal rate ``fs`` (see module notes).

    A rise of the least lag counts when it exceeds both :data:`MIN_GAP_PERIODS` and the time
    stamps' own jitter (the 99th percentile of how far a sample lags behind the least lag around
    it): a loss shorter than the jitter cannot be told from it. The count is exact for clean
    time stamps and good to about a sample under jitter.
    """
    n = stamps.size
    if n < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lag = (stamps - stamps[0]) * fs - np.arange(n)
    window = max(8, int(round(GAP_WINDOW_S * fs)))
    ahead = _running_min(lag, window, forward=True)
    behind = _running_min(lag, window, forward=False)
    jitter = float(np.percentile(lag - np.maximum(ahead, behind), 99))
    threshold = max(MIN_GAP_PERIODS, jitter + 0.5)
    rise = ahead[1:] - behind[:-1]  # rise[j - 1]: least lag from j on minus least lag before j
    gaps_at: list[int] = []
    counts: list[int] = []
    candidates = np.flatnonzero(rise >= threshold)
    if candidates.size:
        breaks = np.flatnonzero(np.diff(candidates) > 1)
        starts = np.concatenate(([candidates[0]], candidates[breaks + 1]))
        stops = np.concatenate((candidates[breaks], [candidates[-1]])) + 1
        intervals = np.diff(stamps)
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            # the samples went missing where the time stamps jumped within this run
            j = a + int(np.argmax(intervals[a:b])) + 1
            count = int(round(ahead[j] - behind[j - 1]))
            if count >= 1:
                gaps_at.append(j)
                counts.append(count)
    return np.asarray(gaps_at, dtype=np.int64), np.asarray(counts, dtype=np.int64)


def _check_stamps(name: str, stream: str, stamps: np.ndarray, fs: float) -> None:
    """Refuse time stamps that are not finite or too far apart to count samples with."""
    bad = np.flatnonzero(~np.isfinite(stamps))
    if bad.size:
        raise RecordingError(
            f"{name}: stream {stream!r} has {bad.size} time stamps that are not numbers "
            f"(first at sample {int(bad[0])}); the file is corrupt"
        )
    span = float(stamps.max() - stamps.min()) if stamps.size else 0.0
    if not np.isfinite(span) or span * fs > 2.0**53:
        raise RecordingError(
            f"{name}: stream {stream!r} has time stamps {span:g} s apart; the file is corrupt"
        )


def _start_time(fileheader: dict[str, Any]) -> datetime | None:
    try:
        text = str(fileheader["info"]["datetime"][0]).strip()
    except (KeyError, IndexError, TypeError):
        return None
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        return None
    return start.replace(tzinfo=None)  # the wall-clock time the recording started


def _marker_text(value: Any) -> str:
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [_marker_text(v) for v in value]
        return " / ".join(p for p in parts if p)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value).strip()


def read_xdf(
    path: str | os.PathLike[str],
    *,
    fs: float | None = None,
    skip_bad_lines: bool = False,
    stream: str | None = None,
) -> Recording:
    """Read the EMG stream of an XDF file, its marker streams as annotations (module notes).

    ``stream`` picks the EMG stream by name or type. ``fs`` is refused (the stream states its
    own rate); ``skip_bad_lines`` has no meaning for XDF and is ignored.
    """
    del skip_bad_lines
    name = display_name(path)
    if fs is not None:
        raise RecordingError(
            f"{name}: an XDF stream states its own sample rate; --fs is only for text formats"
        )
    if not os.path.exists(path):
        raise RecordingError(f"{name}: no such file")
    if os.path.isdir(path):
        raise RecordingError(f"{name}: is a folder, not a recording")
    check_xdf(path, name)
    import pyxdf

    quiet = logging.getLogger("pyxdf.pyxdf")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)  # its messages are about what the scan has ruled out
    try:
        streams, fileheader = pyxdf.load_xdf(os.fspath(path), dejitter_timestamps=False)
    except Exception as exc:  # pyxdf raises plain Exception/IOError/struct.error on bad files
        reason = str(exc).replace(os.fspath(path), name)
        raise RecordingError(f"{name}: cannot be read as XDF: {reason}") from None
    finally:
        quiet.setLevel(level)
    if not streams:
        raise RecordingError(f"{name}: holds no streams")

    chosen = choose_stream(streams, stream, name)
    emg = streams[chosen]
    info = emg["info"]
    stream_name = _first(info, "name", f"stream {chosen + 1}")
    rate = check_fs(_rate(info), f"{name}: stream {stream_name!r}")
    values = np.asarray(emg["time_series"], dtype=np.float32)
    stamps = np.asarray(emg["time_stamps"], dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise RecordingError(f"{name}: stream {stream_name!r} holds no samples")
    _check_stamps(name, stream_name, stamps, rate)
    channels, units = _channels_meta(info, values.shape[1])
    notes: list[str] = [f"stream {stream_name!r} of {len(streams)} in the file"]

    at, lost = find_gaps(stamps, rate)
    total_lost = float(lost.sum(dtype=np.float64))
    if total_lost > max(MAX_MISSING_RATIO * stamps.size, MISSING_ALLOWANCE):
        raise RecordingError(
            f"{name}: the time stamps of stream {stream_name!r} imply {total_lost:.0f} lost "
            f"samples for {stamps.size} present ones (first jump before sample {int(at[0])}); "
            "they do not look like a clock"
        )
    index = np.arange(stamps.size, dtype=np.int64)
    if at.size:
        shift = np.zeros(stamps.size, dtype=np.int64)
        shift[at] = lost
        index += np.cumsum(shift)
        notes.append(
            f"the time stamps show {int(lost.sum())} lost samples in {at.size} place"
            f"{'s' if at.size > 1 else ''} (first before sample {int(index[at[0]])}); they are "
            "marked as gaps"
        )
    backwards = int(np.count_nonzero(np.diff(stamps) < 0))
    if backwards:
        notes.append(f"time stamps run backwards {backwards} times (clock resets); samples kept")
    n = int(index[-1]) + 1
    span = stamps[-1] - stamps[0]
    if span > 0 and n > 1:
        measured = (n - 1) / span
        if abs(measured - rate) > RATE_NOTE_RATIO * rate:
            notes.append(
                f"measured rate {measured:.4g} Hz differs from the nominal {rate:g} Hz; the "
                "nominal rate is used"
            )
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        first = int(np.argmax(bad))
        notes.append(
            f"{int(bad.sum())} samples hold NaN or infinite values (first at sample "
            f"{int(index[first])}); they are marked as gaps"
        )
    samples, gaps = place_rows(values[~bad], index[~bad], n)

    left_out = [
        f"{_first(s['info'], 'name')} ({_rate(s['info']):g} Hz)"
        for k, s in enumerate(streams)
        if k != chosen and _rate(s["info"]) > 0
    ]
    if left_out:
        notes.append(f"left out: {', '.join(left_out)}")

    annotations, early, unplaced = _annotations(streams, stamps, index, rate)
    if early:
        notes.append(f"{early} markers before the first EMG sample left out")
    if unplaced:
        notes.append(f"{unplaced} markers without a valid time stamp left out")

    return Recording(
        samples=samples,
        fs=rate,
        channels=channels,
        units=units,
        start_time=_start_time(fileheader),
        annotations=annotations,
        gaps=gaps,
        format="xdf",
        path=str(path),
        notes=tuple(notes),
    )


def _annotations(
    streams: list[dict[str, Any]], stamps: np.ndarray, index: np.ndarray, fs: float
) -> tuple[tuple[Annotation, ...], int, int]:
    """Marker streams' samples as annotations on the EMG sample clock; how many fell before the
    first EMG sample, and how many had no finite time stamp."""
    marker_streams = [s for s in streams if _rate(s["info"]) <= 0]
    prefix = len(marker_streams) > 1
    order = np.argsort(stamps, kind="stable")
    sorted_stamps, sorted_index = stamps[order], index[order]
    out: list[Annotation] = []
    early = 0
    unplaced = 0
    for s in marker_streams:
        label = _first(s["info"], "name", "markers")
        times = np.asarray(s["time_stamps"], dtype=np.float64)
        for t, value in zip(times.tolist(), list(s["time_series"]), strict=True):
            text = _marker_text(value)
            if not text:
                continue
            if not np.isfinite(t):
                unplaced += 1
                continue
            # the EMG sample nearest in time, then the remainder at the nominal rate
            j = int(np.clip(np.searchsorted(sorted_stamps, t), 0, len(sorted_stamps) - 1))
            if j > 0 and abs(sorted_stamps[j - 1] - t) <= abs(sorted_stamps[j] - t):
                j -= 1
            position = float(sorted_index[j]) + (t - sorted_stamps[j]) * fs
            if position < 0:
                early += 1
                continue
            description = f"{label}: {text}" if prefix else text
            out.append(Annotation(round(position / fs, 6), 0.0, description))
    out.sort(key=lambda a: (a.onset_s, a.description))
    return tuple(out), early, unplaced
