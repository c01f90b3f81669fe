"""The public face of emgspasm.io: format detection, open/read, streaming, describe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emgspasm import Annotation, Gap, Recording, RecordingError
from emgspasm.io import FORMATS, describe, detect_format, open_recording, read_recording, write_bdf


def test_formats() -> None:
    assert FORMATS == ("edf", "csv", "opensignals", "myo", "timevalue", "xdf")


@pytest.mark.parametrize(
    "relative, expected",
    [
        ("biosppy/emg.txt", "opensignals"),
        ("biosppy/emg_1.txt", "opensignals"),
        ("myo/12345-1/7.txt", "myo"),
        ("myo/45612-1/0.txt", "myo"),
        ("physionet-emg/emg_healthy.txt", "timevalue"),
        ("physionet-emg/emg_myopathy_damaged_copy.txt", "timevalue"),
        ("physionet-emg/emg_neuropathy_damaged_copy.txt", "timevalue"),
    ],
)
def test_detect_real_files(shared_data: Path, relative: str, expected: str) -> None:
    assert detect_format(shared_data / relative) == expected


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("a.csv", "time,EMG1 (uV)\n0,1\n", "csv"),
        ("a.csv", "EMG\n1\n2\n", "csv"),
        ("a.txt", "time\tEMG\n0\t1\n0.001\t2\n", "csv"),
        ("a.dat", "0.1 2\n0.2 3\n", "timevalue"),
        ("a.csv", "1,2,3,4,5,6,7,8,0\n", "myo"),
        ("a.txt", "# OpenSignals Text File Format\n# {}\n# EndOfHeader\n", "opensignals"),
        ("a.txt", "junk line\n0.1 2\n0.2 3\n0.3 4\n", "timevalue"),
        ("a.bdf", "not even a BDF", "edf"),
        ("a.dat", "0       " + " " * 248, "edf"),
    ],
)
def test_detect_synthetic_files(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert detect_format(path) == expected


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.txt", "1 2 3\n4 5 6\n", "pass --format with one of edf, csv"),
        ("a.txt", "hello world\n", "pass --format"),
        ("a.csv", "", "empty"),
        ("a.txt", "\n\n  \n", "empty"),
    ],
)
def test_detect_failures(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RecordingError, match=message):
        detect_format(path)
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_detect_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        detect_format(tmp_path / "nope.txt")


def test_open_recording_arguments(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "biosppy" / "emg_1.txt"
    with pytest.raises(RecordingError, match="unknown format 'gdf'"):
        open_recording(path, "gdf")
    assert open_recording(path, "OpenSignals").header.fs == 1000.0
    bdf = tmp_path / "x.bdf"
    write_bdf(Recording(np.zeros((10, 1)), 100.0, ("EMG",), ("uV",)), bdf)
    with pytest.raises(RecordingError, match="only for text formats"):
        open_recording(bdf, fs=200.0)
    with pytest.raises(RecordingError):
        read_recording(path, "myo")  # a wrong explicit format fails cleanly


@pytest.mark.parametrize("block", [1, 333, 4000, 1_000_000])
def test_text_frames_concatenate_to_read_recording(shared_data: Path, block: int) -> None:
    path = shared_data / "physionet-emg" / "emg_neuropathy_damaged_copy.txt"
    whole = read_recording(path, skip_bad_lines=True)
    reader = open_recording(path, skip_bad_lines=True)
    assert reader.header.gaps == whole.gaps
    rebuilt = np.full_like(whole.samples, np.nan)
    frames = list(reader.frames(block))
    for frame in frames:
        assert frame.n <= block
        assert not np.isnan(frame.samples).any()
        rebuilt[frame.start : frame.stop] = frame.samples
    np.testing.assert_array_equal(rebuilt, whole.samples)
    assert sum(f.gap_before for f in frames) == sum(g.length for g in whole.gaps)


def test_describe_names_what_matters(tmp_path: Path) -> None:
    samples = np.zeros((4000, 2), np.float32)
    samples[100:150] = np.nan
    rec = Recording(
        samples,
        1000.0,
        ("EMG1", "EMG2"),
        ("uV", "uV"),
        annotations=tuple(Annotation(k * 0.5, 0.1, f"ev{k}", "EMG2") for k in range(7)),
        gaps=(Gap(100, 50),),
        format="csv",
        path="night.csv",
        notes=("2 corrupt lines skipped",),
    )
    text = describe(rec.header)
    assert "night.csv" in text
    assert "csv" in text
    assert "1000 Hz" in text
    assert "EMG1 [uV], EMG2 [uV]" in text
    assert "4000 samples" in text
    assert "annotations: 7" in text
    assert "ev0@EMG2" in text
    assert "and 2 more" in text
    assert "gaps:        1 (50 samples lost)" in text
    assert "2 corrupt lines skipped" in text
