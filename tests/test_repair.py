"""``emgspasm repair``: EDF/BDF files damaged here in the ways a crash, a cut copy or a file
system leave them, repaired, read back with pyEDFlib, sample for sample against the original."""

from __future__ import annotations

import stat
import warnings
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from emgspasm.cli import main
from emgspasm.errors import RecordingError
from emgspasm.frames import Annotation, Frame
from emgspasm.io import read_recording
from emgspasm.io.bdf_writer import BdfWriter
from emgspasm.io.repair import repair

FS = 1000
CHANNELS = ("EMG1", "EMG2")
HEADER = 256 * (len(CHANNELS) + 2)
RECORD = len(CHANNELS) * FS * 3 + 360
"""Bytes of one 1 s data record: two 24-bit channels and the annotation signal."""
RECORDS = 6


@pytest.fixture
def original(tmp_path: Path) -> Path:
    """A BDF+ file of six 1 s records with an annotation (as emgspasm records them; the last
    record is half padding, up to the ``recording end`` mark)."""
    path = tmp_path / "original.bdf"
    rng = np.random.default_rng(11)
    samples = rng.normal(0.0, 30.0, (RECORDS * FS - 500, 2)).astype(np.float32)
    with BdfWriter(path, FS, CHANNELS, ("uV", "uV"), physical_range=(-500.0, 500.0)) as writer:
        writer.annotate(Annotation(1.5, 0.5, "detected spasm", "EMG1"))
        writer.write(Frame(samples, 0, FS, CHANNELS))
    assert path.stat().st_size == HEADER + RECORDS * RECORD
    return path


def digital(path: Path) -> np.ndarray:
    """Every channel's digital values, as pyEDFlib reads the file as it is."""
    with pyedflib.EdfReader(str(path)) as edf:
        return np.stack(
            [edf.readSignal(c, digital=True) for c in range(edf.signals_in_file)], axis=1
        )


def damaged(original: Path, tmp_path: Path, data: bytes, count: bytes | None = None) -> Path:
    if count is not None:
        data = data[:236] + count.ljust(8) + data[244:]
    path = tmp_path / "damaged.bdf"
    path.write_bytes(data)
    return path


def test_a_record_cut_short_is_dropped_and_counted(original: Path, tmp_path: Path) -> None:
    data = original.read_bytes()
    path = damaged(original, tmp_path, data[: HEADER + 4 * RECORD + 2000])
    with pytest.raises(OSError, match="Filesize"):
        pyedflib.EdfReader(str(path))
    fixed = tmp_path / "fixed.bdf"
    report = repair(path, fixed)
    assert (report.whole_records, report.kept, report.partial_bytes) == (4, 4, 2000)
    # the first 2000 bytes of a record are 666 whole samples of EMG1 (3 bytes each)
    assert report.partial_samples == 666
    lines = report.lines()
    assert "last record cut short: 2000 of 6360 bytes dropped (666 sample(s)" in lines[2]
    assert "  record count fixed: 6 -> 4" in lines
    assert lines[-1] == f"  repaired copy written to {fixed}"
    assert stat.S_IMODE(fixed.stat().st_mode) == 0o600
    assert fixed.stat().st_size == HEADER + 4 * RECORD
    # the records kept are the original's, bit for bit; nothing was added
    np.testing.assert_array_equal(digital(fixed), digital(original)[: 4 * FS])
    assert path.read_bytes() == data[: HEADER + 4 * RECORD + 2000]  # the damaged file untouched


@pytest.mark.parametrize("count", [b"-1", b"3", b"99", b"x!"])
def test_a_wrong_or_unknown_record_count_is_fixed(
    count: bytes, original: Path, tmp_path: Path
) -> None:
    path = damaged(original, tmp_path, original.read_bytes(), count)
    report = repair(path)  # in place
    assert report.kept == RECORDS and report.dropped_bytes == 0
    assert f"  record count fixed: {count.decode()} -> {RECORDS}" in report.lines()
    assert path.read_bytes() == original.read_bytes()


@pytest.mark.parametrize("junk", ["zeros", "noise"])
def test_bytes_after_the_last_record_are_dropped(junk: str, original: Path, tmp_path: Path) -> None:
    # two record-sized blocks and a bit: zeros as a file system leaves them after a power cut,
    # or noise; neither carries the time stamps that would continue the recording
    size = 2 * RECORD + 17
    tail = bytes(size) if junk == "zeros" else np.random.default_rng(2).bytes(size)
    path = damaged(original, tmp_path, original.read_bytes() + tail)
    report = repair(path)
    assert (report.whole_records, report.kept, report.junk_bytes) == (RECORDS + 2, RECORDS, size)
    assert f"  {size} bytes after the last record dropped" in report.lines()[2]
    assert path.read_bytes() == original.read_bytes()


def test_a_record_whose_time_stamp_is_damaged_inside_the_file_is_kept(
    original: Path, tmp_path: Path
) -> None:
    data = bytearray(original.read_bytes())
    stamp = HEADER + 2 * RECORD + 2 * FS * 3  # the annotation signal of record 2
    data[stamp : stamp + 4] = b"\x00\x00\x00\x00"
    path = damaged(original, tmp_path, bytes(data), b"-1")
    report = repair(path)
    assert report.kept == RECORDS and report.damaged_stamps == [2]
    assert "1 kept record(s) with a damaged time stamp (record 2)" in report.lines()[2]


def test_a_file_left_by_a_killed_recorder_needs_nothing(original: Path, tmp_path: Path) -> None:
    path = tmp_path / "live.bdf"
    writer = BdfWriter(path, FS, CHANNELS, ("uV", "uV"), physical_range=(-500.0, 500.0))
    writer.write(Frame(np.zeros((3500, 2), np.float32), 0, FS, CHANNELS))
    before = path.read_bytes()  # what a kill leaves: three records, half of one in memory
    writer.close()
    path.write_bytes(before)
    report = repair(path)
    assert not report.changed and report.lines()[-1] == "  nothing to repair"
    assert path.read_bytes() == before


def test_a_plain_edf_trusts_a_record_count_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "plain.edf"
    edf = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDF)
    edf.setSignalHeaders(
        [
            {
                "label": "EMG",
                "dimension": "uV",
                "sample_frequency": 100,
                "physical_max": 100.0,
                "physical_min": -100.0,
                "digital_max": 32767,
                "digital_min": -32768,
                "prefilter": "",
                "transducer": "",
            }
        ]
    )
    edf.writeSamples([np.linspace(-50, 50, 300)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edf.close()
    data = path.read_bytes()
    assert int(data[236:244]) == 3
    # with its count: junk after the counted records goes
    path.write_bytes(data + bytes(250))
    report = repair(path)
    assert (report.kept, report.junk_bytes) == (3, 250) and report.layout.kind == "EDF"
    assert path.read_bytes() == data
    # without one: every whole record stays, a partial one goes
    path.write_bytes(data[:236] + b"-1      " + data[244:] + data[-200:-50])
    report = repair(path)
    assert (report.kept, report.partial_bytes, report.partial_samples) == (3, 150, 75)
    assert path.read_bytes() == data


def test_what_cannot_be_repaired_is_said_in_one_line(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = original.read_bytes()
    cases = {
        "header cut": (data[:600], "the header is cut short (600 of its 1024 bytes)"),
        "header start cut": (data[:100], "the header is cut short (100 bytes"),
        "no record": (data[: HEADER + 1000], "it holds no whole data record"),
        "not edf": (b"PK\x03\x04" + bytes(2000), "it does not start as an EDF or BDF file"),
    }
    for content, message in cases.values():
        path = damaged(original, tmp_path, content)
        with pytest.raises(RecordingError, match="cannot be repaired: " + message.split("(")[0]):
            repair(path)
        assert main(["repair", str(path), "--out", str(tmp_path / "never.bdf")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert path.read_bytes() == content
        assert not (tmp_path / "never.bdf").exists()
    assert main(["repair", str(tmp_path / "absent.bdf")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_command_reports_and_the_result_reads_everywhere(
    original: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = damaged(original, tmp_path, original.read_bytes()[: HEADER + 5 * RECORD + 9], b"-1")
    fixed = tmp_path / "fixed.bdf"
    assert main(["repair", str(path), "--out", str(fixed)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "damaged.bdf: BDF+, 2 signal(s) + annotations, data records of 1 s (6360 bytes, "
        "2000 samples)"
    )
    assert out[1] == "  header said -1 record(s); 5 whole record(s) found, 5 kept (5 s)"
    assert out[2].startswith("  last record cut short: 9 of 6360 bytes dropped (3 sample(s)")
    assert out[3] == "  record count fixed: -1 -> 5"
    rec = read_recording(fixed)
    assert rec.n_samples == 5 * FS
    assert [(a.description, a.channel) for a in rec.annotations] == [("detected spasm", "EMG1")]
