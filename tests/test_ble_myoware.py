"""MyoWare 2.0 Wireless Shield: ASCII readings, and resampling at host arrival times."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emgspasm import ProtocolError
from emgspasm.sources.ble import ArrivalResampler
from emgspasm.sources.ble.profiles import MyoWareProfile
from emgspasm.sources.ble.profiles.myoware import parse_reading, parse_uart_line


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"1523.00", 1523.0),
        (b"-12.00", -12.0),
        (b"0.35", 0.35),
        (b"7", 7.0),
        (b"4095.00\r\n", 4095.0),
    ],
)
def test_readings(data: bytes, value: float) -> None:
    assert parse_reading(data) == value


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" 12.00",
        b"12.00 ",
        b"1e3",
        b"nan",
        b"inf",
        b"12,5",
        b"1.2.3",
        b"12\x00",
        b"\xff",
        b"-9999.00",
        b"+",
        b".5",
        b"1234567890123",
    ],
)
def test_bad_readings_raise(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_reading(data)


def test_uart_lines() -> None:
    assert parse_uart_line(b"1523.00,-12.00\n") == (1523.0, -12.0)
    assert parse_uart_line(b"3.00,4.00\r\n") == (3.0, 4.0)
    for bad in (b"1523.00,-12.00", b"1523.00\n", b"1,2,3\n", b"-9999.00,1.00\n", b"1,2\n3,4\n"):
        with pytest.raises(ProtocolError):
            parse_uart_line(bad)


def test_regular_readings_resample_to_the_same_values() -> None:
    profile = MyoWareProfile(fs=100.0)
    decoder = profile.decoder()
    out = [decoder.decode(f"{k}.00".encode(), host_time=5.0 + k / 100) for k in range(50)]
    samples = np.concatenate([p.samples[:, 0] for p in out])
    np.testing.assert_allclose(samples, np.arange(samples.size), atol=1e-3)
    assert out[0].start == 0 and sum(p.n for p in out) == out[-1].stop
    assert profile.channels == ("ENV",) and profile.units == "counts"


def test_irregular_readings_interpolate_between_arrivals_only() -> None:
    res = ArrivalResampler(fs=10.0, channels=1)
    assert res.push(0.0, [0.0]).samples.tolist() == [[0.0]]
    assert res.push(0.05, [5.0]).samples.size == 0  # no grid point in (0, 0.05]
    out = res.push(0.25, [25.0])  # grid points 0.1 and 0.2 lie between 0.05 and 0.25
    np.testing.assert_allclose(out.samples[:, 0], [10.0, 20.0])
    assert (out.start, out.gap_before) == (1, 0)


def test_a_long_silence_is_a_gap_not_a_ramp() -> None:
    res = ArrivalResampler(fs=10.0, channels=1, max_gap_s=0.25)
    res.push(0.0, [0.0])
    res.push(0.1, [1.0])
    silent = res.push(1.05, [9.0])  # 0.95 s without a reading: 0.2 .. 1.0 are unknown
    assert silent.samples.size == 0
    after = res.push(1.15, [10.0])
    assert (after.start, after.gap_before) == (11, 9)
    np.testing.assert_allclose(after.samples[:, 0], [9.5])
    on_grid = ArrivalResampler(fs=10.0, channels=1, max_gap_s=0.25)
    on_grid.push(0.0, [0.0])
    landing = on_grid.push(1.0, [7.0])  # the new reading falls on a grid point
    assert (landing.start, landing.gap_before, landing.samples.tolist()) == (10, 9, [[7.0]])


def test_simultaneous_arrivals_keep_the_last_reading_and_are_counted() -> None:
    decoder = MyoWareProfile(variant="uart", fs=10.0).decoder()
    decoder.decode(b"1.00,2.00\n", host_time=0.0)
    merged = decoder.decode(b"3.00,4.00\n", host_time=0.0)
    assert merged.n == 0 and merged.extra["merged"] == 1
    out = decoder.decode(b"5.00,6.00\n", host_time=0.1)
    np.testing.assert_allclose(out.samples, [[5.0, 6.0]])


def test_host_time_is_required_and_must_not_run_backwards() -> None:
    decoder = MyoWareProfile().decoder()
    with pytest.raises(ValueError):
        decoder.decode(b"1.00")
    decoder.decode(b"1.00", host_time=10.0)
    with pytest.raises(ProtocolError):
        decoder.decode(b"2.00", host_time=9.0)
    with pytest.raises(ProtocolError):
        decoder.decode(b"2.00", host_time=float("nan"))
    assert decoder.decode(b"2.00", host_time=10.01).start == 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0.0, 0.4), min_size=1, max_size=80), st.sampled_from([50.0, 100.0]))
def test_grid_is_covered_exactly_once(intervals: list[float], fs: float) -> None:
    """Whatever the arrival pattern, every grid point up to the last reading is either produced
    once, in order, or counted in a gap; never both, never twice."""
    res = ArrivalResampler(fs=fs, channels=1, max_gap_s=0.25)
    t, produced, gaps, end = 100.0, 0, 0, 0
    out = res.push(t, [0.0])
    produced += out.samples.shape[0]
    end = out.start + out.samples.shape[0]
    for dt in intervals:
        t += dt
        out = res.push(t, [dt])
        if out.samples.shape[0]:
            assert out.start == end + out.gap_before
            end = out.start + out.samples.shape[0]
            gaps += out.gap_before
            produced += out.samples.shape[0]
        else:
            assert out.gap_before == 0
    assert produced + gaps == end
    assert end <= int((t - 100.0) * fs + 1e-9) + 1
