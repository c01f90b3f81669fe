"""Text readers on real third-party recordings and on small files made to break them.

Real files: BioSPPy's OpenSignals EMG (BSD-3), the Myo readings dataset (MIT), and PhysioNet's
"Examples of Electromyograms" (ODC-By 1.0), including a public copy with corrupted lines. See
../shared/data/PROVENANCE.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emgspasm import Gap, RecordingError
from emgspasm.io import read_recording

# -- helpers ------------------------------------------------------------------------------------


def independent_parse(path: Path) -> tuple[list[int], list[float], list[float]]:
    """Line numbers, times and values of the lines that hold exactly two finite numbers.

    Deliberately simple and slow (Python's float on each token), as a check on the reader.
    """
    numbers, times, values = [], [], []
    for k, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        tokens = raw.split()
        if len(tokens) != 2:
            continue
        try:
            t, v = float(tokens[0]), float(tokens[1])
        except ValueError:
            continue
        if np.isfinite(t) and np.isfinite(v):
            numbers.append(k)
            times.append(t)
            values.append(v)
    return numbers, times, values


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


# -- OpenSignals (BioSPPy) ----------------------------------------------------------------------


def test_opensignals_biosppy_emg(shared_data: Path) -> None:
    path = shared_data / "biosppy" / "emg.txt"
    rec = read_recording(path)
    assert rec.format == "opensignals"
    assert rec.fs == 1000.0
    assert rec.n_samples == 100000
    assert rec.channels == ("EMG",)
    assert rec.units == ("counts",)
    assert rec.gaps == ()
    assert any("resolution 12" in note for note in rec.notes)
    expected = np.loadtxt(path, comments="#")
    np.testing.assert_array_equal(rec.samples[:, 0], expected.astype(np.float32))


def test_opensignals_bad_value_line_is_one_missing_sample(
    shared_data: Path, tmp_path: Path
) -> None:
    lines = (shared_data / "biosppy" / "emg.txt").read_bytes().split(b"\n")[:1004]
    clean = np.array([float(x) for x in lines[4:]], dtype=np.float32)
    lines[4 + 500] = b"20\xff55.0"  # data row 500 (header has 4 lines)
    path = write(tmp_path, "emg.txt", b"\n".join(lines) + b"\n")
    with pytest.raises(RecordingError, match=r"1 corrupt line \(line 505 "):
        read_recording(path)
    rec = read_recording(path, skip_bad_lines=True)
    assert rec.n_samples == 1000
    assert rec.gaps == (Gap(500, 1),)
    assert np.isnan(rec.samples[500, 0])
    keep = np.arange(1000) != 500
    np.testing.assert_array_equal(rec.samples[keep, 0], clean[keep])
    assert any("line 505" in note for note in rec.notes)


def test_opensignals_json_header_and_sequence_gaps(tmp_path: Path) -> None:
    header = (
        "# OpenSignals Text File Format. Version 1\n"
        '# {"00:07:80:3B:46:61": {"sensor": ["EMG", "ECG"], "column": ["nSeq", "I1", "I2", '
        '"O1", "O2", "A1", "A2"], "sampling rate": 1000, "label": ["A1", "A2"], '
        '"resolution": [4, 1, 1, 1, 1, 10, 10]}}\n'
        "# EndOfHeader\n"
    )
    rows = [(14, 510, 500), (15, 511, 501), (2, 512, 502), (3, 513, 503)]  # 0 and 1 lost
    body = "".join(f"{s}\t0\t0\t0\t0\t{a}\t{b}\t\n" for s, a, b in rows)
    rec = read_recording(write(tmp_path, "os.txt", header + body))
    assert rec.format == "opensignals"
    assert rec.fs == 1000.0
    assert rec.channels == ("A1", "A2")
    assert rec.n_samples == 6
    assert rec.gaps == (Gap(2, 2),)
    np.testing.assert_array_equal(rec.samples[[0, 1, 4, 5], 0], [510, 511, 512, 513])
    assert any("lost in transmission" in note for note in rec.notes)


def test_opensignals_fs_override_is_noted(shared_data: Path) -> None:
    rec = read_recording(shared_data / "biosppy" / "emg_1.txt", fs=500.0)
    assert rec.fs == 500.0
    assert any("instead of the header's 1000 Hz" in note for note in rec.notes)


# -- Myo ----------------------------------------------------------------------------------------


def test_myo_real_file(shared_data: Path) -> None:
    path = shared_data / "myo" / "12345-1" / "7.txt"
    rec = read_recording(path)
    table = np.loadtxt(path, delimiter=",")
    assert rec.format == "myo"
    assert rec.fs == 200.0
    assert rec.channels == tuple(f"ch{k}" for k in range(1, 9))
    assert rec.units == ("counts",) * 8
    assert rec.n_samples == len(table)
    np.testing.assert_array_equal(rec.samples, table[:, :8].astype(np.float32))

    cues = rec.annotations
    assert [a.description for a in cues] == ["cue:0", "cue:7"] * (len(cues) // 2)
    assert len(cues) >= 10
    # contiguous, covering every sample, each inner run 5 s long
    assert cues[0].onset_s == 0.0
    for before, after in zip(cues, cues[1:], strict=False):
        assert after.onset_s == pytest.approx(before.offset_s)
    assert cues[-1].offset_s == pytest.approx(rec.duration_s)
    for cue in cues[1:-1]:
        assert cue.duration_s == pytest.approx(5.0, abs=0.011)
    labels = table[:, 8]
    for cue in cues:
        start = round(cue.onset_s * rec.fs)
        stop = round(cue.offset_s * rec.fs)
        assert set(labels[start:stop]) == {float(cue.description.split(":")[1])}


def test_myo_bad_lines(tmp_path: Path) -> None:
    rows = ["1,2,3,4,5,6,7,8,0"] * 3 + ["1,2,3,4,5,6,700,8,0", "1,2,x,4,5,6,7,8,0"]
    rows += ["-1,-2,-3,-4,-5,-6,-7,-8,1"] * 2
    path = write(tmp_path, "m.txt", "\n".join(rows) + "\n\n")
    with pytest.raises(RecordingError, match="2 corrupt lines .*line 4 .*line 5"):
        read_recording(path, format="myo")
    rec = read_recording(path, format="myo", skip_bad_lines=True)
    assert rec.n_samples == 7
    assert rec.gaps == (Gap(3, 2),)
    assert np.isnan(rec.samples[3:5]).all()
    assert [(a.description, a.onset_s, a.duration_s) for a in rec.annotations] == [
        ("cue:0", 0.0, 3 / 200),
        ("cue:1", 5 / 200, 2 / 200),
    ]


# -- PhysioNet time/value -----------------------------------------------------------------------


def test_timevalue_healthy(shared_data: Path) -> None:
    path = shared_data / "physionet-emg" / "emg_healthy.txt"
    rec = read_recording(path)
    _, _, values = independent_parse(path)
    assert rec.format == "timevalue"
    assert rec.fs == 4000.0
    assert rec.channels == ("EMG",)
    assert rec.units == ("mV",)
    assert rec.n_samples == len(values) == 50860
    assert rec.gaps == ()
    np.testing.assert_array_equal(rec.samples[:, 0], np.array(values, dtype=np.float32))


DAMAGED = {
    "emg_myopathy_damaged_copy.txt": [
        (64468, "'16.1172 0.006750.0250'"),
        (93751, "'23.4572 0.2617\\xdc0.0850'"),
    ],
    "emg_neuropathy_damaged_copy.txt": [
        (71194, "'17.84 0.1716\\xec0.1950'"),
        (84054, "'21.055 0.0183/'"),
    ],
}


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_copy_is_refused_with_one_message(shared_data: Path, name: str) -> None:
    with pytest.raises(RecordingError) as caught:
        read_recording(shared_data / "physionet-emg" / name)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name}: 2 corrupt lines (first: ")
    for number, quoted in DAMAGED[name]:
        assert f"line {number} {quoted}" in message
    assert "--skip-bad-lines" in message


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_damaged_copy_skipping_bad_lines(shared_data: Path, name: str) -> None:
    path = shared_data / "physionet-emg" / name
    rec = read_recording(path, skip_bad_lines=True)
    assert rec.fs == 4000.0
    note = next(n for n in rec.notes if "corrupt lines skipped" in n)
    for number, _ in DAMAGED[name]:
        assert str(number) in note

    numbers, times, values = independent_parse(path)
    index = np.rint((np.array(times) - times[0]) * 4000).astype(int)
    assert rec.n_samples == index[-1] + 1
    # every readable line's value sits at the index its time gives; nothing else is data
    np.testing.assert_array_equal(rec.samples[index, 0], np.array(values, dtype=np.float32))
    present = np.zeros(rec.n_samples, dtype=bool)
    present[index] = True
    assert np.isnan(rec.samples[~present, 0]).all()
    lost = sum(g.length for g in rec.gaps)
    assert lost == rec.n_samples - len(values)
    # each corrupt line lies between neighbours two periods apart: one missing sample
    for number, _ in DAMAGED[name]:
        before = numbers.index(number - 1)
        assert numbers[before + 1] == number + 1
        assert Gap(int(index[before]) + 1, 1) in rec.gaps


def test_timevalue_gap_from_time_axis_and_edge_bad_lines(tmp_path: Path) -> None:
    rows = ["junk", "0.000 1.0", "0.001 2.0", "0.0025 bad", "0.003 4.0", "0.004 5.0", "nan 6"]
    path = write(tmp_path, "tv.txt", "\r\n".join(rows) + "\r\n")
    rec = read_recording(path, format="timevalue", skip_bad_lines=True)
    assert rec.fs == 1000.0
    # leading and trailing bad lines count one sample each; the middle one comes from the time
    assert rec.n_samples == 7
    assert rec.gaps == (Gap(0, 1), Gap(3, 1), Gap(6, 1))
    np.testing.assert_array_equal(rec.samples[[1, 2, 4, 5], 0], [1, 2, 4, 5])


# -- CSV ----------------------------------------------------------------------------------------


def test_csv_time_column_and_units(tmp_path: Path) -> None:
    text = "time (s),EMG1 (uV),EMG2 [mV],raw\n0.000,1,2,3\n0.0005,4,5,6\n0.001,7,8,9\n0.002,1,1,1\n"
    rec = read_recording(write(tmp_path, "a.csv", text))
    assert rec.format == "csv"
    assert rec.fs == 2000.0
    assert rec.channels == ("EMG1", "EMG2", "raw")
    assert rec.units == ("uV", "mV", "counts")
    assert rec.n_samples == 5
    assert rec.gaps == (Gap(3, 1),)
    np.testing.assert_array_equal(rec.samples[:3], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_csv_rounded_timestamps_still_give_the_rate(tmp_path: Path) -> None:
    t = np.arange(2000) / 3000.0  # printed with 4 decimals: intervals of 0.0003 and 0.0004
    body = "".join(f"{x:.4f};{k}\n" for k, x in enumerate(t))
    rec = read_recording(write(tmp_path, "r.csv", "t;EMG\n" + body))
    assert rec.fs == 3000.0
    assert rec.gaps == ()
    np.testing.assert_array_equal(rec.samples[:, 0], np.arange(2000, dtype=np.float32))


def test_csv_milliseconds_and_given_fs(tmp_path: Path) -> None:
    rec = read_recording(write(tmp_path, "ms.csv", "time_ms,EMG\n10,1\n12,2\n14,3\n"))
    assert rec.fs == 500.0
    rec = read_recording(write(tmp_path, "nofs.csv", "EMG1\tEMG2\n1\t2\n3\t4\n"), fs=250)
    assert rec.fs == 250.0
    assert rec.channels == ("EMG1", "EMG2")
    single = read_recording(write(tmp_path, "one.csv", "EMG (uV)\n1\n2\n3\n"), fs=1000)
    assert single.channels == ("EMG",)
    assert single.units == ("uV",)
    assert single.n_samples == 3


def test_csv_given_fs_must_agree_with_time_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "time,EMG\n" + "".join(f"{k / 1000},{k}\n" for k in range(50)))
    assert read_recording(path, fs=1000).fs == 1000.0
    with pytest.raises(RecordingError, match="irregular"):
        read_recording(path, fs=1100)


CSV_FAILURES = {
    "no time column": ("EMG1,EMG2\n1,2\n3,4\n", "pass --fs"),
    "irregular": (
        "time,EMG\n"
        + "".join(
            f"{t:.6f},1\n" for t in np.cumsum(np.random.default_rng(3).uniform(0.6e-3, 1.4e-3, 300))
        ),
        "irregular",
    ),
    "drifting": (
        "time,EMG\n" + "".join(f"{(k + k * k / 400) / 1000},1\n" for k in range(200)),
        "irregular",
    ),
    "zero interval": ("time,EMG\n0,1\n0.001,2\n0.001,3\n", "does not increase.*line 4"),
    "negative interval": ("time,EMG\n0,1\n0.002,2\n0.001,3\n", "does not increase"),
    "header only": ("time,EMG\n", "no samples"),
    "empty": ("", "empty"),
    "blank": ("\n \n\n", "empty"),
    "one timed row": ("time,EMG\n0,1\n", "pass --fs"),
    "nan": ("time,EMG\n0,1\n0.001,nan\n0.002,1\n", r"1 corrupt line \(line 3 '0.001,nan'\)"),
    "inf": ("time,EMG\n0,1\n0.001,1e999\n0.002,1\n", "1 corrupt line"),
    "text cell": ("time,EMG\n0,1\n0.001,abc\n0.002,1\n", "1 corrupt line"),
    "missing cell": ("time,EMG\n0,1\n0.001,\n0.002,1\n", "1 corrupt line"),
    "duplicate name": ("time,EMG,EMG\n0,1,2\n", "more than once"),
    "absurd rate": ("time,EMG\n0,1\n0.000001,2\n0.000002,3\n", "not plausible"),
    "huge jump": ("time,EMG\n0,1\n0.001,2\n0.002,3\n99,4\n", "missing samples"),
}


@pytest.mark.parametrize("case", sorted(CSV_FAILURES))
def test_csv_bad_input_is_a_recording_error(tmp_path: Path, case: str) -> None:
    text, pattern = CSV_FAILURES[case]
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(RecordingError, match=pattern):
        read_recording(path, format="csv")


@pytest.mark.parametrize("fs", [0, -1, float("nan"), float("inf"), 2e5])
@pytest.mark.parametrize("fmt", ["csv", "myo", "timevalue", "opensignals"])
def test_absurd_given_fs_is_refused(tmp_path: Path, fmt: str, fs: float) -> None:
    files = {
        "csv": "EMG\n1\n2\n",
        "myo": "1,2,3,4,5,6,7,8,0\n",
        "timevalue": "0 1\n0.001 2\n",
        "opensignals": "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Labels:= EMG\n1\n",
    }
    path = write(tmp_path, "x.txt", files[fmt])
    with pytest.raises(RecordingError, match="not plausible"):
        read_recording(path, format=fmt, fs=fs)


@pytest.mark.parametrize("fmt", ["csv", "myo", "timevalue", "opensignals"])
def test_garbage_bytes_never_crash(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(7)
    path = write(tmp_path, "noise.txt", rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(RecordingError):
        read_recording(path, format=fmt)
    with pytest.raises(RecordingError):
        read_recording(path, format=fmt, skip_bad_lines=True, fs=100)


def test_header_only_and_all_bad_are_errors(tmp_path: Path) -> None:
    header = "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Labels:= EMG\n"
    with pytest.raises(RecordingError, match="no samples"):
        read_recording(write(tmp_path, "h.txt", header))
    with pytest.raises(RecordingError, match="no readable samples"):
        read_recording(write(tmp_path, "b.txt", header + "x\ny\n"), skip_bad_lines=True)
    with pytest.raises(RecordingError, match="no sample rate"):
        read_recording(write(tmp_path, "r.txt", "# Simple Text Format\n# Labels:= EMG\n1\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "absent.csv", format="csv")
