"""EDF, EDF+, BDF and BDF+ files, read through pyedflib.

The header and annotations are read when the reader is made; samples are read block by block
(``readSignal(channel, start, n)``) only while :meth:`EdfReader.frames` is iterated, so a night
of multi-channel data never has to fit in memory. The file is opened anew for each pass and
closed when the pass ends.

All channels must share one sample rate. When they do not (an accelerometer beside the EMG, say),
the channels labelled EMG with the highest rate among them are kept (or, with no EMG label, the
channels with the highest rate) and a note names what was left out. ``gap`` and ``recording end``
annotations are honoured as described in :mod:`emgspasm.io._edfplus`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pyedflib

from ..errors import RecordingError
from ..frames import Annotation, Frame, Gap
from ..recording import COUNTS, RecordingHeader
from ._common import check_fs, display_name, spans
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
    if records < 0:
        return
    width = 3 if head[:1] == b"\xff" else 2
    expected = header_bytes + records * sum(counts) * width
    if size != expected:
        problem = "is cut short" if size < expected else "has extra bytes at the end"
        raise RecordingError(
            f"{name}: cannot be read as EDF/BDF: the file is not EDF(+) or BDF(+) compliant "
            f"(Filesize): it {problem} ({size} bytes, the header promises {records} data records "
            f"in {expected} bytes)"
        )


def _open(path: str | os.PathLike[str], name: str) -> pyedflib.EdfReader:
    """Open with pyedflib, turning its errors into RecordingError with its reason."""
    if not os.path.exists(path):
        raise RecordingError(f"{name}: no such file")
    _check_size(path, name)
    try:
        return pyedflib.EdfReader(os.fspath(path))
    except OSError as exc:
        reason = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
        raise RecordingError(f"{name}: cannot be read as EDF/BDF: {reason}") from None


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


class EdfReader:
    """A :class:`~emgspasm.recording.RecordingReader` over an EDF/EDF+/BDF/BDF+ file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        name = display_name(path)
        self._name = name
        edf = _open(path, name)
        try:
            labels = [str(label).strip() for label in edf.getSignalLabels()]
            if not labels:
                raise RecordingError(f"{name}: holds no signals")
            rates = [float(r) for r in edf.getSampleFrequencies()]
            chosen, left_out = choose_channels(labels, rates)
            counts = [int(c) for c in edf.getNSamples()]
            units = tuple(edf.getPhysicalDimension(k).strip() or COUNTS for k in chosen)
            start_time = _start_time(edf)
            onsets, durations, texts = edf.readAnnotations()
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
