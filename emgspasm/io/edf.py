"""EDF, EDF+, BDF and BDF+ files: header and annotations through pyedflib, samples decoded here.

The header and annotations are read with pyedflib when the reader is made; samples are read block
by block only while :meth:`EdfReader.frames` is iterated, so a night of multi-channel data never
has to fit in memory. The file is opened anew for each pass and closed when the pass ends.

pyedflib reads one channel at a time, a few bytes per call, which takes longer than detecting on
the samples. So the reader reads the block's data records in one piece and decodes every chosen
channel from them with a Numba kernel, with the very arithmetic of edflib (physical value =
``bitvalue * (offset + digital)`` in double precision, then float32). The layout this relies on
(where each channel sits in a record) is taken from the raw header and checked before the first
pass: the first and last samples of every channel, decoded here, must equal what pyedflib reads.
A file that does not pass (or whose header does not match what pyedflib saw) is read through
pyedflib's ``readSignal`` instead.

All channels must share one sample rate. When they do not (an accelerometer beside the EMG, say),
the channels labelled EMG with the highest rate among them are kept (or, with no EMG label, the
channels with the highest rate) and a note names what was left out. ``gap`` and ``recording end``
annotations are honoured as described in :mod:`emgspasm.io._edfplus`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

import numpy as np
import pyedflib

from ..errors import RecordingError
from ..frames import Annotation, Frame, Gap
from ..recording import COUNTS, RecordingHeader
from ._common import check_fs, display_name, spans
from ._edfheader import header_fault
from ._edfplus import END, GAP, untag


def _check_size(path: str | os.PathLike[str], name: str) -> None:
    """Refuse a file whose size disagrees with its header (cut short, or with trailing bytes).

    pyedflib refuses these too, but only after printing to the console; this check comes first
    and says what is wrong. A header that cannot be parsed is left for pyedflib to judge.
    """
    size = os.path.getsize(path)
    if size < 256:
        raise RecordingError(
            f"{name}: cannot be read as EDF/BDF: {size} bytes cannot even hold the header"
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
            header_bytes = int(head[184:192])
            records = int(head[236:244])
            signals = int(head[252:256])
            handle.seek(256 + signals * 216)
            counts = [int(handle.read(8)) for _ in range(signals)]
    except (OSError, ValueError):
        return
    if records < 0 or signals < 1 or min(counts) < 1:
        return  # pyedflib refuses these; header_fault says where
    width = 3 if head[:1] == b"\xff" else 2
    expected = header_bytes + records * sum(counts) * width
    if size != expected:
        problem = "is cut short" if size < expected else "has extra bytes at the end"
        raise RecordingError(
            f"{name}: cannot be read as EDF/BDF: the file is not EDF(+) or BDF(+) compliant "
            f"(Filesize): it {problem} ({size} bytes, the header promises {records} data records "
            f"in {expected} bytes); `emgspasm repair` keeps its whole data records"
        )


def _open(path: str | os.PathLike[str], name: str) -> pyedflib.EdfReader:
    """Open with pyedflib, turning its errors into RecordingError with its reason."""
    if not os.path.exists(path):
        raise RecordingError(f"{name}: no such file")
    if os.path.isdir(path):
        raise RecordingError(f"{name}: is a folder, not a recording")
    _check_size(path, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # header text that is not UTF-8 is read as Latin-1
            return pyedflib.EdfReader(os.fspath(path))
    except OSError as exc:
        reason = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
        fault = header_fault(path)
        if fault is not None:
            reason = f"{reason}; {fault}"
        raise RecordingError(f"{name}: cannot be read as EDF/BDF: {reason}") from None


HEADER_FAULTS = (ArithmeticError, ValueError, IndexError, UnicodeError)
"""What pyedflib lets escape from a header it has accepted but cannot make sense of (a record
duration of 0 divides by zero, for one); each becomes a RecordingError."""
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_scaling(
    edf: pyedflib.EdfReader, chosen: list[int], labels: list[str], name: str
) -> None:
    """Refuse a channel whose header scaling would turn some digital value into a physical
    value that is not finite or does not fit a float32 sample (a damaged physical range)."""
    half = 2 ** (23 if edf.filetype in (pyedflib.FILETYPE_BDF, pyedflib.FILETYPE_BDFPLUS) else 15)
    for k in chosen:
        pmax, pmin = float(edf.getPhysicalMaximum(k)), float(edf.getPhysicalMinimum(k))
        dmax, dmin = float(edf.getDigitalMaximum(k)), float(edf.getDigitalMinimum(k))
        with np.errstate(all="ignore"):
            bitvalue = (pmax - pmin) / (dmax - dmin) if dmax != dmin else np.nan
            offset = pmax / bitvalue - dmax if bitvalue else np.nan
            extremes = np.array([bitvalue * (offset - half), bitvalue * (offset + half)])
        if not (np.isfinite(extremes).all() and (np.abs(extremes) <= FLOAT32_MAX).all()):
            raise RecordingError(
                f"{name}: cannot be read as EDF/BDF: channel {labels[k]!r} has a damaged "
                f"physical or digital range (physical {pmin:g}..{pmax:g}, digital "
                f"{dmin:g}..{dmax:g})"
            )


def choose_channels(labels: list[str], rates: list[float]) -> tuple[list[int], str | None]:
    """Indices of the channels to read, and a note naming those left out (None if none)."""
    if len(set(rates)) <= 1:
        return list(range(len(labels))), None
    emg = [k for k, label in enumerate(labels) if "emg" in label.lower()]
    pool = emg or list(range(len(labels)))
    top = max(rates[k] for k in pool)
    chosen = [k for k in pool if rates[k] == top]
    left = [f"{labels[k]} ({rates[k]:g} Hz)" for k in range(len(labels)) if k not in chosen]
    kind = "EMG channels" if emg else "channels"
    note = f"read the {kind} at {top:g} Hz; left out: {', '.join(left)}"
    return chosen, note


CHECK_SAMPLES = 64
"""Samples per channel, at each end of the data, that must decode exactly as pyedflib reads them."""
CHUNK_BYTES = 1 << 22
"""Most bytes of data records read and decoded in one piece (a long block is decoded in parts)."""


@dataclass(frozen=True)
class RecordLayout:
    """Where the chosen channels' samples sit in the file, and how they become physical values."""

    header_bytes: int
    record_bytes: int
    records: int
    width: int
    """Bytes per sample: 2 (EDF) or 3 (BDF)."""
    per_record: int
    """Samples of each chosen channel in one data record."""
    offsets: np.ndarray
    """Byte offset of each chosen channel inside a data record."""
    bitvalue: np.ndarray
    offset: np.ndarray


def record_layout(
    path: str | os.PathLike[str], edf: pyedflib.EdfReader, chosen: list[int]
) -> RecordLayout | None:
    """The layout of the chosen channels from the raw header, or None if it cannot be trusted.

    The raw header must describe the same signals as pyedflib reports (annotation signals of
    EDF+/BDF+ left out, as edflib does); scaling uses the values pyedflib parsed.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
            signals = int(head[252:256])
            head += handle.read(signals * 256)
        header_bytes = int(head[184:192])
        records = int(head[236:244])
        labels = [
            head[256 + 16 * k : 272 + 16 * k].decode("latin-1").strip() for k in range(signals)
        ]
        base = 256 + signals * 216
        counts = [int(head[base + 8 * k : base + 8 * k + 8]) for k in range(signals)]
    except (OSError, ValueError):
        return None
    bdf = head[:1] == b"\xff"
    width = 3 if bdf else 2
    plus = head[192:196] in (b"EDF+", b"BDF+")
    annotation = "BDF Annotations" if bdf else "EDF Annotations"
    data = [k for k in range(signals) if not (plus and labels[k] == annotation)]
    seen = [str(label).strip() for label in edf.getSignalLabels()]
    if (
        header_bytes != 256 * (signals + 1)
        or records != edf.datarecords_in_file
        or records < 0
        or [labels[k] for k in data] != seen
    ):
        return None
    per_record = {counts[data[k]] for k in chosen}
    if len(per_record) != 1 or any(
        int(edf.getNSamples()[k]) != counts[data[k]] * records for k in chosen
    ):
        return None
    starts = np.cumsum([0] + counts[:-1]) * width
    bitvalue, offset = [], []
    for k in chosen:
        pmax, pmin = float(edf.getPhysicalMaximum(k)), float(edf.getPhysicalMinimum(k))
        dmax, dmin = float(edf.getDigitalMaximum(k)), float(edf.getDigitalMinimum(k))
        if dmax == dmin or pmax == pmin:
            return None
        bitvalue.append((pmax - pmin) / (dmax - dmin))  # as edflib computes them
        offset.append(pmax / bitvalue[-1] - dmax)
    return RecordLayout(
        header_bytes=header_bytes,
        record_bytes=sum(counts) * width,
        records=records,
        width=width,
        per_record=per_record.pop(),
        offsets=np.array([starts[data[k]] for k in chosen], dtype=np.int64),
        bitvalue=np.array(bitvalue),
        offset=np.array(offset),
    )


def read_block(
    handle: BinaryIO, layout: RecordLayout, start: int, out: np.ndarray, scratch: bytearray
) -> bool:
    """Fill ``out`` (float32, samples x chosen channels) from sample ``start`` on.

    ``scratch`` receives the raw data records (it grows as needed, up to :data:`CHUNK_BYTES` or
    one record, and is meant to be reused from block to block). Returns False when the file ends
    before ``out`` is full.
    """
    from ._decode import decode_records  # Numba is loaded only once samples are read

    per, size = layout.per_record, layout.record_bytes
    chunk = max(1, CHUNK_BYTES // size)
    row = 0
    while row < out.shape[0]:
        first = (start + row) // per
        skip = start + row - first * per
        count = min(chunk, (skip + out.shape[0] - row + per - 1) // per)
        if len(scratch) < count * size:
            scratch.extend(bytes(count * size - len(scratch)))
        view = memoryview(scratch)[: count * size]
        handle.seek(layout.header_bytes + first * size)
        if handle.readinto(view) != count * size:
            return False
        buf = np.frombuffer(view, dtype=np.uint8)
        row += decode_records(
            buf,
            skip,
            per,
            size,
            layout.width,
            layout.offsets,
            layout.bitvalue,
            layout.offset,
            out,
            row,
        )
        del buf, view  # no export may be left when ``scratch`` has to grow
    return True


class EdfReader:
    """A :class:`~emgspasm.recording.RecordingReader` over an EDF/EDF+/BDF/BDF+ file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        name = display_name(path)
        self._name = name
        edf = _open(path, name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # header text that is not UTF-8 is read as Latin-1
                labels = [str(label).strip() for label in edf.getSignalLabels()]
                if not labels:
                    raise RecordingError(f"{name}: holds no signals")
                rates = [float(r) for r in edf.getSampleFrequencies()]
                chosen, left_out = choose_channels(labels, rates)
                _check_scaling(edf, chosen, labels, name)
                counts = [int(c) for c in edf.getNSamples()]
                units = tuple(edf.getPhysicalDimension(k).strip() or COUNTS for k in chosen)
                start_time = _start_time(edf)
                onsets, durations, texts = edf.readAnnotations()
                self._layout = record_layout(path, edf, chosen)
                self._layout_checked = False
        except HEADER_FAULTS as exc:
            reason = str(exc) or type(exc).__name__
            raise RecordingError(
                f"{name}: cannot be read as EDF/BDF: its header is damaged ({reason})"
            ) from None
        finally:
            edf.close()

        fs = check_fs(rates[chosen[0]], name)
        channels = tuple(labels[k] for k in chosen)
        notes: list[str] = [left_out] if left_out else []
        if len(set(channels)) != len(channels):
            raise RecordingError(f"{name}: channel labels are not unique: {channels}")
        n = min(counts[k] for k in chosen)

        annotations: list[Annotation] = []
        gaps: list[Gap] = []
        end = None
        for onset, duration, text in zip(onsets, durations, texts, strict=True):
            onset, duration, text = float(onset), max(float(duration), 0.0), str(text)
            if not (np.isfinite(onset) and np.isfinite(duration)):
                raise RecordingError(
                    f"{name}: cannot be read as EDF/BDF: annotation {text!r} has a damaged time "
                    f"({onset:g} s, lasting {duration:g} s)"
                )
            if text == GAP:
                gaps.append(Gap(int(round(onset * fs)), int(round(duration * fs))))
            elif text == END:
                end = int(round(onset * fs))
            else:
                description, channel = untag(text, channels)
                annotations.append(Annotation(onset, duration, description, channel))
        if end is not None:
            if end <= n:
                n = end
            else:
                notes.append(f"'{END}' mark at sample {end} lies beyond the {n} samples; ignored")
        gaps = [
            Gap(g.start, min(g.stop, n) - g.start) for g in gaps if g.length > 0 and g.start < n
        ]
        annotations.sort(key=lambda a: (a.onset_s, a.description))
        self._chosen = chosen
        self.header = RecordingHeader(
            fs=fs,
            channels=channels,
            units=units,
            n_samples=n,
            start_time=start_time,
            annotations=tuple(annotations),
            gaps=tuple(sorted(gaps, key=lambda g: g.start)),
            format="edf",
            path=str(path),
            notes=tuple(notes),
        )

    def frames(self, block_size: int) -> Iterator[Frame]:
        """Yield the samples as Frames of at most ``block_size`` samples, skipping gaps."""
        if block_size < 1:
            raise ValueError("block_size must be at least 1")
        header = self.header
        if self._layout is not None and not self._layout_checked:
            self._layout_checked = True
            if not self._layout_agrees():
                self._layout = None
        if self._layout is not None:
            yield from self._decoded_frames(block_size)
            return
        edf = _open(self.path, self._name)
        try:
            for start, stop, lost in spans(header.n_samples, header.gaps):
                for b0 in range(start, stop, block_size):
                    b1 = min(b0 + block_size, stop)
                    block = np.empty((b1 - b0, len(self._chosen)), dtype=np.float32)
                    for column, channel in enumerate(self._chosen):
                        block[:, column] = self._read(edf, channel, b0, b1 - b0)
                    yield Frame(block, b0, header.fs, header.channels, lost if b0 == start else 0)
        finally:
            edf.close()

    def _decoded_frames(self, block_size: int) -> Iterator[Frame]:
        """:meth:`frames` through :func:`read_block` (see the module's description)."""
        header = self.header
        layout = self._layout
        assert layout is not None
        if not os.path.exists(self.path):
            raise RecordingError(f"{self._name}: no such file")
        scratch = bytearray()
        with open(self.path, "rb") as handle:
            for start, stop, lost in spans(header.n_samples, header.gaps):
                for b0 in range(start, stop, block_size):
                    b1 = min(b0 + block_size, stop)
                    block = np.empty((b1 - b0, len(self._chosen)), dtype=np.float32)
                    if not read_block(handle, layout, b0, block, scratch):
                        raise RecordingError(
                            f"{self._name}: could not read samples {b0}..{b1}: the file ends early"
                        )
                    yield Frame(block, b0, header.fs, header.channels, lost if b0 == start else 0)

    def _layout_agrees(self) -> bool:
        """Whether the first and last samples of every channel decode exactly as pyedflib reads
        them (checked once, before the first pass; annotations are not read again for it)."""
        layout = self._layout
        assert layout is not None
        n = layout.records * layout.per_record
        m = min(CHECK_SAMPLES, n)
        if m == 0:
            return True
        try:
            edf = pyedflib.EdfReader(
                os.fspath(self.path), annotations_mode=pyedflib.DO_NOT_READ_ANNOTATIONS
            )
        except OSError:
            return False
        scratch = bytearray()
        try:
            with open(self.path, "rb") as handle:
                for start in sorted({0, n - m}):
                    mine = np.empty((m, len(self._chosen)), dtype=np.float32)
                    if not read_block(handle, layout, start, mine, scratch):
                        return False
                    for column, channel in enumerate(self._chosen):
                        theirs = edf.readSignal(channel, start, m).astype(np.float32)
                        if not np.array_equal(mine[:, column], theirs, equal_nan=True):
                            return False
        finally:
            edf.close()
        return True

    def _read(self, edf: pyedflib.EdfReader, channel: int, start: int, count: int) -> np.ndarray:
        try:
            values = edf.readSignal(channel, start, count)
        except OSError as exc:
            raise RecordingError(f"{self._name}: read error at sample {start}: {exc}") from None
        if values.shape[0] != count:
            raise RecordingError(
                f"{self._name}: could not read samples {start}..{start + count} of channel "
                f"{channel}"
            )
        return values


UNKNOWN_START = datetime(1985, 1, 1)
"""The date EDF+ writes when the start time is not known ("Startdate X")."""


def _start_time(edf: pyedflib.EdfReader) -> datetime | None:
    try:
        start = edf.getStartdatetime()
    except ValueError:
        return None
    return None if start == UNKNOWN_START else start
