"""Myo armband CSV exports: ``ch1,...,ch8,label`` per line, no header, int8 counts.

The file has no time column, so the sample rate is the Myo's nominal 200 Hz unless given, and
each bad line counts as one missing sample at its position. The ninth column is a cue label;
every run of a constant label becomes an annotation ``cue:<label>`` (runs of 0, the rest cue,
included) so that nothing in the file is dropped.
"""

from __future__ import annotations

import os

import numpy as np

from ..frames import Annotation
from ..recording import COUNTS, Recording
from ._common import check_fs, display_name, place_rows
from ._text import INTEGER, parse_rows, read_bytes, row_pattern, skipped_note, split_lines

FS = 200.0
CHANNELS = tuple(f"ch{k}" for k in range(1, 9))
_ROW = row_pattern(9, b",", INTEGER)


def _int8_rows(values: np.ndarray) -> np.ndarray:
    """Rows whose channel values fit the Myo's signed 8-bit samples."""
    channels = values[:, :8]
    return ((channels >= -128) & (channels <= 127)).all(axis=1)


def cue_annotations(labels: np.ndarray, index: np.ndarray, fs: float) -> tuple[Annotation, ...]:
    """One annotation per run of a constant label (rows at sample ``index``).

    A run that straddles skipped lines with the same label on both sides stays one run; where
    the label changes across skipped lines, the missing samples belong to neither run.
    """
    if labels.size == 0:
        return ()
    change = np.flatnonzero(np.diff(labels) != 0) + 1
    starts = np.concatenate(([0], change))
    stops = np.concatenate((change, [labels.size]))
    return tuple(
        Annotation(
            onset_s=float(index[a]) / fs,
            duration_s=float(index[b - 1] + 1 - index[a]) / fs,
            description=f"cue:{int(labels[a])}",
        )
        for a, b in zip(starts, stops, strict=True)
    )


def read_myo(
    path: str | os.PathLike[str], *, fs: float | None = None, skip_bad_lines: bool = False
) -> Recording:
    """Read a Myo CSV export into memory."""
    name = display_name(path)
    notes = [] if fs is not None else [f"sample rate {FS:g} Hz assumed (the Myo's nominal rate)"]
    fs = check_fs(FS if fs is None else fs, name)
    lines = split_lines(read_bytes(path, name))
    rows = parse_rows(name, lines, 0, _ROW, 9, skip_bad_lines=skip_bad_lines, row_ok=_int8_rows)
    samples, gaps = place_rows(rows.values[:, :8], rows.positions, rows.n_rows)
    annotations = cue_annotations(rows.values[:, 8], rows.positions, fs)
    return Recording(
        samples=samples,
        fs=fs,
        channels=CHANNELS,
        units=(COUNTS,) * 8,
        annotations=annotations,
        gaps=gaps,
        format="myo",
        path=str(path),
        notes=tuple(notes + ([skipped_note(rows.bad)] if rows.bad else [])),
    )
