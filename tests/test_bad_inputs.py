"""The bad-input matrix: what the ``emgspasm`` command says when it is given something wrong.

Every row of the tables below is one bad input (an empty or random file under each recording
extension, a truncated header or data, non-numeric or NaN cells, header-only files, time columns
that stand still or run backwards, absurd sample rates, broken configuration files, missing files,
folders, unwritable outputs) run through each command it applies to (``info``, ``detect``,
``report``, ``repair``). Each must end with

- the documented exit code (2 recording, 3 configuration; see :mod:`emgspasm.errors`),
- exactly one line on stderr, ``emgspasm: error: ...``, that names the file at fault, says what is
  wrong (and where: line, byte or field, when known) and, where there is a remedy, what to do,
- no traceback and nothing on stdout.

Most rows run ``main(argv)`` in this process; the rows marked ``SUBPROCESS`` also run the real
command in a fresh interpreter (``python -m emgspasm.cli``).
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from emgspasm.cli import main

from .test_fuzz_readers import bdf_seed, csv_seed, edf_seed, xdf_seed

REPO = Path(__file__).resolve().parents[1]
RECORDING_ERROR, CONFIG_ERROR = 2, 3

Builder = Callable[[Path], bytes]


def _noise(n: int) -> Builder:
    return lambda tmp: np.random.default_rng(n).bytes(n)


def _text(text: str) -> Builder:
    return lambda tmp: text.encode()


def _cut(build: Builder, keep: int) -> Builder:
    """The first ``keep`` bytes (negative: all but the last ``-keep``) of a valid file."""
    return lambda tmp: build(tmp)[:keep]


def _patched(build: Builder, at: int, new: bytes) -> Builder:
    def patch(tmp: Path) -> bytes:
        data = bytearray(build(tmp))
        data[at : at + len(new)] = new
        return bytes(data)

    return patch


def _bdf_signal_field(field_offset: int, new: bytes) -> Builder:
    """The seed BDF+ file (3 signals: 2 EMG + annotations) with a field of signal 1 replaced;
    ``field_offset`` is where that field's block starts, in units of the signal count."""
    return _patched(bdf_seed, 256 + 3 * field_offset, new)


def _xdf_claiming(samples: int | None) -> Builder:
    """An XDF file whose Samples chunk claims ``samples`` samples but holds one (None: a stream
    header and no Samples chunk at all)."""

    def build(tmp: Path) -> bytes:
        xml = (
            b'<?xml version="1.0"?><info><name>EMG</name><type>EMG</type><channel_count>1'
            b"</channel_count><nominal_srate>100</nominal_srate><channel_format>float32"
            b"</channel_format></info>"
        )

        def chunk(tag: int, content: bytes) -> bytes:
            body = struct.pack("<H", tag) + content
            return b"\x08" + struct.pack("<Q", len(body)) + body

        header = chunk(2, struct.pack("<I", 1) + xml)
        if samples is None:
            return b"XDF:" + header
        count = b"\x08" + struct.pack("<Q", samples)
        return b"XDF:" + header + chunk(3, struct.pack("<I", 1) + count + b"\x00" + bytes(4))

    return build


EDF_HINT = "is it an EDF/BDF file?"
FORMAT = "<format flag>"
"""Stands for ``--format`` (info) or ``--input-format`` (detect, report) in a row's arguments."""

SIMPLE = "# Simple Text Format\n# Sampling Rate (Hz):= {rate}\n# Resolution:= 12\n# Labels:= EMG\n"
"""An OpenSignals header; ``{rate}`` is filled in by the rows."""


@dataclass(frozen=True)
class Bad:
    """One bad recording: its file name, how to make it, what the error must say (a regex),
    what it must suggest (a plain string) and extra arguments for the command."""

    name: str
    build: Builder | None  # None: the file does not exist; "folder" names make a folder
    says: str
    hint: str = ""
    args: tuple[str, ...] = ()


# fmt: off
RECORDINGS: dict[str, Bad] = {
    # empty files under every recording extension
    "empty .bdf": Bad("e.bdf", _text(""), r"0 bytes cannot even hold the header"),
    "empty .edf": Bad("e.edf", _text(""), r"0 bytes cannot even hold the header"),
    "empty .csv": Bad("e.csv", _text(""), r"the file is empty"),
    "empty .txt": Bad("e.txt", _text(""), r"the file is empty"),
    "empty .xdf": Bad("e.xdf", _text(""), r"does not start with 'XDF:'"),
    "blank lines .csv": Bad("b.csv", _text("\n \r\n\t\n"), r"the file is empty"),
    # random bytes under every extension
    "random .bdf": Bad("r.bdf", _noise(3000), r"not EDF\(\+\) or BDF\(\+\)", EDF_HINT),
    "random .edf": Bad("r.edf", _noise(3001), r"not EDF\(\+\) or BDF\(\+\)", EDF_HINT),
    "random .csv": Bad("r.csv", _noise(3002), r"cannot tell the recording format", "--format"),
    "random .txt": Bad("r.txt", _noise(3003), r"cannot tell the recording format", "--format"),
    "random .xdf": Bad("r.xdf", _noise(3004), r"does not start with 'XDF:'"),
    "random .tsv": Bad("r.tsv", _noise(3005), r"cannot tell the recording format", "--format"),
    "text as edf": Bad("t.csv", csv_seed, r"first 8 bytes are not an EDF or BDF version mark",
                       EDF_HINT, (FORMAT, "edf")),
    # truncated headers
    "bdf header cut": Bad("h.bdf", _cut(bdf_seed, 300), r"header is cut short at byte 300"),
    "edf header cut": Bad("h.edf", _cut(edf_seed, 100), r"100 bytes cannot even hold the header"),
    "xdf header cut": Bad("h.xdf", _cut(xdf_seed, 40), r"damaged at byte \d+: a chunk claims",
                          "cut short or corrupt"),
    "opensignals header cut": Bad("h.txt", _text(SIMPLE.format(rate=1000)[:40]),
                                  r"the header gives no sample rate", "pass --fs"),
    # truncated data
    "bdf data cut": Bad("d.bdf", _cut(bdf_seed, -1000), r"\(Filesize\): it is cut short",
                        "emgspasm repair"),
    "edf data cut": Bad("d.edf", _cut(edf_seed, -7), r"\(Filesize\): it is cut short",
                        "emgspasm repair"),
    "xdf data cut": Bad("d.xdf", _cut(xdf_seed, -30), r"damaged at byte \d+",
                        "cut short or corrupt"),
    "csv last row cut": Bad("d.csv", _text("time,EMG\n0,1\n0.001,2\n0.002,"),
                            r"1 corrupt line \(line 4 '0.002,'\)", "--skip-bad-lines"),
    # damaged header fields
    "bdf signal count": Bad("n.bdf", _patched(bdf_seed, 252, b"x1  "),
                            r"number of signals \(bytes 252-255\) reads 'x1  '"),
    "bdf record count": Bad("c.bdf", _patched(bdf_seed, 236, b"abc     "),
                            r"number of data records \(bytes 236-243\) reads 'abc"),
    "bdf samples per record": Bad("s.bdf", _bdf_signal_field(216, b"-5      "),
                                  r"samples per data record of signal 1 \(bytes 904-911\)"),
    "bdf physical range nan": Bad("p.bdf", _bdf_signal_field(104, b"nan     "),
                                  r"physical minimum of signal 1 \(bytes 568-575\) reads 'nan"),
    "bdf physical range 9e99": Bad("q.bdf", _bdf_signal_field(104, b"-9e99   "),
                                   r"channel 'EMG1' has a damaged physical or digital range"),
    "bdf claims 1e12 samples": Bad("big.bdf", _patched(_bdf_signal_field(216, b"99999999"),
                                                      236, b"99999999"), r"the header promises"),
    "xdf claims 1e12 samples": Bad("big.xdf", _xdf_claiming(10**12),
                                   r"damaged at byte \d+: 1000000000000 samples"),
    "opensignals json broken": Bad("j.txt", _text('# OpenSignals Text File Format\n# {"a": \n1\n'),
                                   r"the JSON header cannot be read"),
    # header-only files
    "csv header only": Bad("ho.csv", _text("time,EMG1,EMG2\n"), r"no samples"),
    "opensignals header only": Bad("ho.txt", _text(SIMPLE.format(rate=1000)), r"no samples"),
    "xdf header only": Bad("ho.xdf", _xdf_claiming(None), r"stream 'EMG' holds no samples"),
    "csv numbers as header": Bad("nh.csv", _text("1,2\n3,4\n"), r"holds numbers, not column names",
                                 "--format", (FORMAT, "csv")),
    "numbers, no format": Bad("nf.csv", _text("1,2\n3,4\n"), r"cannot tell the recording format",
                              "--format"),
    "csv names twice": Bad("dup.csv", _text("time,EMG,EMG\n0,1,2\n0.001,1,2\n"),
                           r"column name 'EMG' appears more than once"),
    # cells that are not numbers
    "csv text cell": Bad("x.csv", _text("time,EMG\n0,1\n0.001,abc\n0.002,3\n"),
                         r"1 corrupt line \(line 3 '0.001,abc'\)", "--skip-bad-lines"),
    "csv nan cell": Bad("nan.csv", _text("time,EMG\n0,1\n0.001,nan\n0.002,3\n"),
                        r"1 corrupt line \(line 3 '0.001,nan'\)", "--skip-bad-lines"),
    "csv inf cell": Bad("inf.csv", _text("time,EMG\n0,1\n0.001,-inf\n0.002,3\n"),
                        r"1 corrupt line \(line 3 '0.001,-inf'\)", "--skip-bad-lines"),
    "csv huge cell": Bad("huge.csv", _text("time,EMG\n0,1\n0.001,1e39\n0.002,3\n"),
                         r"1 corrupt line \(line 3 '0.001,1e39'\)", "--skip-bad-lines"),
    "timevalue nan": Bad("nan.txt", _text("0.001 1\n0.002 NaN\n0.003 2\n0.004 1\n"),
                         r"1 corrupt line \(line 2 '0.002 NaN'\)", "--skip-bad-lines"),
    "myo beyond int8": Bad("m.txt", _text("1,2,3,4,5,6,7,8,0\n1,2,3,400,5,6,7,8,0\n" * 3),
                           r"3 corrupt lines \(first: line 2 '1,2,3,400", "--skip-bad-lines"),
    "non-utf8 bytes": Bad("u.csv", lambda tmp: b"time,EMG\n0,1\n0.001,\xff\xfe\n0.002,3\n",
                          r"1 corrupt line \(line 3 '0.001,\\xff\\xfe'\)", "--skip-bad-lines"),
    # sample intervals: zero, negative
    "csv zero interval": Bad("z.csv", _text("time,EMG\n0,1\n0,2\n0,3\n"),
                             r"does not increase: 2 zero or negative intervals \(first at line 3"),
    "csv negative interval": Bad("neg.csv", _text("time,EMG\n0.002,1\n0.001,2\n0,3\n"),
                                 r"does not increase: .*line 3: 0.001 s after 0.002 s"),
    "timevalue zero interval": Bad("z.txt", _text("0.5 1\n0.5 2\n0.5 3\n0.5 4\n"),
                                   r"does not increase: 3 zero or negative intervals"),
    "time_ms backwards": Bad("ms.csv", _text("time_ms,EMG\n0,1\n1,2\n-1,3\n"),
                             r"does not increase.*line 4"),
    # absurd sample rates
    "fs 0": Bad("fs.csv", _text("EMG\n1\n2\n3\n"), r"sample rate 0 Hz is not plausible",
                args=("--fs", "0")),
    "fs negative": Bad("fs.csv", _text("EMG\n1\n2\n3\n"), r"sample rate -250 Hz is not plausible",
                       args=("--fs", "-250")),
    "fs 1e9": Bad("fs.csv", _text("EMG\n1\n2\n3\n"), r"sample rate 1e\+09 Hz is not plausible",
                  args=("--fs", "1e9")),
    "fs nan": Bad("fs.csv", _text("EMG\n1\n2\n3\n"), r"sample rate nan Hz is not plausible",
                  args=("--fs", "nan")),
    "fs missing": Bad("fs.csv", _text("EMG\n1\n2\n3\n"), r"no time column", "pass --fs"),
    "fs on bdf": Bad("fs.bdf", bdf_seed, r"states its own sample rate", "--fs is only for text",
                     ("--fs", "1000")),
    "time column 1e9 Hz": Bad("g.csv", _text("time,EMG\n0,1\n1e-9,2\n2e-9,3\n3e-9,4\n"),
                              r"the time column: sample rate 1e\+09 Hz is not plausible"),
    "time column 0.001 Hz": Bad("g.txt", _text("0 1\n1000 2\n2000 3\n3000 4\n"),
                                r"the time column: sample rate 0.001 Hz is not plausible"),
    "opensignals rate 0": Bad("r0.txt", _text(SIMPLE.format(rate=0) + "1\n2\n"),
                              r"sample rate 0 Hz is not plausible"),
    "opensignals rate negative": Bad("rn.txt", _text(SIMPLE.format(rate=-1000) + "1\n2\n"),
                                     r"sample rate -1000 Hz is not plausible"),
    "opensignals rate 1e9": Bad("rb.txt", _text(SIMPLE.format(rate="1e9") + "1\n2\n"),
                                r"sample rate 1e\+09 Hz is not plausible"),
    "opensignals rate text": Bad("rt.txt", _text(SIMPLE.format(rate="fast") + "1\n2\n"),
                                 r"sample rate 'fast' is not a number"),
    # files that are not there, folders
    "missing .bdf": Bad("absent.bdf", None, r"no such file"),
    "missing .csv": Bad("absent.csv", None, r"no such file"),
    "missing .xdf": Bad("absent.xdf", None, r"no such file"),
    "folder .csv": Bad("folder.csv", "folder", r"is a folder, not a recording"),
    "folder .bdf": Bad("folder.bdf", "folder", r"is a folder, not a recording"),
    "folder .xdf": Bad("folder.xdf", "folder", r"is a folder, not a recording"),
}
# fmt: on

READING_COMMANDS = ("info", "detect", "report")

REPAIRS: dict[str, Bad] = {
    "random": Bad("r.bdf", _noise(2000), r"cannot be repaired: it does not start as an EDF or BDF"),
    "empty": Bad("e.bdf", _text(""), r"cannot be repaired: the header is cut short \(0 bytes"),
    "header cut": Bad("h.bdf", _cut(bdf_seed, 600), r"cannot be repaired: the header is cut short"),
    "signal count": Bad(
        "n.bdf", _patched(bdf_seed, 252, b"x1  "), r"its header is damaged \(signal count"
    ),
    "samples per record": Bad(
        "s.bdf", _bdf_signal_field(216, b"0       "), r"header is damaged \(samples per record\)"
    ),
    "no whole record": Bad(
        "w.bdf", _cut(bdf_seed, 1024 + 100), r"it holds no whole data record \(100 bytes"
    ),
    "a text file": Bad("t.csv", csv_seed, r"it does not start as an EDF or BDF file"),
    "missing": Bad("absent.bdf", None, r"no such file"),
    "folder": Bad("folder.bdf", "folder", r"is a folder, not a recording"),
}


@dataclass(frozen=True)
class BadConfig:
    """A detector configuration file that must be refused (exit code 3)."""

    text: bytes | None  # None: the file does not exist; b"folder": a folder
    says: str


CONFIGS: dict[str, BadConfig] = {
    "wrong type": BadConfig(
        b'[detector]\non_ratio = "high"\n', r"line 2: on_ratio must be a number"
    ),
    "whole number": BadConfig(b"[detector]\nband_order = 2.5\n", r"band_order must be a whole"),
    "text for int": BadConfig(b'mains_harmonics = "3"\n', r"line 1: mains_harmonics must be a"),
    "bool": BadConfig(b"[detector]\nnotch_q = true\n", r"notch_q must be a number, not True"),
    "unknown key": BadConfig(
        b"[detector]\non_ratoi = 4.0\n", r"line 2: unknown configuration keys: on_ratoi \(did you"
    ),
    "out of range": BadConfig(b"[detector]\non_ratio = -3\n", r"on_ratio must be a positive"),
    "fraction": BadConfig(b"[detector]\nmin_active_fraction = 2\n", r"must be in \(0, 1\]"),
    "order": BadConfig(b"[detector]\noff_ratio = 9.0\n", r"off_ratio must not exceed on_ratio"),
    "nan": BadConfig(b"[detector]\nnotch_q = nan\n", r"notch_q must be a finite number, not nan"),
    "inf": BadConfig(b"[detector]\nband_high_hz = inf\n", r"band_high_hz must be a finite"),
    "unknown profile": BadConfig(b'profile = "sprint"\n', r"unknown profile 'sprint'; choose"),
    "mains": BadConfig(b"[detector]\nmains = 55\n", r"mains must be text, not 55"),
    "not toml": BadConfig(b"[detector\non_ratio = \n", r"not valid TOML \(.*line 1"),
    "not utf-8": BadConfig(b"\xff\xfe[detector]\n", r"not valid TOML \(byte 0 is not UTF-8"),
    "table expected": BadConfig(b"detector = 3\n", r"\[detector\] must be a table"),
    "missing": BadConfig(None, r"cannot read configuration .*: No such file"),
    "folder": BadConfig(b"folder", r"cannot read configuration .*: Is a directory"),
}


@dataclass(frozen=True)
class BadOutput:
    """An output path that cannot be written: where the command must say it fails."""

    command: str
    out: str  # relative to the case folder; "file.txt" exists as a regular file
    says: str


OUTPUTS: dict[str, BadOutput] = {
    "detect into missing folder": BadOutput(
        "detect", "no/such/dir/e.csv", r"cannot write episode log .*no/such/dir/e.csv"
    ),
    "detect onto a folder": BadOutput("detect", "outdir", r"cannot write episode log .*outdir"),
    "detect under a file": BadOutput(
        "detect", "file.txt/e.csv", r"cannot write episode log .*file.txt/e.csv"
    ),
    "report under a file": BadOutput(
        "report", "file.txt/report", r"cannot create report folder .*file.txt/report"
    ),
    "report onto a file": BadOutput(
        "report", "file.txt", r"file.txt is a file; give --out a folder for the report"
    ),
    "repair into missing folder": BadOutput(
        "repair", "no/such/dir/fixed.bdf", r"fixed.bdf: cannot be written \(No such file"
    ),
    "repair under a file": BadOutput(
        "repair", "file.txt/fixed.bdf", r"fixed.bdf: cannot be written \(Not a directory"
    ),
}

SUBPROCESS = {
    ("random .bdf", "info"),
    ("csv nan cell", "detect"),
    ("fs 1e9", "info"),
    ("xdf claims 1e12 samples", "report"),
    ("missing .csv", "detect"),
    ("folder .bdf", "info"),
    ("bdf data cut", "detect"),
}
"""Rows that also run as a real command in a fresh interpreter."""


# -- running the command ------------------------------------------------------------------------


def make(tmp: Path, bad: Bad) -> Path:
    path = tmp / bad.name
    if bad.build == "folder":
        path.mkdir()
    elif bad.build is not None:
        path.write_bytes(bad.build(tmp))
    return path


def argv(command: str, target: Path, tmp: Path, extra: tuple[str, ...] = ()) -> list[str]:
    flag = "--format" if command == "info" else "--input-format"
    extra = tuple(flag if arg == FORMAT else arg for arg in extra)
    if command == "info":
        return ["info", str(target), *extra]
    if command == "detect":
        return ["detect", str(target), "--out", str(tmp / "episodes.csv"), "--quiet", *extra]
    if command == "report":
        return ["report", str(target), "--out", str(tmp / "report"), "--quiet", *extra]
    return ["repair", str(target), *extra]


def run_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def run_command(args: list[str]) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("EMGSPASM_DEBUG", None)
    done = subprocess.run(
        [sys.executable, "-m", "emgspasm.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_clear_line(
    result: tuple[int, str, str], code: int, where: str, says: str, hint: str = ""
) -> None:
    """The exit code, one ``emgspasm: error:`` line naming ``where`` and matching ``says``."""
    rc, out, err = result
    assert "Traceback" not in err, err
    assert rc == code, f"exit code {rc}, expected {code}; stderr: {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {err!r}"
    line = lines[0]
    assert line.startswith("emgspasm: error: "), line
    assert where in line, f"{where!r} not named in {line!r}"
    assert re.search(says, line), f"{says!r} not in {line!r}"
    assert hint in line, f"no hint {hint!r} in {line!r}"
    assert out == "", f"stdout not empty: {out!r}"


# -- the matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", READING_COMMANDS)
@pytest.mark.parametrize("case", list(RECORDINGS))
def test_bad_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    bad = RECORDINGS[case]
    target = make(tmp_path, bad)
    args = argv(command, target, tmp_path, bad.args)
    result = run_in_process(args, capsys)
    assert_one_clear_line(result, RECORDING_ERROR, bad.name, bad.says, bad.hint)
    if (case, command) in SUBPROCESS:
        assert_one_clear_line(run_command(args), RECORDING_ERROR, bad.name, bad.says, bad.hint)
    assert not (tmp_path / "episodes.csv").exists(), "an episode log was written anyway"


@pytest.mark.parametrize("case", list(REPAIRS))
def test_bad_repair(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    bad = REPAIRS[case]
    target = make(tmp_path, bad)
    before = target.read_bytes() if target.is_file() else None
    result = run_in_process(argv("repair", target, tmp_path), capsys)
    assert_one_clear_line(result, RECORDING_ERROR, bad.name, bad.says)
    if before is not None:
        assert target.read_bytes() == before, "a file that cannot be repaired was changed"


@pytest.mark.parametrize("command", ["detect", "report"])
@pytest.mark.parametrize("case", list(CONFIGS))
def test_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    bad = CONFIGS[case]
    recording = tmp_path / "good.csv"
    recording.write_bytes(csv_seed(tmp_path))
    config = tmp_path / "detector.toml"
    if bad.text == b"folder":
        config.mkdir()
    elif bad.text is not None:
        config.write_bytes(bad.text)
    args = argv(command, recording, tmp_path, ("--config", str(config)))
    assert_one_clear_line(run_in_process(args, capsys), CONFIG_ERROR, "detector.toml", bad.says)
    if case == "wrong type" and command == "detect":
        assert_one_clear_line(run_command(args), CONFIG_ERROR, "detector.toml", bad.says)


@pytest.mark.parametrize("case", list(OUTPUTS))
def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    bad = OUTPUTS[case]
    (tmp_path / "file.txt").write_text("a file, not a folder\n")
    (tmp_path / "outdir").mkdir()
    source = tmp_path / ("good.bdf" if bad.command == "repair" else "good.csv")
    source.write_bytes(bdf_seed(tmp_path) if bad.command == "repair" else csv_seed(tmp_path))
    out = str(tmp_path / bad.out)
    args = [bad.command, str(source), "--out", out]
    if bad.command != "repair":
        args.append("--quiet")
    assert_one_clear_line(run_in_process(args, capsys), RECORDING_ERROR, "", bad.says)
    if case == "detect under a file":
        assert_one_clear_line(run_command(args), RECORDING_ERROR, "", bad.says)


def test_matrix_size() -> None:
    """The README quotes this count; keep it in step with the tables."""
    cases = len(RECORDINGS) * len(READING_COMMANDS) + len(REPAIRS)
    cases += len(CONFIGS) * 2 + len(OUTPUTS)
    assert cases >= 200
    print(f"\nbad-input matrix: {cases} cases ({len(SUBPROCESS) + 2} also as a real command)")


def test_nan_is_never_silently_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --skip-bad-lines a NaN cell becomes a gap that ``info`` reports, never a zero."""
    path = tmp_path / "nan.csv"
    rows = [f"{k / 1000:.3f},{'nan' if k == 7 else k % 5}" for k in range(40)]
    path.write_text("time,EMG\n" + "\n".join(rows) + "\n")
    assert main(["info", str(path), "--skip-bad-lines"]) == 0
    out = capsys.readouterr().out
    assert "sample rate: 1000 Hz" in out and "(40 samples)" in out
    assert "gaps:        1 (1 samples lost)" in out
    assert "1 corrupt line skipped: line 9" in out
