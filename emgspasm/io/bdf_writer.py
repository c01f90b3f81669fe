"""Writing BDF+ (24-bit EDF+) files incrementally, as a recording comes in.

The writer is written here rather than taken from pyedflib because pyedflib's writer keeps
annotations until the file is closed and silently drops those that do not fit into the data
records' annotation space. This one puts each annotation into the next data record it writes
(EDF+ lets an annotation sit in any record, its onset says where it belongs), and keeps the
header's record count current after every record, so a recording cut short by a crash is still a
valid file up to its last whole record.

Layout choices:

- One data record lasts 1 s for a whole-number sample rate; otherwise the shortest duration that
  holds a whole number of samples and fits the header's 8 characters, lengthened towards 1 s.
- Samples are kept in a buffer until a whole record is available. On :meth:`BdfWriter.close` the
  last record is padded with zeros and a ``recording end`` annotation records the true number of
  samples (the readers stop there, so padding never comes back as data). Records holding only
  annotations that did not fit earlier may follow, also after that mark.
- Samples lost before a frame (``gap_before``) are written as zeros under a ``gap`` annotation
  spanning them; samples outside the physical range are clipped and marked ``clipped@channel``.
- Files are created readable and writable by their owner only: they hold health data.

Crash safety. Each record goes to the operating system in one write the moment it is complete
(nothing is buffered in this process), and only then does the header's record count move on to
include it. So the file is always exactly the records its count names, which pyEDFlib, MNE and
:mod:`emgspasm.io` read as it is. Only between those two writes is it followed by one record
more than it counts (or by part of one, if the disk fills up during the write); pyEDFlib still
reads it (it refuses a file *shorter* than its count, never a longer one), and ``emgspasm
repair`` counts that record in or drops the part. After ``kill -9`` what is lost is the record
being filled (at most one record: 1 s for whole-number rates) and the annotations waiting for
it; an annotation waits at most one record, since it goes into the next record written.

A process that is killed leaves its writes in the operating system's cache, which survives it; a
power cut does not. With ``sync_interval_s`` (what a live recorder uses) a record's data is made
durable (``fdatasync``) before the count is moved past it and the count is made durable after,
so the disk never holds a count naming records it does not hold. That costs two syncs per
record, a few milliseconds (measured on a virtual machine's disk: 6 ms median, 20 ms worst of
200 records). To keep a replay much faster than real time from spending its time syncing, they
are done at most once per ``sync_interval_s`` of wall-clock time. A recording in real time
writes one record a second, so with an interval under 1 s every record is synced; in a fast
replay the records between two syncs reach the disk with the next sync (a power cut may then
leave a count ahead of the data, which ``emgspasm repair`` fixes). Without ``sync_interval_s``
(writing a file from memory) the operating system decides when data reaches the disk.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from types import TracebackType

import numpy as np

from ..errors import RecordingError
from ..frames import Annotation, Frame
from ..recording import Recording
from ._common import check_fs, display_name
from ._edfplus import CLIPPED, END, GAP, tag

DIGITAL_MIN = -8388608
DIGITAL_MAX = 8388607
ANNOTATION_SAMPLES = 120
"""Size of the annotation signal per data record, in 3-byte samples (360 bytes)."""
MAX_RECORD_S = 60
CLIP_MERGE_S = 0.5
"""Clipped samples closer than this to the previous clipped run extend it."""
WRITE_BLOCK = 65536
"""Samples per frame when :func:`write_bdf` hands a recording to the writer."""

_RECORD_COUNT_AT = 236
"""Byte offset of the header's record count (8 ASCII characters)."""
_datasync = getattr(os, "fdatasync", os.fsync)  # fdatasync is not on every system

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ANNOTATION_LABEL = "BDF Annotations"
_RESERVED_LABELS = {"BDF Annotations", "EDF Annotations"}


def plain_number(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: ``Decimal("2.500")`` -> ``"2.5"``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def header_number(value: float, up: bool) -> str:
    """``value`` rounded outward (``up`` or down) to the most precise text of 8 characters."""
    try:
        exact = Decimal(float(value))
        for decimals in range(7, -1, -1):
            rounding = ROUND_CEILING if up else ROUND_FLOOR
            text = plain_number(exact.quantize(Decimal(1).scaleb(-decimals), rounding=rounding))
            if len(text) <= 8:
                return text
    except InvalidOperation:
        pass
    raise RecordingError(
        f"physical range value {value!r} does not fit the 8 characters of a BDF header"
    )


def record_layout(fs: float) -> tuple[int, Decimal]:
    """Samples per data record and the record duration (exact, at most 8 characters).

    Raises RecordingError when no duration up to 60 s holds a whole number of samples.
    """
    if float(fs).is_integer():
        return int(fs), Decimal(1)
    counts = np.arange(1, int(math.floor(fs * MAX_RECORD_S)) + 1, dtype=np.float64)
    durations = counts / fs
    rounded = np.where(durations < 9.9999995, np.round(durations, 6), np.round(durations, 5))
    fits = (rounded > 0) & (np.abs(rounded * fs - counts) <= 1e-12 * counts)
    found = np.flatnonzero(fits)
    if found.size == 0:
        raise RecordingError(
            f"sample rate {fs!r} Hz: no data-record duration up to {MAX_RECORD_S} s holds a whole "
            "number of samples, so it cannot be stored in BDF"
        )
    samples = int(counts[found[0]])
    duration = Decimal(plain_number(Decimal(f"{rounded[found[0]]:.6f}")))
    factor = max(1, int(1 / duration))
    return samples * factor, Decimal(plain_number(duration * factor))


def _seconds(value: float, signed: bool) -> bytes:
    """Seconds as an EDF+ TAL number (7 decimals at most, ``+``/``-`` when ``signed``)."""
    text = plain_number(Decimal(f"{value:.7f}"))
    if signed and not text.startswith("-"):
        text = "+" + text
    return text.encode("ascii")


def _field(text: str, width: int) -> bytes:
    """A space-padded ASCII header field; RecordingError when it does not fit."""
    data = text.encode("ascii", errors="strict")
    if len(data) > width:
        raise RecordingError(f"BDF header field {text!r} is longer than {width} characters")
    return data.ljust(width, b" ")


def _ascii_label(text: str, width: int, what: str) -> str:
    text = text.replace("\u00b5", "u").replace("\u03bc", "u")
    if not text.isascii() or len(text) > width:
        raise RecordingError(
            f"{what} {text!r} cannot be stored in BDF (ASCII, at most {width} characters)"
        )
    return text


class BdfWriter:
    """Write a BDF+ file frame by frame (see the module notes for the layout).

    ``physical_range`` is one ``(minimum, maximum)`` for all channels or one per channel; it is
    rounded outward to what the header can hold. Annotation onsets are seconds from the file's
    first sample. ``sync_interval_s``: make each record durable on disk before the header counts
    it, at most once per that many seconds of wall-clock time (0: every record; None: leave it
    to the operating system); see the module notes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fs: float,
        channels: Sequence[str],
        units: Sequence[str],
        *,
        physical_range: tuple[float, float] | Sequence[tuple[float, float]],
        start_time: datetime | None = None,
        sync_interval_s: float | None = None,
    ) -> None:
        self._name = display_name(path)
        if sync_interval_s is not None and not sync_interval_s >= 0:
            raise RecordingError(f"{self._name}: sync interval must be 0 s or more")
        self.sync_interval_s = sync_interval_s
        self._last_sync = -math.inf
        self.fs = check_fs(fs, self._name)
        self.channels = tuple(channels)
        if not self.channels or len(units) != len(self.channels):
            raise RecordingError(f"{self._name}: need at least one channel and one unit for each")
        if len(set(self.channels)) != len(self.channels):
            raise RecordingError(f"{self._name}: channel names must be unique")
        for channel in self.channels:
            _ascii_label(channel, 16, "channel name")
            if channel in _RESERVED_LABELS:
                raise RecordingError(f"{self._name}: {channel!r} is reserved for annotations")
        self.units = tuple(_ascii_label(u, 8, "unit") for u in units)
        self._low, self._high, self._range_text = self._ranges(physical_range)
        self._scale = (DIGITAL_MAX - DIGITAL_MIN) / (self._high - self._low)
        self._zero = self._digital(np.zeros((1, len(self.channels))))[0]
        self.samples_per_record, self.record_duration = record_layout(self.fs)
        self._start_time = start_time
        self._check_start_time()

        self._buffer = np.empty((self.samples_per_record, len(self.channels)), dtype=np.int32)
        self._fill = 0
        self._records = 0
        self.n_samples = 0
        """Samples written so far, lost ones (written as zeros) included."""
        self._origin: int | None = None
        self._pending: deque[bytes] = deque()
        self._clip_runs: list[list[int] | None] = [None] * len(self.channels)
        self._closed = False
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        try:
            self._fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise RecordingError(
                f"{self._name}: cannot be created ({exc.strerror or exc})"
            ) from None
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(self._fd, 0o600)
            # -1: "not known yet", as EDF says for a recording in progress
            self._append_bytes(self._header(-1))
        except (OSError, RecordingError):
            os.close(self._fd)
            raise

    @property
    def records(self) -> int:
        """Data records in the file so far (the count its header holds)."""
        return self._records

    # -- public interface -------------------------------------------------------------------

    def write(self, frame: Frame) -> None:
        """Append a frame; its ``gap_before`` samples are written as zeros under a gap mark."""
        self._check_open()
        if tuple(frame.channels) != self.channels:
            raise RecordingError(
                f"{self._name}: frame channels {frame.channels} differ from {self.channels}"
            )
        if abs(frame.fs - self.fs) > 1e-9 * self.fs:
            raise RecordingError(f"{self._name}: frame at {frame.fs:g} Hz, file at {self.fs:g} Hz")
        if frame.gap_before < 0:
            raise RecordingError(f"{self._name}: negative gap_before {frame.gap_before}")
        origin = frame.start - frame.gap_before if self._origin is None else self._origin
        expected = origin + self.n_samples + frame.gap_before
        if frame.start != expected:
            raise RecordingError(
                f"{self._name}: frame starts at sample {frame.start} but {expected} was expected; "
                "frames must come in order, with lost samples counted in gap_before"
            )
        values = np.asarray(frame.samples, dtype=np.float64)
        if not np.isfinite(values).all():
            raise RecordingError(
                f"{self._name}: frame at sample {frame.start} holds NaN or infinite values; lost "
                "samples must be passed as gap_before"
            )
        self._origin = origin
        if frame.gap_before:
            self._queue(GAP, self.n_samples / self.fs, frame.gap_before / self.fs)
            self._append_constant(frame.gap_before)
        if frame.n:
            self._mark_clipping(values, self.n_samples)
            self._append(self._digital(values))
            self._flush_settled_clips()

    def annotate(self, annotation: Annotation) -> None:
        """Add an annotation (onset in seconds from the file's first sample)."""
        self._check_open()
        if annotation.channel is not None and annotation.channel not in self.channels:
            raise RecordingError(
                f"{self._name}: annotation for unknown channel {annotation.channel!r}"
            )
        self._queue(tag(annotation), annotation.onset_s, annotation.duration_s)

    def close(self) -> None:
        """Finish the file: flush clip marks, pad the last record, mark the true end."""
        if self._closed:
            return
        try:
            for channel in range(len(self.channels)):
                self._flush_clip(channel)
            self._queue(END, self.n_samples / self.fs, 0.0)
            if self._fill or self._records == 0:
                self._append_constant(self.samples_per_record - self._fill, padding=True)
            while self._pending:
                self._append_constant(self.samples_per_record, padding=True)
            if self.sync_interval_s is not None:
                self._sync()
        finally:
            self._closed = True
            os.close(self._fd)

    def __enter__(self) -> BdfWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # the block failed: finish what can be finished, but let its error be the one reported
        try:
            self.close()
        except (RecordingError, OSError):
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    # -- samples ----------------------------------------------------------------------------

    def _ranges(
        self, physical_range: tuple[float, float] | Sequence[tuple[float, float]]
    ) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
        ranges = list(physical_range)  # type: ignore[arg-type]
        if len(ranges) == 2 and all(isinstance(v, (int, float, np.number)) for v in ranges):
            ranges = [tuple(ranges)] * len(self.channels)
        if len(ranges) != len(self.channels):
            raise RecordingError(
                f"{self._name}: {len(ranges)} physical ranges for {len(self.channels)} channels"
            )
        texts = []
        for channel, (low, high) in zip(self.channels, ranges, strict=True):
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise RecordingError(
                    f"{self._name}: physical range ({low}, {high}) of {channel!r} is not a range"
                )
            texts.append((header_number(low, up=False), header_number(high, up=True)))
        low_values = np.array([float(a) for a, _ in texts])
        high_values = np.array([float(b) for _, b in texts])
        return low_values, high_values, texts

    def _digital(self, values: np.ndarray) -> np.ndarray:
        digital = np.rint((values - self._low) * self._scale + DIGITAL_MIN)
        return np.clip(digital, DIGITAL_MIN, DIGITAL_MAX).astype(np.int32)

    def _append(self, digital: np.ndarray, padding: bool = False) -> None:
        """Buffer digital samples, writing each record as it fills (padding is not counted)."""
        done = 0
        while done < len(digital):
            take = min(self.samples_per_record - self._fill, len(digital) - done)
            self._buffer[self._fill : self._fill + take] = digital[done : done + take]
            self._fill += take
            done += take
            if not padding:
                self.n_samples += take
            if self._fill == self.samples_per_record:
                self._write_record()

    def _append_constant(self, count: int, padding: bool = False) -> None:
        """Append ``count`` samples of physical zero (gap filling and padding)."""
        while count > 0:
            take = min(count, self.samples_per_record)
            self._append(np.broadcast_to(self._zero, (take, len(self.channels))), padding)
            count -= take

    def _mark_clipping(self, values: np.ndarray, first: int) -> None:
        outside = (values < self._low) | (values > self._high)
        if not outside.any():
            return
        merge = max(1, int(CLIP_MERGE_S * self.fs))
        for channel in np.flatnonzero(outside.any(axis=0)):
            hits = np.flatnonzero(outside[:, channel]) + first
            breaks = np.flatnonzero(np.diff(hits) > merge)
            starts = np.concatenate(([hits[0]], hits[breaks + 1]))
            stops = np.concatenate((hits[breaks], [hits[-1]])) + 1
            for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
                run = self._clip_runs[channel]
                if run is not None and start - run[1] <= merge:
                    run[1] = stop
                    continue
                self._flush_clip(channel)
                self._clip_runs[channel] = [start, stop]

    def _flush_settled_clips(self) -> None:
        """Queue the clip marks no later sample can extend any more, so that they reach the
        file with the next record instead of waiting for the end of the recording."""
        merge = max(1, int(CLIP_MERGE_S * self.fs))
        for channel, run in enumerate(self._clip_runs):
            if run is not None and self.n_samples - run[1] > merge:
                self._flush_clip(channel)

    def _flush_clip(self, channel: int) -> None:
        run = self._clip_runs[channel]
        if run is not None:
            mark = Annotation(
                run[0] / self.fs, (run[1] - run[0]) / self.fs, CLIPPED, self.channels[channel]
            )
            self._queue(tag(mark), mark.onset_s, mark.duration_s)
            self._clip_runs[channel] = None

    # -- records ----------------------------------------------------------------------------

    def _queue(self, description: str, onset_s: float, duration_s: float) -> None:
        if any(c in description for c in "\x00\x14\x15"):
            raise RecordingError(f"{self._name}: annotation {description!r} has control characters")
        if not (math.isfinite(onset_s) and math.isfinite(duration_s)):
            raise RecordingError(f"{self._name}: annotation {description!r} has no finite time")
        tal = _seconds(onset_s, signed=True)
        if duration_s > 0:
            tal += b"\x15" + _seconds(duration_s, signed=False)
        tal += b"\x14" + description.encode("utf-8") + b"\x14\x00"
        room = 3 * ANNOTATION_SAMPLES - len(self._timekeeping(10**9))
        if len(tal) > room:
            raise RecordingError(
                f"{self._name}: annotation {description[:40]!r}... is too long for a BDF+ record "
                f"({len(tal)} bytes, at most {room})"
            )
        self._pending.append(tal)

    def _timekeeping(self, record: int) -> bytes:
        onset = plain_number(self.record_duration * record).encode("ascii")
        return b"+" + onset + b"\x14\x14\x00"

    def _write_record(self) -> None:
        """Write the buffered record with the annotations that fit, then count it (see the
        module notes for the order and the syncs)."""
        data = np.ascontiguousarray(self._buffer.T, dtype="<i4").view(np.uint8)
        data = data.reshape(len(self.channels), -1, 4)
        annotations = bytearray(self._timekeeping(self._records))
        capacity = 3 * ANNOTATION_SAMPLES
        while self._pending and len(annotations) + len(self._pending[0]) <= capacity:
            annotations += self._pending.popleft()
        annotations += b"\x00" * (capacity - len(annotations))
        self._append_bytes(data[:, :, :3].tobytes() + bytes(annotations))
        self._records += 1
        self._fill = 0
        now = time.monotonic()
        due = self.sync_interval_s is not None and now - self._last_sync >= self.sync_interval_s
        if due:
            self._sync()  # the record is on disk before the count names it
        self._write_at(_RECORD_COUNT_AT, _field(str(self._records), 8))
        if due:
            self._sync()
            self._last_sync = now

    def _append_bytes(self, payload: bytes) -> None:
        """Hand ``payload`` to the operating system at the end of the file, all of it."""
        view = memoryview(payload)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise RecordingError(
                f"{self._name}: cannot be written ({exc.strerror or exc})"
            ) from None

    def _write_at(self, offset: int, payload: bytes) -> None:
        """Overwrite header bytes at ``offset`` (the end of the file stays where writes go)."""
        try:
            if hasattr(os, "pwrite"):
                os.pwrite(self._fd, payload, offset)
                return
            end = os.lseek(self._fd, 0, os.SEEK_CUR)
            os.lseek(self._fd, offset, os.SEEK_SET)
            os.write(self._fd, payload)
            os.lseek(self._fd, end, os.SEEK_SET)
        except OSError as exc:
            raise RecordingError(
                f"{self._name}: cannot be written ({exc.strerror or exc})"
            ) from None

    def _sync(self) -> None:
        try:
            _datasync(self._fd)
        except OSError as exc:
            raise RecordingError(
                f"{self._name}: cannot be saved to disk ({exc.strerror or exc})"
            ) from None

    # -- header -----------------------------------------------------------------------------

    def _check_start_time(self) -> None:
        start = self._start_time
        if start is not None and not 1985 <= start.year <= 2084:
            raise RecordingError(
                f"{self._name}: start time {start:%Y-%m-%d} is outside 1985-2084, which EDF "
                "dates cannot hold"
            )

    def _header(self, records: int) -> bytes:
        start = self._start_time
        if start is None:
            recording = "Startdate X X X X"
            date, clock = "01.01.85", "00.00.00"
        else:
            recording = f"Startdate {start.day:02d}-{_MONTHS[start.month - 1]}-{start.year} X X X"
            date = f"{start.day:02d}.{start.month:02d}.{start.year % 100:02d}"
            clock = f"{start.hour:02d}.{start.minute:02d}.{start.second:02d}"
        signals = len(self.channels) + 1
        head = [
            b"\xffBIOSEMI",
            _field("X X X X", 80),
            _field(recording, 80),
            _field(date, 8),
            _field(clock, 8),
            _field(str(256 * (signals + 1)), 8),
            _field("BDF+C", 44),
            _field(str(records), 8),
            _field(plain_number(self.record_duration), 8),
            _field(str(signals), 4),
        ]
        labels = [*self.channels, _ANNOTATION_LABEL]
        units = [*self.units, ""]
        lows = [low for low, _ in self._range_text] + ["-1"]
        highs = [high for _, high in self._range_text] + ["1"]
        counts = [self.samples_per_record] * len(self.channels) + [ANNOTATION_SAMPLES]
        columns = [
            (labels, 16),
            ([""] * signals, 80),
            (units, 8),
            (lows, 8),
            (highs, 8),
            ([str(DIGITAL_MIN)] * signals, 8),
            ([str(DIGITAL_MAX)] * signals, 8),
            ([""] * signals, 80),
            ([str(c) for c in counts], 8),
            ([""] * signals, 32),
        ]
        for values, width in columns:
            head.extend(_field(str(v), width) for v in values)
        return b"".join(head)

    def _check_open(self) -> None:
        if self._closed:
            raise RecordingError(f"{self._name}: the writer is already closed")


def data_range(samples: np.ndarray) -> tuple[float, float]:
    """A physical range holding every finite value of one channel (never empty)."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        pad = max(abs(low) * 1e-3, 1.0)
        return low - pad, high + pad
    return low, high


def write_bdf(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write a recording to a BDF+ file, gaps and annotations included.

    The physical range of each channel is the range of its data, so nothing is clipped and the
    samples read back equal the originals within 24-bit quantisation of that range.
    """
    ranges = [data_range(recording.samples[:, c]) for c in range(len(recording.channels))]
    with BdfWriter(
        path,
        recording.fs,
        recording.channels,
        recording.units,
        physical_range=ranges,
        start_time=recording.start_time,
    ) as writer:
        for annotation in recording.annotations:
            writer.annotate(annotation)
        written = 0
        for frame in recording.frames(WRITE_BLOCK):
            writer.write(frame)
            written = frame.stop
        if written < recording.n_samples:
            empty = np.empty((0, len(recording.channels)), dtype=np.float32)
            tail = recording.n_samples - written
            writer.write(
                Frame(empty, recording.n_samples, recording.fs, recording.channels, gap_before=tail)
            )
