"""XDF import: files written here chunk by chunk as LabRecorder writes them, read with pyxdf.

No maintained Python package writes XDF (pyxdf only reads; LabRecorder's writer is C++), so
:class:`XdfFile` below writes the format from its specification: the ``XDF:`` magic, then
chunks ``[length][tag][content]`` with a variable-length length; a FileHeader (tag 1), a
StreamHeader (2) per stream, Samples (3), ClockOffset (4) and StreamFooter (6) chunks.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from emgspasm import Gap, RecordingError
from emgspasm.cli import main
from emgspasm.io import detect_format, open_recording, read_recording
from emgspasm.io.xdf import find_gaps, read_xdf
from emgspasm.pipeline import detect_stream
from emgspasm.sinks.episode_log import read_episode_log
from emgspasm.sources.simulator import simulate


def _varlen(n: int) -> bytes:
    if n < 256:
        return bytes([1, n])
    if n < 2**32:
        return bytes([4]) + struct.pack("<I", n)
    return bytes([8]) + struct.pack("<Q", n)


class XdfFile:
    """A minimal XDF writer (the subset LabRecorder uses)."""

    def __init__(self, path: Path, datetime: str = "2024-03-02T23:10:00+0100") -> None:
        self.handle = open(path, "wb")
        self.handle.write(b"XDF:")
        self._chunk(
            1,
            f'<?xml version="1.0"?><info><version>1.0</version>'
            f"<datetime>{datetime}</datetime></info>".encode(),
        )
        self.formats: dict[int, str] = {}

    def _chunk(self, tag: int, content: bytes) -> None:
        body = struct.pack("<H", tag) + content
        self.handle.write(_varlen(len(body)) + body)

    def stream(
        self,
        sid: int,
        name: str,
        kind: str,
        rate: float,
        fmt: str,
        labels: list[str],
        unit: str = "microvolts",
    ) -> None:
        channels = "".join(
            f"<channel><label>{label}</label><unit>{unit}</unit><type>{kind}</type></channel>"
            for label in labels
        )
        xml = (
            f'<?xml version="1.0"?><info><name>{name}</name><type>{kind}</type>'
            f"<channel_count>{len(labels)}</channel_count><nominal_srate>{rate:g}</nominal_srate>"
            f"<channel_format>{fmt}</channel_format><source_id>{name}-1</source_id>"
            f"<desc><channels>{channels}</channels></desc></info>"
        )
        self.formats[sid] = fmt
        self._chunk(2, struct.pack("<I", sid) + xml.encode())

    def samples(self, sid: int, stamps: list[float | None], rows: list) -> None:
        """One Samples chunk; a None time stamp is left out (the reader deduces it)."""
        parts = [struct.pack("<I", sid), _varlen(len(rows))]
        for stamp, row in zip(stamps, rows, strict=True):
            parts.append(b"\x00" if stamp is None else b"\x08" + struct.pack("<d", stamp))
            if self.formats[sid] == "string":
                for text in row:
                    data = text.encode()
                    parts.append(_varlen(len(data)) + data)
            else:
                parts.append(np.asarray(row, dtype="<f4").tobytes())
        self._chunk(3, b"".join(parts))

    def clock_offset(self, sid: int, when: float, offset: float) -> None:
        self._chunk(4, struct.pack("<I", sid) + struct.pack("<dd", when, offset))

    def footer(self, sid: int, first: float, last: float, count: int) -> None:
        xml = (
            f'<?xml version="1.0"?><info><first_timestamp>{first}</first_timestamp>'
            f"<last_timestamp>{last}</last_timestamp><sample_count>{count}</sample_count></info>"
        )
        self._chunk(6, struct.pack("<I", sid) + xml.encode())

    def close(self) -> None:
        self.handle.close()


FS = 500.0
T0 = 5000.0  # LSL clock at the first EMG sample


def _emg_file(
    path: Path,
    samples: np.ndarray,
    keep: np.ndarray,
    jitter: np.ndarray | None = None,
    markers: tuple[tuple[float, str], ...] = (),
    chunk: int = 25,
    sparse_stamps: bool = False,
) -> None:
    """An XDF file with an EMG stream (the rows of ``samples`` at indices ``keep``), a 50 Hz
    accelerometer and a marker stream. ``jitter`` delays each chunk's time stamps;
    ``sparse_stamps`` writes a time stamp only on each chunk's first sample."""
    xdf = XdfFile(path)
    xdf.stream(1, "BioAmp", "EMG", FS, "float32", ["EMG1", "EMG2"][: samples.shape[1]])
    xdf.stream(2, "Accel", "Accelerometer", 50.0, "float32", ["x", "y", "z"], unit="g")
    xdf.stream(3, "Events", "Markers", 0.0, "string", ["marker"])
    for sid in (1, 2, 3):
        xdf.clock_offset(sid, T0, 0.0)
    stamps = T0 + keep / FS
    for k, a in enumerate(range(0, keep.size, chunk)):
        b = min(a + chunk, keep.size)
        delay = 0.0 if jitter is None else float(jitter[k])
        ts: list[float | None] = [float(t) + delay for t in stamps[a:b]]
        if sparse_stamps:
            ts = [ts[0]] + [None] * (len(ts) - 1)
        xdf.samples(1, ts, samples[keep[a:b]].tolist())
        if k % 20 == 0:
            t = T0 + keep[a] / FS
            xdf.samples(2, [t], [[0.0, 0.1, 1.0]])
    for when, text in markers:
        xdf.samples(3, [T0 + when], [[text]])
    for sid in (1, 2, 3):
        xdf.clock_offset(sid, T0 + keep[-1] / FS, 0.0)
    xdf.footer(1, float(stamps[0]), float(stamps[-1]), int(keep.size))
    xdf.close()


def _data(n: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 20, (n, channels)).astype(np.float32)


@pytest.mark.parametrize("sparse", [False, True])
def test_clean_stamps_give_exact_gaps_markers_and_metadata(tmp_path: Path, sparse: bool) -> None:
    n = 30_000
    data = _data(n)
    keep = np.concatenate([np.arange(0, 12_000), np.arange(12_250, n)])
    path = tmp_path / "night.xdf"
    _emg_file(
        path, data, keep, markers=((-2.0, "early"), (31.0, "stretching")), sparse_stamps=sparse
    )
    assert detect_format(path) == "xdf"
    rec = read_recording(path)
    assert rec.format == "xdf" and rec.fs == FS
    assert rec.channels == ("EMG1", "EMG2") and rec.units == ("uV", "uV")
    assert rec.n_samples == n
    assert rec.gaps == (Gap(12_000, 250),)
    present = np.ones(n, dtype=bool)
    present[12_000:12_250] = False
    np.testing.assert_array_equal(rec.samples[present], data[present])
    assert np.isnan(rec.samples[~present]).all()
    assert [(a.onset_s, a.description, a.channel) for a in rec.annotations] == [
        (31.0, "stretching", None)
    ]
    assert rec.start_time is not None and rec.start_time.isoformat() == "2024-03-02T23:10:00"
    notes = " | ".join(rec.notes)
    assert "left out: Accel (50 Hz)" in notes
    assert "1 markers before the first EMG sample left out" in notes
    assert "250 lost samples" in notes
    # frames never carry the lost samples; the gap is marked before the next frame
    frames = list(open_recording(path).frames(5000))
    assert sum(f.n for f in frames) == n - 250
    assert [f.gap_before for f in frames if f.gap_before] == [250]


def test_jittered_stamps_are_not_taken_for_gaps(tmp_path: Path) -> None:
    n = 40_000
    data = _data(n, channels=1, seed=1)
    keep = np.concatenate([np.arange(0, 20_000), np.arange(20_400, n)])
    rng = np.random.default_rng(5)
    jitter = rng.uniform(0.0, 0.03, keep.size // 25 + 1)  # blocks arrive up to 30 ms late
    path = tmp_path / "jitter.xdf"
    _emg_file(path, data, keep, jitter=jitter, markers=((10.0, "voluntary"),))
    rec = read_xdf(path)
    assert len(rec.gaps) == 1
    gap = rec.gaps[0]
    assert gap.start == 20_000 and abs(gap.length - 400) <= 1
    assert rec.annotations[0].description == "voluntary"
    assert abs(rec.annotations[0].onset_s - 10.0) <= 0.03 + 1 / FS


def test_find_gaps_follows_a_drifting_clock() -> None:
    fs = 2000.0
    t = np.arange(200_000) / fs * (1 + 80e-6)  # the device clock runs 80 ppm slow
    t[150_000:] += 7 / fs
    at, lost = find_gaps(t + 1e4, fs)
    assert at.tolist() == [150_000] and lost.tolist() == [7]


def test_stream_choice_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "two.xdf"
    data = _data(2000)
    _emg_file(path, data, np.arange(2000))
    accel = read_xdf(path, stream="Accel")
    assert accel.fs == 50.0 and accel.channels == ("x", "y", "z") and accel.units == ("g",) * 3
    assert read_xdf(path, stream="EMG").channels == ("EMG1", "EMG2")
    with pytest.raises(RecordingError, match="no numeric stream with a sample rate is named"):
        read_xdf(path, stream="EEG")
    with pytest.raises(RecordingError, match="states its own sample rate"):
        read_xdf(path, fs=1000.0)
    bad = tmp_path / "bad.xdf"
    bad.write_bytes(b"not an xdf file")
    with pytest.raises(RecordingError, match="cannot be read as XDF"):
        read_recording(bad)
    only_markers = tmp_path / "markers.xdf"
    xdf = XdfFile(only_markers)
    xdf.stream(3, "Events", "Markers", 0.0, "string", ["marker"])
    xdf.samples(3, [1.0], [["x"]])
    xdf.close()
    with pytest.raises(RecordingError, match="no numeric stream with a nominal sample rate"):
        read_recording(only_markers)


def test_detect_replays_an_xdf_recording_like_the_original(tmp_path: Path) -> None:
    sim = simulate("night", 90.0, fs=FS, seed=11, channels=1)
    path = tmp_path / "sim.xdf"
    _emg_file(path, sim.samples, np.arange(sim.n_samples), chunk=50)
    log = tmp_path / "episodes.csv"
    assert main(["detect", str(path), "--out", str(log), "--quiet"]) == 0
    rows = read_episode_log(log)
    expected = detect_stream(sim).episodes
    assert len(rows) == len(expected) > 0
    for row, ep in zip(rows, expected, strict=True):
        assert row["kind"] == ep.kind and row["channel"] == ep.channel
        assert row["onset_s"] == round(ep.onset_s, 6) and row["offset_s"] == round(ep.offset_s, 6)
