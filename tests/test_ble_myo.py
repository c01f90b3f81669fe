"""Myo armband decoder: notification size, characteristics, rotation-based loss counting."""

from __future__ import annotations

import numpy as np
import pytest

from emgspasm import ProtocolError
from emgspasm.sources.ble.profiles import MyoProfile
from emgspasm.sources.ble.profiles.myo import EMG_CHARACTERISTICS, set_sleep_mode_command


def _notification(k: int) -> bytes:
    return bytes((k + c) % 256 for c in range(16))


def test_samples_are_int8_in_two_rows() -> None:
    packet = MyoProfile().decoder().decode(bytes([0x80, 0x7F] + [0] * 14))
    assert packet.samples.shape == (2, 8) and packet.samples[0, 0] == -128
    assert packet.samples[0, 1] == 127 and packet.extra["slot"] is None


def test_without_rotation_check_notifications_are_simply_consecutive() -> None:
    decoder = MyoProfile().decoder()
    starts = [
        decoder.decode(_notification(k), characteristic=EMG_CHARACTERISTICS[0]).start
        for k in range(4)
    ]
    assert starts == [0, 2, 4, 6]


def test_rotation_check_counts_lost_notifications() -> None:
    decoder = MyoProfile(check_rotation=True).decoder()
    slots = [0, 1, 2, 3, 0, 3, 0]  # after the second 0, slots 1 and 2 are missing
    out = [
        decoder.decode(_notification(k), characteristic=EMG_CHARACTERISTICS[s].upper())
        for k, s in enumerate(slots)
    ]
    assert [p.start for p in out] == [0, 2, 4, 6, 8, 14, 16]
    assert [p.gap_before for p in out] == [0, 0, 0, 0, 0, 4, 0]
    assert out[5].extra["lost_packets"] == 2


@pytest.mark.parametrize("data", [b"", bytes(15), bytes(17), bytes(32)])
def test_wrong_length_raises(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        MyoProfile().decoder().decode(data)


def test_unknown_characteristic_raises() -> None:
    with pytest.raises(ProtocolError):
        MyoProfile().decoder().decode(
            bytes(16), characteristic="d5060402-a904-deb9-4748-2c7f4a124842"
        )
    with pytest.raises(ProtocolError):
        MyoProfile(check_rotation=True).decoder().decode(bytes(16))


def test_start_keeps_the_armband_awake_and_stop_restores_it() -> None:
    profile = MyoProfile()
    start = [w.data for w in profile.start_writes()]
    stop = [w.data for w in profile.stop_writes()]
    assert start == [set_sleep_mode_command(1), bytes([1, 3, 3, 0, 0])]
    assert stop == [bytes([1, 3, 0, 0, 0]), set_sleep_mode_command(0)]
    assert set_sleep_mode_command(1) == bytes([0x09, 1, 1])
    assert profile.channels == tuple(f"ch{k}" for k in range(1, 9))
    frame = MyoProfile().decoder().decode(bytes(16)).to_frame(profile.fs, profile.channels)
    assert frame is not None and frame.samples.dtype == np.float32
