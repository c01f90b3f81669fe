"""Mutated recordings: every reader refuses a damaged file with RecordingError, and nothing else.

Each reader gets a small valid file of its format (written here), then truncated, bit-flipped,
oversized, with bytes inserted or deleted, with numbers replaced by ``nan``, ``inf`` or huge
values, with lines repeated or dropped, and (for EDF/BDF) with header fields overwritten. The
contract for every case:

- the read either succeeds or raises :class:`~emgspasm.errors.RecordingError`; no other
  exception leaks (IndexError, ValueError, struct.error, UnicodeDecodeError, pyedflib errors);
- it finishes within a time limit (a watchdog alarm aborts a case that hangs);
- a read that succeeds is sane: float32 samples, a plausible rate, gaps inside the recording,
  NaN exactly in the gaps (nothing made up, nothing silently blanked), and not more samples than
  the file's size can justify (a corrupt header claiming 10^12 samples must not allocate them).

The default run draws a few dozen cases per reader with Hypothesis; the slow run
(``python -m pytest -m slow tests/test_fuzz_readers.py -s``) reads thousands of mutated files per
reader from a seeded generator and prints how many and how long.
"""

from __future__ import annotations

import io
import math
import signal
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgspasm import Annotation, Gap, Recording, RecordingError
from emgspasm.io import describe, detect_format, read_recording, write_bdf
from emgspasm.io._common import MAX_FS, MIN_FS
from emgspasm.io.xdf import MISSING_ALLOWANCE

from .test_xdf import XdfFile

CASE_LIMIT_S = 10.0
"""A single read taking longer than this is a hang (the files are a few kilobytes)."""


# -- valid seed files ---------------------------------------------------------------------------


def bdf_seed(tmp: Path) -> bytes:
    """A BDF+ file written by emgspasm: two channels, a gap, annotations and an end mark."""
    rng = np.random.default_rng(1)
    samples = rng.normal(0, 50, (700, 2)).astype(np.float32)
    samples[100:120] = np.nan
    rec = Recording(
        samples,
        200.0,
        ("EMG1", "EMG2"),
        ("uV", "uV"),
        start_time=datetime(2024, 5, 1, 22, 30),
        annotations=(Annotation(0.5, 1.0, "spasm", "EMG1"), Annotation(2.0, 0.0, "button")),
        gaps=(Gap(100, 20),),
    )
    path = tmp / "seed.bdf"
    write_bdf(rec, path)
    return path.read_bytes()


def edf_seed(tmp: Path, plus: bool = True) -> bytes:
    """An EDF(+) file written by pyedflib: an EMG channel and a slower accelerometer."""
    path = tmp / "seed.edf"
    kind = pyedflib.FILETYPE_EDFPLUS if plus else pyedflib.FILETYPE_EDF
    edf = pyedflib.EdfWriter(str(path), 2, file_type=kind)
    edf.setSignalHeaders(
        [
            {
                "label": label,
                "dimension": unit,
                "sample_frequency": fs,
                "physical_max": 100.0,
                "physical_min": -100.0,
                "digital_max": 32767,
                "digital_min": -32768,
                "prefilter": "",
                "transducer": "",
            }
            for label, fs, unit in (("EMG", 100, "uV"), ("ACC", 10, "g"))
        ]
    )
    t = np.arange(300)
    edf.writeSamples([np.sin(t / 5.0) * 80, np.cos(np.arange(30) / 3.0) * 50])
    if plus:
        edf.writeAnnotation(0.5, 0.25, "cramp@EMG")
        edf.writeAnnotation(1.0, 0.5, "gap")
    edf.close()
    return path.read_bytes()


def plain_edf_seed(tmp: Path) -> bytes:
    return edf_seed(tmp, plus=False)


def csv_seed(tmp: Path) -> bytes:
    rows = "".join(f"{k / 500:.4f},{np.sin(k) * 10:.3f},{k % 7 - 3}\n" for k in range(150))
    return ("time (s),EMG1 (uV),EMG2 [mV]\n" + rows).encode()


def myo_seed(tmp: Path) -> bytes:
    rng = np.random.default_rng(2)
    values = rng.integers(-128, 128, (120, 8))
    labels = np.repeat([0, 1, 0], 40)
    return "".join(
        ",".join(str(v) for v in row) + f",{label}\n"
        for row, label in zip(values, labels, strict=True)
    ).encode()


def opensignals_seed(tmp: Path) -> bytes:
    head = "# Simple Text Format\n# Sampling Rate (Hz):= 1000.00\n# Resolution:= 12\n"
    head += "# Labels:= EMG\n"
    return (head + "".join(f"{2048 + (k * 37) % 90 - 45}.0\n" for k in range(200))).encode()


def opensignals_json_seed(tmp: Path) -> bytes:
    head = (
        "# OpenSignals Text File Format. Version 1\n"
        '# {"00:07:80:3B:46:61": {"sensor": ["EMG", "ECG"], "column": ["nSeq", "I1", "A1", '
        '"A2"], "sampling rate": 1000, "label": ["A1", "A2"], "resolution": [4, 1, 10, 10]}}\n'
        "# EndOfHeader\n"
    )
    return (
        head + "".join(f"{k % 16}\t0\t{500 + k % 9}\t{510 - k % 5}\n" for k in range(160))
    ).encode()


def timevalue_seed(tmp: Path) -> bytes:
    return "".join(
        f"{(k + 1) * 0.00025:.5f} {np.sin(k / 3) * 0.05:.4f}\n" for k in range(200)
    ).encode()


def xdf_seed(tmp: Path) -> bytes:
    """An XDF file as LabRecorder writes it: an EMG stream, an accelerometer and markers."""
    path = tmp / "seed.xdf"
    xdf = XdfFile(path)
    xdf.stream(1, "BioAmp", "EMG", 250.0, "float32", ["EMG1", "EMG2"])
    xdf.stream(2, "Accel", "Accelerometer", 25.0, "float32", ["x"], unit="g")
    xdf.stream(3, "Events", "Markers", 0.0, "string", ["marker"])
    t0 = 1000.0
    for sid in (1, 2, 3):
        xdf.clock_offset(sid, t0, 0.0)
    for a in range(0, 200, 25):
        stamps: list[float | None] = [t0 + k / 250.0 for k in range(a, a + 25)]
        stamps[1:] = [None] * 24 if a == 100 else stamps[1:]
        xdf.samples(1, stamps, [[np.sin(k / 4.0), k % 5] for k in range(a, a + 25)])
        xdf.samples(2, [t0 + a / 250.0], [[0.5]])
    xdf.samples(3, [t0 + 0.3], [["cramp"]])
    xdf.footer(1, t0, t0 + 199 / 250.0, 200)
    xdf.close()
    return path.read_bytes()


SEEDS: dict[str, tuple[str, str, Callable[[Path], bytes]]] = {
    # case: (file name, format passed to the reader, seed builder)
    "bdf+": ("rec.bdf", "edf", bdf_seed),
    "edf+": ("rec.edf", "edf", edf_seed),
    "edf": ("rec.edf", "edf", plain_edf_seed),
    "csv": ("rec.csv", "csv", csv_seed),
    "myo": ("rec.txt", "myo", myo_seed),
    "opensignals": ("rec.txt", "opensignals", opensignals_seed),
    "opensignals-json": ("rec.txt", "opensignals", opensignals_json_seed),
    "timevalue": ("rec.txt", "timevalue", timevalue_seed),
    "xdf": ("rec.xdf", "xdf", xdf_seed),
}


# -- mutations ----------------------------------------------------------------------------------

TOKENS = (
    b"nan", b"NaN", b"inf", b"-inf", b"1e308", b"1e999", b"-1", b"0", b"-0", b"99999999",
    b"-9999999", b"1e-300", b"0.0000", b"", b"\xff\xfe", b"\r", b"\n", b",", b";", b"\t", b" ",
    b"\x00", b"#", b"{", b"}", b'"', b"9" * 40, b"1,2", b"e", b".", b"+", b"\x14\x14", b"@",
    b"1000000000000", b"-1      ", b"0       ", b"XDF:", b"\x08", b"\x04\xff\xff\xff\xff",
    b"\x08\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x01\xff",
)  # fmt: skip
"""Replacement bytes likely to upset a parser: non-numbers, huge counts, separators, XDF
length prefixes claiming gigabytes."""

EDF_FIXED = ((168, 8), (176, 8), (184, 8), (192, 44), (236, 8), (244, 8), (252, 4))
"""(offset, width) of the fixed EDF header fields a mutation may overwrite."""
EDF_SIGNAL = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
"""Widths of the per-signal EDF header fields, in file order."""


def _edf_field(data: bytes, which: int) -> tuple[int, int]:
    """(offset, width) of header field ``which`` (fixed ones first, then per-signal ones)."""
    try:
        signals = max(1, min(int(data[252:256]), 64))
    except ValueError:
        signals = 1
    fields = list(EDF_FIXED)
    base = 256
    for width in EDF_SIGNAL:
        fields.extend((base + width * k, width) for k in range(signals))
        base += width * signals
    return fields[which % len(fields)]


def mutate(data: bytes, op: int, a: int, b: int, blob: bytes) -> bytes:
    """One mutation of ``data``, chosen by ``op`` and positioned by ``a``/``b``."""
    n = len(data)
    at = a % (n + 1)
    token = TOKENS[b % len(TOKENS)]
    op %= 10
    if op == 0:  # truncated
        return data[:at]
    if op == 1:  # bits flipped
        out = bytearray(data)
        for k in range(1 + b % 4):
            if out:
                out[(a + 7919 * k) % n] ^= 1 << ((b >> (3 * k)) % 8)
        return bytes(out)
    if op == 2:  # bytes inserted
        return data[:at] + blob + data[at:]
    if op == 3:  # bytes deleted
        return data[:at] + data[at + 1 + b % 64 :]
    if op == 4:  # bytes overwritten
        return data[:at] + blob + data[at + len(blob) :]
    if op == 5:  # oversized: junk appended
        return data + blob * (1 + b % 2000)
    if op == 6:  # a stretch repeated
        piece = data[at : at + 1 + b % 200]
        return data[:at] + piece * (2 + b % 5) + data[at:]
    if op == 7:  # a token put in place of the bytes there
        return data[:at] + token + data[at + 1 + (a >> 8) % 6 :]
    if op == 8:  # structure: an EDF header field, or a whole line, replaced
        if data[:1] in (b"0", b"\xff") and n >= 256:
            offset, width = _edf_field(data, a)
            return data[:offset] + token[:width].ljust(width) + data[offset + width :]
        lines = data.split(b"\n")
        k = a % len(lines)
        lines[k] = token if b % 3 else lines[(k + b) % len(lines)]
        return b"\n".join(lines)
    # op 9: lines dropped or doubled
    lines = data.split(b"\n")
    k = a % len(lines)
    if b % 2:
        del lines[k : k + 1 + b % 5]
    else:
        lines[k:k] = lines[k : k + 1 + b % 5]
    return b"\n".join(lines)


# -- the contract -------------------------------------------------------------------------------


class Hang(Exception):
    """A read did not finish within :data:`CASE_LIMIT_S`."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread when the block takes longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_recording(rec: Recording, size: int) -> None:
    """What a successful read must hand back (see the module notes)."""
    assert rec.samples.dtype == np.float32 and rec.samples.ndim == 2
    assert rec.samples.shape[1] == len(rec.channels) == len(rec.units) >= 1
    assert math.isfinite(rec.fs) and MIN_FS <= rec.fs <= MAX_FS
    room = 16 * size + (MISSING_ALLOWANCE if rec.format == "xdf" else 64)
    assert rec.n_samples <= room, "more samples than the file can hold"
    assert not np.isinf(rec.samples).any()
    in_gap = np.zeros(rec.n_samples, dtype=bool)
    for gap in rec.gaps:
        assert 0 <= gap.start and gap.length > 0 and gap.stop <= rec.n_samples, gap
        in_gap[gap.start : gap.stop] = True
    nan_rows = np.isnan(rec.samples).any(axis=1)
    assert np.array_equal(nan_rows, in_gap), "NaN samples and gaps disagree"
    for annotation in rec.annotations:
        assert math.isfinite(annotation.onset_s) and math.isfinite(annotation.duration_s)
    describe(rec.header)


def read_case(path: Path, data: bytes, fmt: str) -> str:
    """Write ``data`` to ``path`` and read it under the contract; returns ``"ok"`` or
    ``"refused"``. Anything else than RecordingError, or a hang, fails the test."""
    path.write_bytes(data)
    try:
        with watchdog(CASE_LIMIT_S):
            try:
                detect_format(path)
            except RecordingError:
                pass
            rec = read_recording(path, fmt)
    except RecordingError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"not one line: {message!r}"
        assert "Traceback" not in message
        return "refused"
    check_recording(rec, len(data))
    return "ok"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("seeds")
    return {case: build(tmp) for case, (_, _, build) in SEEDS.items()}


@pytest.mark.parametrize("case", sorted(SEEDS))
def test_seed_files_are_read(tmp_path: Path, seeds: dict[str, bytes], case: str) -> None:
    """The unmutated seeds are valid: the fuzz starts from files the readers accept."""
    name, fmt, _ = SEEDS[case]
    assert read_case(tmp_path / name, seeds[case], fmt) == "ok"


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MUTATION = st.tuples(
    st.integers(0, 9), st.integers(0, 2**31), st.integers(0, 2**31), st.binary(max_size=24)
)


@pytest.mark.parametrize("case", sorted(SEEDS))
@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_mutated_files(tmp_path: Path, seeds: dict[str, bytes], case: str, mutations: list) -> None:
    name, fmt, _ = SEEDS[case]
    data = seeds[case]
    for mutation in mutations:
        data = mutate(data, *mutation)
    read_case(tmp_path / name, data, fmt)


@pytest.mark.parametrize("suffix", [".bdf", ".edf", ".csv", ".txt", ".xdf", ".tsv", ".dat"])
@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(tmp_path: Path, suffix: str, data: bytes) -> None:
    """Pure noise under every name: detected or not, read through the dispatcher."""
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(data)
    try:
        with watchdog(CASE_LIMIT_S):
            rec = read_recording(path)
    except RecordingError:
        return
    check_recording(rec, len(data))


def _xdf_chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return bytes([8]) + struct.pack("<Q", len(body)) + body


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(b"\x08" + struct.pack("<Q", 10**12), id="samples-1e12"),
        pytest.param(b"\x04" + struct.pack("<I", 2**32 - 1), id="samples-4e9"),
    ],
)
def test_xdf_sample_count_beyond_the_file_is_refused(tmp_path: Path, claim: bytes) -> None:
    """A Samples chunk claiming more samples than its bytes can hold is refused quickly (pyxdf
    would allocate them and loop over each one)."""
    out = io.BytesIO()
    out.write(b"XDF:")
    xml = (
        b'<?xml version="1.0"?><info><name>EMG</name><type>EMG</type><channel_count>1'
        b"</channel_count><nominal_srate>100</nominal_srate><channel_format>float32"
        b"</channel_format></info>"
    )
    out.write(_xdf_chunk(2, struct.pack("<I", 1) + xml))
    out.write(_xdf_chunk(3, struct.pack("<I", 1) + claim + b"\x00" + b"\x00\x00\x80\x3f"))
    path = tmp_path / "claim.xdf"
    path.write_bytes(out.getvalue())
    start = time.perf_counter()
    with watchdog(CASE_LIMIT_S), pytest.raises(RecordingError, match="samples"):
        read_recording(path)
    assert time.perf_counter() - start < 2.0


def test_edf_header_claiming_1e12_samples_is_refused(tmp_path: Path, seeds: dict) -> None:
    data = bytearray(seeds["bdf+"])
    data[236:244] = b"99999999"  # data records
    signals = int(data[252:256])
    at = 256 + signals * 216
    data[at : at + 8] = b"99999999"  # samples per record of the first signal
    path = tmp_path / "huge.bdf"
    path.write_bytes(bytes(data))
    with watchdog(CASE_LIMIT_S), pytest.raises(RecordingError, match="cannot be read as EDF/BDF"):
        read_recording(path)


# -- the slow run -------------------------------------------------------------------------------

BULK_FILES = 10_000
"""Mutated files per seed in the slow run."""


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SEEDS))
def test_bulk_mutated_files(tmp_path: Path, seeds: dict[str, bytes], case: str) -> None:
    """Thousands of mutated files per reader from a seeded generator (1 to 3 mutations each)."""
    name, fmt, _ = SEEDS[case]
    rng = np.random.default_rng(2024 + sorted(SEEDS).index(case))
    path = tmp_path / name
    outcomes = {"ok": 0, "refused": 0}
    slowest = 0.0
    start = time.perf_counter()
    for _ in range(BULK_FILES):
        data = seeds[case]
        for _ in range(int(rng.integers(1, 4))):
            op, a, b = (int(v) for v in rng.integers(0, 2**31, 3))
            blob = rng.bytes(int(rng.integers(0, 24)))
            data = mutate(data, op, a, b, blob)
        t0 = time.perf_counter()
        outcomes[read_case(path, data, fmt)] += 1
        slowest = max(slowest, time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    print(
        f"\nreader fuzz {case}: {BULK_FILES} files ({outcomes['ok']} read, "
        f"{outcomes['refused']} refused) in {elapsed:.1f} s, slowest {slowest * 1000:.0f} ms"
    )
    assert outcomes["refused"] > 0
