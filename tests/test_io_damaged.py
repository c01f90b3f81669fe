"""Damaged files the reader fuzz found mishandled, kept as plain regression tests.

Each test is one fault: what the file holds, and what the reader must do instead of crashing,
hanging, allocating a huge array or making up values.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from emgspasm import RecordingError
from emgspasm.io import read_recording

from .test_fuzz_readers import bdf_seed, edf_seed, opensignals_json_seed
from .test_xdf import XdfFile


def _xdf(path: Path, rows: list[list[float]], stamps: list[float]) -> None:
    xdf = XdfFile(path)
    xdf.stream(1, "BioAmp", "EMG", 100.0, "float32", ["EMG1", "EMG2"])
    xdf.stream(2, "Events", "Markers", 0.0, "string", ["marker"])
    xdf.samples(1, stamps, rows)
    xdf.samples(2, [stamps[-1]], [["end"]])
    xdf.close()


def test_xdf_nan_samples_become_gaps_and_markers_stay_in_place(tmp_path: Path) -> None:
    path = tmp_path / "nan.xdf"
    rows = [[float(k), 1.0] for k in range(50)]
    rows[10][0] = float("nan")
    rows[11][1] = float("inf")
    _xdf(path, rows, [100.0 + k / 100.0 for k in range(50)])
    rec = read_recording(path)
    assert rec.n_samples == 50
    assert [(g.start, g.length) for g in rec.gaps] == [(10, 2)]
    assert np.isnan(rec.samples[10:12]).all() and np.isfinite(rec.samples[12:]).all()
    assert any("2 samples hold NaN or infinite values (first at sample 10)" in n for n in rec.notes)
    assert [a.onset_s for a in rec.annotations] == [0.49]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_xdf_time_stamps_that_are_not_numbers_are_refused(tmp_path: Path, bad: float) -> None:
    path = tmp_path / "stamps.xdf"
    stamps = [100.0 + k / 100.0 for k in range(20)]
    stamps[5] = bad
    _xdf(path, [[1.0, 2.0]] * 20, stamps)
    with pytest.raises(RecordingError, match="1 time stamps that are not numbers .*sample 5"):
        read_recording(path)


def test_xdf_time_stamps_implying_billions_of_lost_samples_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "jump.xdf"
    stamps = [100.0 + k / 100.0 for k in range(20)]
    stamps[10:] = [s + 1e9 for s in stamps[10:]]
    _xdf(path, [[1.0, 2.0]] * 20, stamps)
    with pytest.raises(RecordingError, match="imply 100000000000 lost samples for 20 present"):
        read_recording(path)


def test_text_values_beyond_float32_are_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("".join(f"{k / 1000:.3f} {'4e38' if k == 3 else '1'}\n" for k in range(30)))
    with pytest.raises(RecordingError, match=r"1 corrupt line \(line 4 '0.003 4e38'\)"):
        read_recording(path)
    rec = read_recording(path, skip_bad_lines=True)
    assert not np.isinf(rec.samples).any() and [g.start for g in rec.gaps] == [3]


def test_time_column_with_a_jump_beyond_int64_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "jump.txt"
    path.write_text("0 1\n1e20 2\n2e20 3\n")
    with pytest.raises(RecordingError, match="implies .* missing samples for 3 present"):
        read_recording(path, fs=1000.0)


def test_time_column_with_a_rate_below_1_hz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "slow.txt"
    path.write_text("0 1\n1000 2\n2000 3\n3000 4\n")
    with pytest.raises(RecordingError, match="the time column: sample rate 0.001 Hz"):
        read_recording(path)


@pytest.mark.parametrize(
    "value, says",
    [
        ("2000000016", r"imply \d+ lost samples for \d+ rows"),
        ("-3", "line 9: nSeq -3 is not a sequence number"),
        ("2.5", "line 9: nSeq 2.5 is not a sequence number"),
        ("1e30", "line 9: nSeq 1e\\+30 is not a sequence number"),
    ],
)
def test_opensignals_sequence_numbers_that_are_no_counter(
    tmp_path: Path, value: str, says: str
) -> None:
    """A corrupt nSeq used to make the reader allocate billions of samples."""
    lines = opensignals_json_seed(tmp_path).decode().split("\n")
    lines[8] = value + lines[8][lines[8].index("\t") :]
    path = tmp_path / "seq.txt"
    path.write_text("\n".join(lines))
    start = time.perf_counter()
    with pytest.raises(RecordingError, match=says):
        read_recording(path)
    assert time.perf_counter() - start < 2.0


def test_edf_record_duration_zero_is_a_recording_error(tmp_path: Path) -> None:
    """pyedflib divides by the record duration (ZeroDivisionError)."""
    data = bytearray(edf_seed(tmp_path, plus=False))
    data[244:252] = b"0       "
    path = tmp_path / "zero.edf"
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="its header is damaged"):
        read_recording(path)


def test_edf_physical_range_beyond_float32_is_refused(tmp_path: Path) -> None:
    """A physical maximum of 1e308 used to turn every sample into infinity."""
    data = bytearray(bdf_seed(tmp_path))
    at = 256 + 3 * 112  # physical maximum of the first signal (3 signals)
    data[at : at + 8] = b"1e308   "
    path = tmp_path / "range.bdf"
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match="channel 'EMG1' has a damaged physical or digital"):
        read_recording(path)


def test_pyedflib_refusal_says_which_field(tmp_path: Path) -> None:
    data = bytearray(bdf_seed(tmp_path))
    data[236:244] = b"12x     "
    path = tmp_path / "count.bdf"
    path.write_bytes(bytes(data))
    with pytest.raises(RecordingError, match=r"number of data records \(bytes 236-243\)"):
        read_recording(path)
