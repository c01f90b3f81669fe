"""Reading and writing recordings: one entry point for every file format.

Every reader hands out a :class:`~emgspasm.recording.RecordingReader` (a header plus Frames,
block by block); :func:`read_recording` collects one into an in-memory
:class:`~emgspasm.recording.Recording`. Text formats are small enough to be parsed whole and are
returned as a ``Recording`` (which is itself a reader); EDF/BDF files are streamed.

Formats (:data:`FORMATS`):

``edf``          EDF, EDF+, BDF and BDF+ (pyedflib)
``csv``          a CSV table with a header row, a time column or a given rate
``opensignals``  OpenSignals/BITalino text exports
``myo``          Myo armband CSV (8 channels and a cue label)
``timevalue``    two columns ``time value`` (PhysioNet EMG examples)
``xdf``          XDF files of Lab Streaming Layer streams (LabRecorder), read with pyxdf

A text file with corrupt lines is refused with one message naming them, unless
``skip_bad_lines`` is set: then the lost samples are marked as gaps (NaN in a Recording, absent
from Frames) and the header notes say which lines were skipped. Nothing is invented or closed up.

A damaged file of any format is refused with one :class:`~emgspasm.errors.RecordingError` that
says where (line, byte, header field), never with another exception; counts a header claims
(samples, records, sequence numbers, time jumps) are checked against what the file can hold
before anything is allocated.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ..errors import RecordingError
from ..recording import Recording, RecordingReader
from ._common import display_name
from .bdf_writer import BdfWriter, write_bdf
from .csvtable import read_csv
from .describe import describe
from .detect import FORMATS, detect_format
from .edf import EdfReader
from .myo import read_myo
from .opensignals import read_opensignals
from .timevalue import read_timevalue
from .xdf import read_xdf

__all__ = [
    "FORMATS",
    "BdfWriter",
    "EdfReader",
    "describe",
    "detect_format",
    "open_recording",
    "read_recording",
    "write_bdf",
]

READ_BLOCK = 65536
"""Samples per frame when :func:`read_recording` collects a streamed file."""

_TEXT_READERS: dict[str, Callable[..., Recording]] = {
    "csv": read_csv,
    "opensignals": read_opensignals,
    "myo": read_myo,
    "timevalue": read_timevalue,
    "xdf": read_xdf,
}


def open_recording(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    fs: float | None = None,
    skip_bad_lines: bool = False,
) -> RecordingReader:
    """A reader for the recording at ``path``.

    ``format`` is one of :data:`FORMATS` (detected when None). ``fs`` sets the sample rate of
    text formats that lack one or overrides the one they state; EDF files carry their own and
    refuse it. ``skip_bad_lines`` reads text files with corrupt lines, marking them as gaps.
    """
    if format is None:
        format = detect_format(path)
    format = format.lower()
    if format not in FORMATS:
        raise RecordingError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "edf":
        if fs is not None:
            raise RecordingError(
                f"{display_name(path)}: an EDF/BDF file states its own sample rate; --fs is only "
                "for text formats"
            )
        return EdfReader(path)
    return _TEXT_READERS[format](path, fs=fs, skip_bad_lines=skip_bad_lines)


def read_recording(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    fs: float | None = None,
    skip_bad_lines: bool = False,
) -> Recording:
    """Read a whole recording into memory (see :func:`open_recording` for the arguments)."""
    reader = open_recording(path, format, fs=fs, skip_bad_lines=skip_bad_lines)
    if isinstance(reader, Recording):
        return reader
    return collect(reader)


def collect(reader: RecordingReader, block_size: int = READ_BLOCK) -> Recording:
    """Gather a reader's Frames into a Recording; samples inside gaps are NaN."""
    header = reader.header
    samples = np.full((header.n_samples, len(header.channels)), np.nan, dtype=np.float32)
    for frame in reader.frames(block_size):
        samples[frame.start : frame.stop] = frame.samples
    return Recording(
        samples=samples,
        fs=header.fs,
        channels=header.channels,
        units=header.units,
        start_time=header.start_time,
        annotations=header.annotations,
        gaps=header.gaps,
        format=header.format,
        path=header.path,
        notes=header.notes,
    )
