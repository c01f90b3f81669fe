"""OpenSignals / BITalino text exports, in both header styles.

The older "Simple Text Format" (BioSPPy's examples) has ``# Key:= value`` header lines
(``Sampling Rate (Hz)``, ``Resolution``, ``Labels``) followed by one row of values per sample.
The newer "OpenSignals Text File Format" has one ``# {json}`` header line describing the device
(``sampling rate``, ``column`` names, analog channel ``label``s, ``resolution``) and tab-separated
rows that start with a sequence number ``nSeq``. Samples are raw ADC ``counts``; the resolution
goes into the notes. Each bad line counts as one missing sample at its position; in the newer
format the sequence numbers also reveal samples lost in transmission.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence

import numpy as np

from ..errors import RecordingError
from ..recording import COUNTS, Recording
from ._common import check_fs, display_name, place_rows
from ._text import Rows, parse_rows, read_bytes, row_pattern, skipped_note, split_lines

SIMPLE_MARK = b"# Simple Text Format"
JSON_MARK = b"# OpenSignals Text File Format"
_KEY_VALUE = re.compile(r"^#\s*(?P<key>[^:]+?)\s*:=\s*(?P<value>.*)$")


def is_opensignals(first_line: bytes) -> bool:
    """Whether a file starting with ``first_line`` is an OpenSignals text export."""
    line = first_line.strip()
    return line.startswith(SIMPLE_MARK) or line.startswith(JSON_MARK)


def _header_end(lines: Sequence[bytes]) -> int:
    """Index of the first line after the ``#`` header."""
    k = 0
    while k < len(lines) and lines[k].lstrip().startswith(b"#"):
        k += 1
    return k


def read_opensignals(
    path: str | os.PathLike[str], *, fs: float | None = None, skip_bad_lines: bool = False
) -> Recording:
    """Read an OpenSignals text export into memory."""
    name = display_name(path)
    lines = split_lines(read_bytes(path, name))
    if lines[0].strip().startswith(JSON_MARK):
        return _read_json_style(name, path, lines, fs, skip_bad_lines)
    if not lines[0].strip().startswith(SIMPLE_MARK):
        raise RecordingError(f"{name}: no OpenSignals header ('{SIMPLE_MARK.decode()}')")
    return _read_simple(name, path, lines, fs, skip_bad_lines)


def _read_simple(
    name: str,
    path: str | os.PathLike[str],
    lines: list[bytes],
    fs: float | None,
    skip_bad_lines: bool,
) -> Recording:
    end = _header_end(lines)
    fields: dict[str, str] = {}
    for line in lines[1:end]:
        found = _KEY_VALUE.match(line.decode("latin-1").strip())
        if found:
            fields[found.group("key").lower()] = found.group("value").strip()
    rate = next((v for k, v in fields.items() if k.startswith("sampling rate")), None)
    labels = fields.get("labels", "").replace(",", " ").split()
    if not labels:
        first = next((line for line in lines[end:] if line.strip()), b"")
        labels = [f"A{k + 1}" for k in range(max(1, len(first.split())))]
    notes: list[str] = []
    if "resolution" in fields:
        notes.append(f"ADC resolution {fields['resolution']} bits")
    fs, rate_note = _rate(name, rate, fs)
    notes.extend(rate_note)

    columns = len(labels)
    rows = parse_rows(
        name, lines, end, row_pattern(columns, None), columns, skip_bad_lines=skip_bad_lines
    )
    if rows.bad:
        notes.append(skipped_note(rows.bad))
    samples, gaps = place_rows(rows.values, rows.positions, rows.n_rows)
    return Recording(
        samples=samples,
        fs=fs,
        channels=tuple(labels),
        units=(COUNTS,) * columns,
        gaps=gaps,
        format="opensignals",
        path=str(path),
        notes=tuple(notes),
    )


def _rate(name: str, written: object, given: float | None) -> tuple[float, list[str]]:
    """The sample rate to use: the one given wins over the header's, with a note."""
    if written is None or written == "":
        if given is None:
            raise RecordingError(f"{name}: the header gives no sample rate; pass --fs")
        return check_fs(given, name), []
    try:
        header_fs = check_fs(float(written), name)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RecordingError(
            f"{name}: the header's sample rate {written!r} is not a number"
        ) from None
    if given is None or float(given) == header_fs:
        return header_fs, []
    fs = check_fs(given, name)
    return fs, [f"sample rate {fs:g} Hz given instead of the header's {header_fs:g} Hz"]


def _read_json_style(
    name: str,
    path: str | os.PathLike[str],
    lines: list[bytes],
    fs: float | None,
    skip_bad_lines: bool,
) -> Recording:
    end = _header_end(lines)
    device = None
    for line in lines[1:end]:
        text = line.decode("utf-8", errors="replace").strip()[1:].strip()
        if text.startswith("{"):
            try:
                devices = json.loads(text)
            except json.JSONDecodeError as exc:
                raise RecordingError(f"{name}: the JSON header cannot be read ({exc})") from None
            if not isinstance(devices, dict) or not devices:
                break
            if len(devices) > 1:
                raise RecordingError(
                    f"{name}: holds {len(devices)} devices; only single-device files are read"
                )
            device = next(iter(devices.values()))
            break
    if not isinstance(device, dict):
        raise RecordingError(f"{name}: the OpenSignals JSON header line is missing")

    columns = [str(c) for c in device.get("column", [])]
    labels = [str(c) for c in device.get("label", [])]
    if not columns or not labels:
        raise RecordingError(f"{name}: the JSON header lists no 'column' or 'label'")
    missing = [label for label in labels if label not in columns]
    if missing:
        raise RecordingError(f"{name}: channels {missing} are not among the columns {columns}")
    notes: list[str] = []
    resolution = device.get("resolution")
    if isinstance(resolution, list) and len(resolution) >= len(labels):
        bits = ", ".join(str(b) for b in resolution[-len(labels) :])
        notes.append(f"ADC resolution {bits} bits")
    sensors = device.get("sensor")
    if isinstance(sensors, list) and len(sensors) == len(labels):
        notes.append(
            "sensors: "
            + ", ".join(f"{lab}={sen}" for lab, sen in zip(labels, sensors, strict=True))
        )
    fs, rate_note = _rate(name, device.get("sampling rate"), fs)
    notes.extend(rate_note)

    rows = parse_rows(
        name,
        lines,
        end,
        row_pattern(len(columns), None),
        len(columns),
        skip_bad_lines=skip_bad_lines,
    )
    if rows.bad:
        notes.append(skipped_note(rows.bad))
    index, n = rows.positions, rows.n_rows
    if "nSeq" in columns:
        index, n, lost = _index_from_sequence(name, rows.values[:, columns.index("nSeq")], rows)
        if lost:
            notes.append(f"sequence numbers show {lost} samples lost in transmission")
    picks = [columns.index(label) for label in labels]
    samples, gaps = place_rows(rows.values[:, picks], index, n)
    return Recording(
        samples=samples,
        fs=fs,
        channels=tuple(labels),
        units=(COUNTS,) * len(labels),
        gaps=gaps,
        format="opensignals",
        path=str(path),
        notes=tuple(notes),
    )


MAX_SEQUENCE = 2**31
"""Sequence numbers at or above this are not a device's counter but corruption."""
MAX_MISSING_RATIO = 10
"""Sequence numbers implying more lost than present samples by this factor are refused."""


def _index_from_sequence(
    name: str, sequence: np.ndarray, rows: Rows
) -> tuple[np.ndarray, int, int]:
    """Sample indices from wrapping sequence numbers (BITalino counts 0..15 and wraps).

    The wrap is taken as one above the largest number seen. A step of more than one between
    neighbouring rows means samples were lost; each bad line between them is one of those.
    Returns the indices, the total sample count, and how many samples were lost beyond the bad
    lines. Raises RecordingError for numbers that cannot be a counter (negative, fractional,
    huge) and for a count of lost samples out of all proportion to the rows present.
    """
    wrong = np.flatnonzero((sequence < 0) | (sequence >= MAX_SEQUENCE) | (sequence % 1 != 0))
    if wrong.size:
        k = int(wrong[0])
        raise RecordingError(
            f"{name}: line {int(rows.line_numbers[k])}: nSeq {sequence[k]:g} is not a sequence "
            f"number (whole numbers from 0 to {MAX_SEQUENCE - 1})"
        )
    modulus = int(sequence.max()) + 1
    rows_between = np.diff(rows.positions)
    # the smallest step that matches the numbers and covers the bad lines between the rows
    steps = rows_between + np.mod(np.diff(sequence.astype(np.int64)) - rows_between, modulus)
    lead = int(rows.positions[0])
    trail = rows.n_rows - 1 - int(rows.positions[-1])
    index = lead + np.concatenate(([0], np.cumsum(steps))).astype(np.int64)
    n = int(index[-1]) + 1 + trail
    lost = n - rows.n_rows
    if lost > MAX_MISSING_RATIO * rows.n_rows:
        raise RecordingError(
            f"{name}: the sequence numbers (nSeq) imply {lost} lost samples for {rows.n_rows} "
            "rows; they do not look like a counter"
        )
    return index, n, lost
