"""The live view's parts that need no window: rings, decimation, sources, display tap, log."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import sys
import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from emgspasm.config import profile
from emgspasm.detect import Detector
from emgspasm.dsp.design import band_edges, bandpass_sos, mains_sos
from emgspasm.errors import DeviceError
from emgspasm.evaluation import events_from_log
from emgspasm.frames import Annotation, Frame
from emgspasm.live.buffers import ColumnCache, SampleRing, interleave, minmax_columns
from emgspasm.live.log import LIVE_COLUMNS, MARKER, LiveEpisodeLog, marker
from emgspasm.live.sources import (
    ENDED,
    STREAMING,
    ReplaySource,
    SimulatedSensor,
    SourceStatus,
    bluetooth_source,
    read_status,
)
from emgspasm.live.status import STALL_S, status_texts
from emgspasm.live.tap import ChannelQuality, DisplayTap
from emgspasm.sinks.episode_log import COLUMNS, read_episode_log
from emgspasm.sources.simulator import simulate

from .conftest import REPO

NIGHT = REPO / "recordings" / "night_10min_2k.bdf"


# -- rings and decimation ---------------------------------------------------------------------


def test_ring_reads_back_across_wrap_and_marks_lost_samples_nan():
    ring = SampleRing(10, 2)
    ring.write(100, np.arange(12, dtype=np.float32).reshape(6, 2))
    ring.write(109, np.full((4, 2), 7, dtype=np.float32))  # samples 106..108 lost
    assert ring.head == 113 and ring.oldest == 103
    out = ring.read(101, 114)
    assert np.isnan(out[:2]).all()  # 101, 102: no longer held
    assert out[2:5, 0].tolist() == [6, 8, 10]  # 103..105
    assert np.isnan(out[5:8]).all()  # the gap
    assert (out[8:12] == 7).all() and np.isnan(out[12]).all()  # 113: not yet written


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(1, 300), st.integers(0, 40), st.integers(200, 2500)),
        min_size=1,
        max_size=30,
    ),
    columns=st.integers(20, 700),
)
def test_minmax_columns_match_brute_force_and_the_cache(steps, columns):
    rng = np.random.default_rng(len(steps) * 1000 + columns)
    ring = SampleRing(3000, 2)
    cache = ColumnCache(ring)
    full: dict[int, np.ndarray] = {}
    head = 50
    for n, gap, span in steps:
        block = rng.normal(size=(n, 2)).astype(np.float32)
        ring.write(head + gap, block)
        for k in range(n):
            full[head + gap + k] = block[k]
        head += gap + n
        start = head - span
        first, lo, hi = minmax_columns(ring, start, head, columns)
        size = int(first[1] - first[0]) if first.size > 1 else max(1, head - first[0])
        assert first[0] <= start < first[0] + size and first[-1] < head <= first[-1] + size
        for j, a in enumerate(first):
            held = [full[i] for i in range(a, a + size) if i in full and i >= ring.oldest]
            if held:
                assert np.allclose(lo[j], np.min(held, axis=0))
                assert np.allclose(hi[j], np.max(held, axis=0))
            else:
                assert np.isnan(lo[j]).all() and np.isnan(hi[j]).all()
        got = cache.columns(start, head, columns)
        for a, b in zip((first, lo, hi), got, strict=True):
            assert np.array_equal(a, b, equal_nan=True)


def test_interleave_puts_both_extremes_of_a_column_at_its_centre():
    x, y = interleave(np.array([0, 4]), np.array([-1.0, -2.0]), np.array([1.0, 2.0]), 2.0, 4)
    assert x.tolist() == [1.0, 1.0, 3.0, 3.0]
    assert y.tolist() == [-1.0, 1.0, -2.0, 2.0]


def _reference_columns(samples: dict[int, np.ndarray], a: int, size: int, k: int, channels: int):
    """Minimum and maximum of each column from scratch: a dense array with NaN where no
    sample is, reshaped to (columns, size, channels)."""
    dense = np.full((k * size, channels), np.nan, dtype=np.float32)
    for i, row in samples.items():
        if a <= i < a + k * size:
            dense[i - a] = row
    blocks = dense.reshape(k, size, channels)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return np.nanmin(blocks, axis=1), np.nanmax(blocks, axis=1)


@settings(max_examples=40, deadline=None)
@given(
    blocks=st.lists(st.tuples(st.integers(1, 120), st.integers(0, 30)), min_size=1, max_size=40),
    columns=st.integers(20, 400),
    span=st.integers(400, 2500),
)
def test_cache_while_the_window_fills_matches_a_numpy_reference(blocks, columns, span):
    """The window's columns while the stream is shorter than the window (the view runs from
    the first sample to first + span, most of it still empty), redrawn after every block: the
    incremental cache equals minmax_columns from scratch and a dense numpy reference, and the
    columns past the newest sample are empty."""
    rng = np.random.default_rng(len(blocks) * 7 + columns + span)
    ring = SampleRing(4000, 3)
    cache = ColumnCache(ring)
    written: dict[int, np.ndarray] = {}
    first = head = 1000
    for n, gap in blocks:
        block = rng.normal(size=(n, 3)).astype(np.float32)
        ring.write(head + gap, block)
        for k in range(n):
            written[head + gap + k] = block[k]
        head += gap + n
        stop = max(head, first + span)
        start = stop - span
        got = cache.columns(start, stop, columns)
        scratch = minmax_columns(ring, start, stop, columns)
        for a, b in zip(scratch, got, strict=True):
            assert np.array_equal(a, b, equal_nan=True)
        cols, lo, hi = got
        size = int(cols[1] - cols[0]) if cols.size > 1 else max(1, stop - int(cols[0]))
        held = {i: v for i, v in written.items() if i >= ring.oldest}
        ref_lo, ref_hi = _reference_columns(held, int(cols[0]), size, len(cols), 3)
        assert np.array_equal(lo, ref_lo, equal_nan=True)
        assert np.array_equal(hi, ref_hi, equal_nan=True)
        past = cols >= head
        assert np.isnan(lo[past]).all() and np.isnan(hi[past]).all()


def test_cache_computes_only_the_columns_that_gained_samples(monkeypatch):
    """Scrolling by a few columns reads only those columns from the ring, not the window."""
    from emgspasm.live import buffers

    ring = SampleRing(30000, 2)
    cache = ColumnCache(ring)
    rng = np.random.default_rng(5)
    ring.write(0, rng.normal(size=(20000, 2)).astype(np.float32))
    cache.columns(0, 20000, 1000)  # size 20: 1000 columns, all computed once
    read: list[int] = []
    real = buffers.minmax_columns

    def counting(ring, start, stop, columns):
        read.append(stop - start)
        return real(ring, start, stop, columns)

    monkeypatch.setattr(buffers, "minmax_columns", counting)
    ring.write(20000, rng.normal(size=(50, 2)).astype(np.float32))
    got = cache.columns(50, 20050, 1000)
    assert read == [60]  # the three columns holding the 50 new samples
    for a, b in zip(real(ring, 50, 20050, 1000), got, strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_interleave_of_all_channels_gives_one_contiguous_row_per_channel():
    first = np.array([0, 4, 8])
    lo = np.array([[-1.0, -10.0], [-2.0, -20.0], [np.nan, np.nan]])
    hi = np.array([[1.0, 10.0], [2.0, 20.0], [np.nan, np.nan]])
    x, y = interleave(first, lo, hi, 2.0, 4)
    assert y.shape == (2, 6) and y[1].flags.c_contiguous
    for c in range(2):
        xc, yc = interleave(first, lo[:, c], hi[:, c], 2.0, 4)
        assert np.array_equal(x, xc) and np.array_equal(y[c], yc, equal_nan=True)


# -- sources -------------------------------------------------------------------------------------


async def _collect(source):
    return [frame async for frame in source]


def test_replay_hands_out_every_sample_in_order_and_ends():
    rec = simulate("quiet", 6.0, fs=500.0, seed=1, channels=2)
    source = ReplaySource("quiet.bdf", 0, reader=rec)
    assert source.status.state == "connecting" and source.status.battery is None
    frames = asyncio.run(_collect(source))
    assert sum(f.n for f in frames) == 3000 == source.samples_out
    assert [f.start for f in frames] == [500 * k for k in range(6)]  # 1 s blocks at speed 0
    status = source.status
    assert status.state == ENDED and status.loss_percent == 0.0 and status.fs == 500.0
    assert status.channels == ("EMG1", "EMG2") and status.units == "uV"


def test_replay_of_a_missing_file_fails_before_anything_starts(tmp_path):
    from emgspasm.errors import RecordingError

    with pytest.raises(RecordingError):
        ReplaySource(tmp_path / "nope.bdf", 1.0)


def test_simulated_sensor_runs_on_across_segments():
    sensor = SimulatedSensor("quiet", fs=500.0, channels=1, speed=0, segment_s=2.0, duration_s=5)
    frames = asyncio.run(_collect(sensor))
    starts = [f.start for f in frames]
    assert starts == sorted(starts)
    assert all(a.stop == b.start for a, b in zip(frames, frames[1:], strict=False))
    assert frames[-1].stop == 2500 and sensor.status.state == ENDED


class _State(str, Enum):
    RECONNECTING = "reconnecting"


@dataclass(frozen=True)
class _Stats:
    samples_received: int = 4000


@dataclass(frozen=True)
class _LinkLike:
    """The attribute names of a Bluetooth link status."""

    state: _State = _State.RECONNECTING
    device_name: str | None = "emgspasm-bridge"
    fs: float | None = 1000.0
    battery: int | None = 12
    flags: frozenset[str] = frozenset({"lead_off"})
    message: str = "attempt 2"
    stats: _Stats = _Stats()
    loss_percent: float = 1.25


def test_a_bluetooth_like_status_is_read_and_shown():
    status = read_status(_LinkLike(), "sensor")
    assert status.state == "reconnecting" and status.source == "sensor emgspasm-bridge"
    assert status.loss_percent == 1.25 and status.battery == 12 and status.samples == 4000
    texts = status_texts(status, since_data_s=STALL_S + 2, channels=("EMG1",), fs=1000.0)
    assert "NO DATA for 5 s" in texts.state and "background" in texts.state_style
    assert texts.battery == "battery 12 % (low)" and texts.loss == "loss 1.25 %"
    assert "device: lead_off" in texts.quality


def test_status_of_a_replay_says_what_applies():
    status = SourceStatus("replay x.bdf (10x)", STREAMING, 2000.0, loss_percent=0.0)
    quality = (ChannelQuality(0.0, False, 2.5, 50.0), ChannelQuality(1.5, True, 40.0, 50.0))
    texts = status_texts(status, 0.1, quality, ("EMG1", "EMG2"))
    assert texts.state == "streaming" and texts.rate == "2000 Hz"
    assert texts.battery == "battery n/a" and texts.loss == "loss 0.00 %"
    assert texts.quality.startswith("EMG1: mains 2.5")
    assert "EMG2: FLAT LINE, clipping 1.5 %, MAINS 40" in texts.quality


def test_device_without_a_bluetooth_client_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "emgspasm.sources.ble.client", None)
    with pytest.raises(DeviceError, match="not available yet"):
        bluetooth_source("emgspasm-bridge")


# -- display tap ---------------------------------------------------------------------------------


def _tap_run(rec, block: int):
    det = Detector(profile("night"))
    tap = DisplayTap(det)
    blocks = []
    for frame in rec.frames(block):
        det.process(frame)
        blocks += tap.process(frame)
    return det, tap, blocks


def test_tap_filters_like_the_detector_design_whatever_the_blocks():
    rec = simulate("fasciculation", 8.0, fs=2000.0, seed=3, channels=2)
    det, tap, blocks = _tap_run(rec, 100)
    _, _, other = _tap_run(rec, 2900)
    assert tap.envelope_mode == "detector"  # the detector's resting level could be read
    assert blocks[0].start == 0 and sum(b.n for b in blocks) == rec.samples.shape[0]
    y = np.concatenate([b.filtered for b in blocks])
    assert np.allclose(y, np.concatenate([b.filtered for b in other]), atol=1e-3)
    cfg = det.config
    sos = bandpass_sos(2000.0, cfg.band_low_hz, cfg.band_high_hz, cfg.band_order)
    _, high = band_edges(2000.0, cfg.band_low_hz, cfg.band_high_hz)
    sos = np.vstack([sos, mains_sos(2000.0, det.mains_hz, cfg.mains_harmonics, cfg.notch_q, high)])
    x = rec.samples.astype(np.float64)
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    expected, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    assert np.allclose(y, expected, atol=1e-3 * np.abs(expected).max())


def test_envelope_crosses_the_threshold_where_the_detector_finds_the_cramp():
    from emgspasm.io import read_recording

    rec = read_recording(NIGHT)
    rec.samples = rec.samples[: 40 * 2000]
    det, _, blocks = _tap_run(rec, 100)
    env = np.concatenate([b.envelope for b in blocks])[:, 0]
    thr = blocks[-1].threshold[0]
    assert math.isclose(thr, det.config.on_ratio * det.baseline_rms()[0], rel_tol=1e-9)
    t = np.arange(env.size) / 2000.0
    cramp = (t > 25) & (t < 40)  # EMG1 cramps from 24 s (the detector's ongoing spasm)
    rest = (t > 3) & (t < 23)
    assert det.ongoing and det.ongoing[0].channel == "EMG1"
    assert np.mean(env[cramp] > thr) > 0.95
    assert np.mean(env[rest] > thr) < 0.03
    assert np.median(env[rest]) == pytest.approx(blocks[-1].rest[0], rel=0.35)
    assert blocks[-1].quality[0].mains_rms is not None and not blocks[-1].quality[0].flat


def test_tap_marks_a_flat_line_and_a_clipped_channel():
    fs = 1000.0
    rng = np.random.default_rng(2)
    x = rng.normal(0, 5, (8000, 2)).astype(np.float32)
    x[5000:, 0] = 0.0  # lead off on EMG1
    x[6000:, 1] = np.clip(x[6000:, 1] * 40, -100, 100)  # EMG2 driven into the rails
    det = Detector(profile("night"))
    tap = DisplayTap(det)
    last = None
    for k in range(0, 8000, 100):
        frame = Frame(x[k : k + 100], k, fs, ("EMG1", "EMG2"))
        det.process(frame)
        out = tap.process(frame)
        last = out[-1] if out else last
    assert last is not None
    assert last.quality[0].flat and not last.quality[1].flat
    assert last.quality[1].clipped_percent > 5 and last.quality[0].clipped_percent == 0


# -- markers and the log -------------------------------------------------------------------------


def test_marker_is_an_annotation_and_refuses_empty_text():
    ann = marker(12.3456789, "  left   calf ")
    assert ann == Annotation(12.345679, 0.0, "left calf", None)
    with pytest.raises(ValueError):
        marker(1.0, "   ")
    with pytest.raises(ValueError):
        marker(-1.0, "x")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_live_log_keeps_the_public_columns_and_adds_marker_rows(tmp_path, suffix):
    rec = simulate("fasciculation", 10.0, fs=2000.0, seed=1, channels=1)
    det = Detector(profile("night"))
    episodes = [e for f in rec.frames(1000) for e in det.process(f)] + det.flush()
    assert episodes
    path = tmp_path / f"log{suffix}"
    with LiveEpisodeLog(path) as log:
        log.fs = 2000.0
        log.add_episodes(episodes[:1])
        log.annotate(marker(4.5, "stretching"))
        log.add_episodes(episodes[1:])
    assert (path.stat().st_mode & 0o777) == 0o600
    if suffix == ".csv":
        with path.open() as fh:
            header = next(csv.reader(fh))
        assert tuple(header[:8]) == COLUMNS[:8] and tuple(header) == LIVE_COLUMNS
    else:
        first = json.loads(path.read_text().splitlines()[0])
        assert tuple(first) == LIVE_COLUMNS
    rows = read_episode_log(path)
    assert [r["kind"] for r in rows].count(MARKER) == 1 and len(rows) == len(episodes) + 1
    mark = rows[1]
    assert mark["kind"] == MARKER and mark["label"] == "stretching" and mark["channel"] == ""
    assert mark["onset_s"] == 4.5 and mark["detected_s"] == 4.5 and math.isnan(mark["peak"])
    assert int(mark["onset_sample"]) == 9000
    kinds = {e.kind for e in events_from_log(path)}
    assert kinds >= {"fasciculation", MARKER}
