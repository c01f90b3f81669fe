"""BDF+ writing and EDF/BDF reading, checked against pyedflib as an independent reader."""

from __future__ import annotations

import stat
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emgspasm import Annotation, Frame, Gap, Recording, RecordingError
from emgspasm.io import BdfWriter, open_recording, read_recording, write_bdf
from emgspasm.io._common import gaps_from_missing
from emgspasm.io.bdf_writer import record_layout

DIGITAL_STEPS = 2**24 - 1


def quantum(path: Path, channel: int) -> float:
    """One digital step of a channel, as pyedflib reads the header."""
    with pyedflib.EdfReader(str(path)) as edf:
        return (edf.getPhysicalMaximum(channel) - edf.getPhysicalMinimum(channel)) / DIGITAL_STEPS


def assert_quantised_equal(path: Path, original: np.ndarray, back: np.ndarray) -> None:
    finite = np.isfinite(original)
    np.testing.assert_array_equal(finite, np.isfinite(back))
    for c in range(original.shape[1]):
        keep = finite[:, c]
        tolerance = 0.5 * quantum(path, c) + 4 * np.finfo(np.float32).eps * np.abs(
            original[keep, c]
        )
        assert (np.abs(back[keep, c] - original[keep, c]) <= tolerance).all()


def make_recording(fs: float, n: int, channels: int = 3, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    samples = (rng.normal(0, 80, (n, channels)) + 5).astype(np.float32)
    names = tuple(f"EMG{k + 1}" for k in range(channels))
    gaps = (Gap(10, 5), Gap(n // 2, 17))
    for gap in gaps:
        samples[gap.start : gap.stop] = np.nan
    annotations = (
        Annotation(0.5, 1.25, "spasm", "EMG2"),
        Annotation(1.0, 0.0, "button pressed"),
        Annotation(1.5, 0.02, "fasciculation", "EMG1"),
        Annotation(2.0, 0.0, "a@b c"),  # '@' but no channel: stays whole
    )
    return Recording(
        samples,
        fs,
        names,
        ("uV",) * channels,
        start_time=datetime(2024, 11, 21, 23, 5, 7),
        annotations=annotations,
        gaps=gaps,
    )


@pytest.mark.parametrize("fs", [200.0, 1000.0, 2000.0, 200.5, 1000 / 3])
def test_round_trip(tmp_path: Path, fs: float) -> None:
    original = make_recording(fs, int(fs * 3.7))
    path = tmp_path / "night.bdf"
    write_bdf(original, path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = read_recording(path)
    assert back.format == "edf"
    assert back.fs == pytest.approx(fs, rel=1e-12)
    assert back.channels == original.channels
    assert back.units == original.units
    assert back.n_samples == original.n_samples
    assert back.gaps == original.gaps
    assert back.start_time == original.start_time
    assert_quantised_equal(path, original.samples, back.samples)
    assert len(back.annotations) == len(original.annotations)
    for got, want in zip(back.annotations, original.annotations, strict=True):
        assert (got.description, got.channel) == (want.description, want.channel)
        assert got.onset_s == pytest.approx(want.onset_s, abs=1e-7)
        assert got.duration_s == pytest.approx(want.duration_s, abs=1e-7)


def test_pyedflib_sees_a_bdf_plus_file_with_marks(tmp_path: Path) -> None:
    original = make_recording(1000.0, 2345)
    path = tmp_path / "r.bdf"
    write_bdf(original, path)
    with pyedflib.EdfReader(str(path)) as edf:
        assert edf.filetype == pyedflib.FILETYPE_BDFPLUS
        assert edf.getSignalLabels() == list(original.channels)
        assert edf.getPhysicalDimension(0) == "uV"
        assert list(edf.getSampleFrequencies()) == [1000.0] * 3
        assert edf.getNSamples()[0] == 3000  # padded to whole 1 s records
        onsets, durations, texts = edf.readAnnotations()
        found = dict(zip(texts, zip(onsets, durations, strict=True), strict=False))
        first_channel_samples = edf.readSignal(0, 0, 10)
    assert found["spasm@EMG2"] == pytest.approx((0.5, 1.25))
    assert found["recording end"][0] == pytest.approx(2.345)
    assert list(texts).count("gap") == 2
    assert found["gap"] == pytest.approx((1172 / 1000, 17 / 1000))
    np.testing.assert_allclose(first_channel_samples, original.samples[:10, 0], atol=1e-3)


def test_incremental_writer_with_gaps_and_odd_frames(tmp_path: Path) -> None:
    fs = 500.0
    rng = np.random.default_rng(3)
    path = tmp_path / "live.bdf"
    expected = np.full((0, 2), np.nan, dtype=np.float32)
    start = 1000  # a live stream need not start at sample 0
    with BdfWriter(
        path, fs, ("L", "R"), ("mV", "mV"), physical_range=(-5.0, 5.0), start_time=None
    ) as writer:
        for size, lost in [(1, 0), (333, 0), (499, 3), (1, 0), (700, 250), (2, 0), (1, 1)]:
            block = rng.uniform(-4, 4, (size, 2)).astype(np.float32)
            writer.write(Frame(block, start + lost, fs, ("L", "R"), gap_before=lost))
            hole = np.full((lost, 2), np.nan, dtype=np.float32)
            expected = np.concatenate([expected, hole, block])
            start += lost + size
        writer.annotate(Annotation(0.1, 0.0, "start"))
    back = read_recording(path)
    assert back.n_samples == len(expected) == 1791  # not a whole number of records
    assert back.gaps == (Gap(334, 3), Gap(837, 250), Gap(1789, 1))
    assert back.start_time is None
    assert_quantised_equal(path, expected, back.samples)
    assert [a.description for a in back.annotations] == ["start"]


def test_more_annotations_than_records_can_hold(tmp_path: Path) -> None:
    rec = Recording(np.zeros((150, 1), np.float32), 100.0, ("EMG",), ("uV",))
    many = tuple(Annotation(k / 100, 0.01, f"twitch number {k}", "EMG") for k in range(150))
    write_bdf(rec.with_annotations(many), tmp_path / "busy.bdf")
    back = read_recording(tmp_path / "busy.bdf")
    assert back.n_samples == 150
    assert [a.description for a in back.annotations] == [f"twitch number {k}" for k in range(150)]
    assert all(a.channel == "EMG" for a in back.annotations)


def test_clipping_is_marked(tmp_path: Path) -> None:
    fs = 100.0
    samples = np.zeros((300, 2), np.float32)
    samples[50:60, 1] = 9.0
    samples[250, 1] = -9.0
    path = tmp_path / "clip.bdf"
    with BdfWriter(path, fs, ("a", "b"), ("mV", "mV"), physical_range=[(-1, 1), (-2, 2)]) as w:
        w.write(Frame(samples, 0, fs, ("a", "b")))
    back = read_recording(path)
    marks = [a for a in back.annotations if a.description == "clipped"]
    assert [(m.channel, m.onset_s, m.duration_s) for m in marks] == [
        ("b", 0.5, 0.1),
        ("b", 2.5, 0.01),
    ]
    assert back.samples[55, 1] == pytest.approx(2.0)


def test_empty_recording_round_trip(tmp_path: Path) -> None:
    write_bdf(Recording(np.zeros((0, 1)), 250.0, ("EMG",), ("uV",)), tmp_path / "e.bdf")
    back = read_recording(tmp_path / "e.bdf")
    assert back.n_samples == 0
    assert back.samples.shape == (0, 1)


def test_all_gap_recording_round_trip(tmp_path: Path) -> None:
    rec = Recording(np.full((40, 1), np.nan), 200.0, ("EMG",), ("uV",), gaps=(Gap(0, 40),))
    write_bdf(rec, tmp_path / "g.bdf")
    back = read_recording(tmp_path / "g.bdf")
    assert back.gaps == (Gap(0, 40),)
    assert np.isnan(back.samples).all()


def test_existing_file_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "old.bdf"
    path.write_bytes(b"old")
    path.chmod(0o644)
    write_bdf(make_recording(200.0, 300), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "fs, samples, duration",
    [(200.0, 200, "1"), (4000.0, 4000, "1"), (200.5, 401, "2"), (1000 / 3, 333, "0.999")],
)
def test_record_layout(fs: float, samples: int, duration: str) -> None:
    count, length = record_layout(fs)
    assert (count, str(length)) == (samples, duration)
    assert count / float(length) == pytest.approx(fs, rel=1e-12)


def test_record_layout_without_a_whole_sample_count() -> None:
    with pytest.raises(RecordingError, match="cannot be stored in BDF"):
        record_layout(333.3333)


def writer(tmp_path: Path, **kwargs: object) -> BdfWriter:
    args: dict[str, object] = {
        "fs": 100.0,
        "channels": ("a", "b"),
        "units": ("uV", "uV"),
        "physical_range": (-1.0, 1.0),
    }
    args.update(kwargs)
    return BdfWriter(tmp_path / "w.bdf", **args)  # type: ignore[arg-type]


def test_writer_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="at most 16"):
        writer(tmp_path, channels=("gastrocnemius-medialis", "b"))
    with pytest.raises(RecordingError, match="unique"):
        writer(tmp_path, channels=("a", "a"))
    with pytest.raises(RecordingError, match="not a range"):
        writer(tmp_path, physical_range=(1.0, 1.0))
    with pytest.raises(RecordingError, match="not plausible"):
        writer(tmp_path, fs=0)
    with pytest.raises(RecordingError, match="1985-2084"):
        writer(tmp_path, start_time=datetime(1970, 1, 1))


def test_writer_refuses_bad_frames_and_annotations(tmp_path: Path) -> None:
    w = writer(tmp_path)
    ok = np.zeros((10, 2), np.float32)
    w.write(Frame(ok, 0, 100.0, ("a", "b")))
    with pytest.raises(RecordingError, match="expected"):
        w.write(Frame(ok, 15, 100.0, ("a", "b")))  # 5 samples missing without gap_before
    with pytest.raises(RecordingError, match="NaN"):
        w.write(Frame(np.full((3, 2), np.nan, np.float32), 10, 100.0, ("a", "b")))
    with pytest.raises(RecordingError, match="channels"):
        w.write(Frame(np.zeros((3, 1), np.float32), 10, 100.0, ("a",)))
    with pytest.raises(RecordingError, match="unknown channel"):
        w.annotate(Annotation(0, 0, "spasm", "c"))
    with pytest.raises(RecordingError, match="too long"):
        w.annotate(Annotation(0, 0, "x" * 1000))
    w.close()
    w.close()  # closing twice is harmless
    with pytest.raises(RecordingError, match="closed"):
        w.write(Frame(ok, 10, 100.0, ("a", "b")))
    assert read_recording(tmp_path / "w.bdf").n_samples == 10


def test_header_numbers_are_rounded_outward(tmp_path: Path) -> None:
    rec = Recording(
        np.array([[-1000.123456], [1234.5678901]], np.float32), 100.0, ("EMG",), ("uV",)
    )
    write_bdf(rec, tmp_path / "r.bdf")
    with pyedflib.EdfReader(str(tmp_path / "r.bdf")) as edf:
        assert edf.getPhysicalMinimum(0) <= -1000.123456
        assert edf.getPhysicalMaximum(0) >= 1234.5678901
    assert_quantised_equal(
        tmp_path / "r.bdf", rec.samples, read_recording(tmp_path / "r.bdf").samples
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 700),
    gap_spec=st.lists(st.tuples(st.integers(0, 699), st.integers(1, 40)), max_size=4),
    fs=st.sampled_from([200.0, 256.0, 500.5]),
)
def test_round_trip_property(tmp_path: Path, n: int, gap_spec: list, fs: float) -> None:
    samples = np.sin(np.arange(n * 2, dtype=np.float64) / 7).reshape(n, 2).astype(np.float32)
    missing = np.zeros(n, bool)
    for start, length in gap_spec:
        missing[start : start + length] = True
    samples[missing] = np.nan
    gaps = gaps_from_missing(missing)
    rec = Recording(samples, fs, ("x", "y"), ("mV", "mV"), gaps=gaps)
    path = tmp_path / "p.bdf"
    write_bdf(rec, path)
    back = read_recording(path)
    assert back.n_samples == n
    assert back.gaps == gaps
    assert_quantised_equal(path, samples, back.samples)


# -- reading EDF files written by others (pyedflib's writer) ------------------------------------


def pyedflib_file(
    path: Path, signals: list[tuple[str, float, str]], seconds: int, file_type: int
) -> list[np.ndarray]:
    """Write an EDF/BDF with pyedflib's own writer; returns the data written."""
    data = [
        np.sin(np.arange(int(fs * seconds)) / (3 + k)) * 100 for k, (_, fs, _) in enumerate(signals)
    ]
    edf = pyedflib.EdfWriter(str(path), len(signals), file_type=file_type)
    digital = (
        (-8388608, 8388607)
        if file_type in (pyedflib.FILETYPE_BDF, pyedflib.FILETYPE_BDFPLUS)
        else (-32768, 32767)
    )
    edf.setSignalHeaders(
        [
            {
                "label": label,
                "dimension": unit,
                "sample_frequency": fs,
                "physical_max": 100.0,
                "physical_min": -100.0,
                "digital_max": digital[1],
                "digital_min": digital[0],
                "prefilter": "",
                "transducer": "",
            }
            for label, fs, unit in signals
        ]
    )
    edf.writeSamples(data)
    if file_type in (pyedflib.FILETYPE_EDFPLUS, pyedflib.FILETYPE_BDFPLUS):
        edf.writeAnnotation(1.5, 0.5, "cramp@EMG left")
    edf.close()
    return data


def test_mixed_rates_keep_the_emg_channels(tmp_path: Path) -> None:
    path = tmp_path / "mixed.edf"
    signals = [("EMG left", 1000.0, "uV"), ("ACC x", 50.0, "g"), ("EMG right", 1000.0, "uV")]
    data = pyedflib_file(path, signals, 4, pyedflib.FILETYPE_EDFPLUS)
    reader = open_recording(path)
    header = reader.header
    assert header.channels == ("EMG left", "EMG right")
    assert header.fs == 1000.0
    assert header.n_samples == 4000
    assert any("ACC x (50 Hz)" in note for note in header.notes)
    assert header.annotations == (Annotation(1.5, 0.5, "cramp", "EMG left"),)
    back = read_recording(path)
    np.testing.assert_allclose(back.samples[:, 1], data[2], atol=200 / 65535)


def test_plain_edf_without_units_reads_counts(tmp_path: Path) -> None:
    path = tmp_path / "plain.edf"
    data = pyedflib_file(path, [("ch", 256.0, "")], 2, pyedflib.FILETYPE_EDF)
    back = read_recording(path)
    assert back.units == ("counts",)
    assert back.annotations == ()
    np.testing.assert_allclose(back.samples[:, 0], data[0], atol=200 / 65535)


# -- streaming ---------------------------------------------------------------------------------


def test_frames_stream_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = make_recording(2000.0, 9000, channels=2)
    path = tmp_path / "s.bdf"
    write_bdf(original, path)

    requested: list[int] = []
    real = pyedflib.EdfReader.readSignal

    def spy(
        self: pyedflib.EdfReader,
        chn: int,
        start: int = 0,
        n: int | None = None,
        digital: bool = False,
    ) -> np.ndarray:
        requested.append(n)
        return real(self, chn, start, n, digital)

    monkeypatch.setattr(pyedflib.EdfReader, "readSignal", spy)
    reader = open_recording(path)
    frames = list(reader.frames(1000))
    assert requested and max(requested) <= 1000 and None not in requested
    assert all(f.n <= 1000 for f in frames)
    # starts: 0..10 then after the 5-sample gap, and around the gap at 4500
    assert frames[0].start == 0 and frames[0].n == 10
    assert frames[1].start == 15 and frames[1].gap_before == 5
    after = next(f for f in frames if f.gap_before == 17)
    assert after.start == 4500 + 17
    assert sum(f.gap_before for f in frames) == 22
    for before, nxt in zip(frames, frames[1:], strict=False):
        assert nxt.start == before.stop + nxt.gap_before


@pytest.mark.parametrize("block", [1, 7, 1000, 4096, 100_000])
def test_frames_concatenate_to_read_recording(tmp_path: Path, block: int) -> None:
    original = make_recording(1000.0, 3333, channels=2)
    path = tmp_path / "c.bdf"
    write_bdf(original, path)
    whole = read_recording(path)
    rebuilt = np.full_like(whole.samples, np.nan)
    for frame in open_recording(path).frames(block):
        assert frame.n <= block
        rebuilt[frame.start : frame.stop] = frame.samples
    np.testing.assert_array_equal(rebuilt, whole.samples)


# -- broken files -------------------------------------------------------------------------------


def test_truncated_file_is_a_recording_error(tmp_path: Path) -> None:
    path = tmp_path / "t.bdf"
    write_bdf(make_recording(1000.0, 5000), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(RecordingError, match="Filesize.*cut short"):
        read_recording(path)
    path.write_bytes(data[:100])
    with pytest.raises(RecordingError, match="cannot be read as EDF/BDF"):
        read_recording(path)


def test_garbage_edf_is_a_recording_error(tmp_path: Path) -> None:
    path = tmp_path / "g.edf"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(RecordingError, match="cannot be read as EDF/BDF"):
        read_recording(path)
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "absent.edf")


@pytest.mark.parametrize("end, samples, noted", [(1.0, 100, False), (5.0, 200, True)])
def test_end_mark_is_honoured_or_noted(
    tmp_path: Path, end: float, samples: int, noted: bool
) -> None:
    path = tmp_path / "x.edf"
    edf = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    edf.setSignalHeaders(
        [
            {
                "label": "EMG",
                "dimension": "uV",
                "sample_frequency": 100,
                "physical_max": 1.0,
                "physical_min": -1.0,
                "digital_max": 32767,
                "digital_min": -32768,
                "prefilter": "",
                "transducer": "",
            }
        ]
    )
    edf.writeSamples([np.zeros(200)])
    edf.writeAnnotation(end, -1, "recording end")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edf.close()
    back = read_recording(path)
    assert back.n_samples == samples
    assert any("beyond" in note for note in back.notes) == noted
