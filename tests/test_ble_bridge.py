"""The emgspasm bridge protocol in Python: exact bytes, checks, info, commands and placement."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emgspasm import ProtocolError
from emgspasm.sources.ble.profiles import BridgeProfile
from emgspasm.sources.ble.profiles import bridge_control as ctl
from emgspasm.sources.ble.profiles.bridge_wire import (
    Flag,
    crc16,
    decode_packet,
    encode_packet,
    max_samples_per_packet,
    packet_size,
)


def reference_crc(data: bytes) -> int:
    """CRC-16/CCITT-FALSE written out bit by bit, independently of binascii."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", reference_crc(body))


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1 == reference_crc(b"123456789")


def test_packet_bytes_spelled_out() -> None:
    codes = np.array([[0x123, 0xABC], [0x001, 0xFFF]])
    data = encode_packet(
        codes,
        sequence=0x0102,
        first_sample=0x01020304,
        flags=Flag.SATURATED | Flag.STREAM_START,
        battery=87,
    )
    header = bytes([1, 0x11, 0x02, 0x01, 0x04, 0x03, 0x02, 0x01, 2, 2, 87, 0])
    payload = bytes([0x23, 0xC1, 0xAB, 0x01, 0xF0, 0xFF])
    assert data == with_crc(header + payload)


def test_odd_value_count_takes_two_bytes_with_zero_padding() -> None:
    data = encode_packet(np.array([[0xFED, 0x010, 0x987]]), sequence=0, first_sample=0)
    header = bytes([1, 0, 0, 0, 0, 0, 0, 0, 1, 3, 0xFF, 0])
    assert data == with_crc(header + bytes([0xED, 0x0F, 0x01, 0x87, 0x09]))
    assert decode_packet(data).codes.tolist() == [[0xFED, 0x010, 0x987]]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.lists(
                st.lists(st.integers(0, 4095), min_size=c, max_size=c),
                min_size=1,
                max_size=min(255, 330 // c),
            ),
        )
    ),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 0x1F),
    st.one_of(st.none(), st.integers(0, 100)),
)
def test_encode_decode_roundtrip(shape_codes, sequence, first, flags, battery) -> None:
    _, rows = shape_codes
    codes = np.array(rows)
    packet = decode_packet(
        encode_packet(codes, sequence=sequence, first_sample=first, flags=flags, battery=battery)
    )
    np.testing.assert_array_equal(packet.codes, codes)
    assert (packet.sequence, packet.first_sample, int(packet.flags), packet.battery) == (
        sequence,
        first,
        flags,
        battery,
    )


@pytest.mark.parametrize(
    ("mtu", "channels", "n"),
    [
        (23, 1, 4),
        (23, 2, 2),
        (23, 4, 1),
        (23, 8, 0),
        (185, 1, 112),
        (247, 1, 153),
        (247, 4, 38),
        (517, 1, 255),
        (517, 4, 83),
        (517, 8, 41),
        (2, 1, 0),
    ],
)
def test_max_samples_per_packet(mtu: int, channels: int, n: int) -> None:
    assert max_samples_per_packet(mtu, channels) == n
    if n:
        size = len(encode_packet(np.zeros((n, channels)), sequence=0, first_sample=0))
        assert size <= mtu - 3
        if n < 255:
            assert packet_size(n + 1, channels) > min(mtu - 3, 512)


def _good() -> bytes:
    return encode_packet(np.array([[1, 2], [3, 4], [5, 6]]), sequence=1, first_sample=2)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("empty", lambda: b""),
        ("short", lambda: _good()[:13]),
        ("version 2", lambda: with_crc(bytes([2]) + _good()[1:-2])),
        ("reserved flag", lambda: with_crc(_good()[:1] + bytes([0x20]) + _good()[2:-2])),
        ("reserved byte", lambda: with_crc(_good()[:11] + bytes([1]) + _good()[12:-2])),
        ("no samples", lambda: with_crc(_good()[:8] + bytes([0]) + _good()[9:-2])),
        ("nine channels", lambda: with_crc(_good()[:9] + bytes([9]) + _good()[10:-2])),
        ("one byte too many", lambda: with_crc(_good()[:-2] + b"\x00")),
        ("one byte too few", lambda: with_crc(_good()[:-3])),
        ("checksum", lambda: _good()[:-1] + bytes([_good()[-1] ^ 1])),
        ("battery 150", lambda: with_crc(_good()[:10] + bytes([150]) + _good()[11:-2])),
        (
            "padding",
            lambda: with_crc(
                encode_packet(np.array([[7]]), sequence=0, first_sample=0)[:-3] + bytes([0x10])
            ),
        ),
    ],
)
def test_malformed_packets_raise_protocol_error(name: str, make) -> None:
    with pytest.raises(ProtocolError):
        decode_packet(make())


def test_encoder_refuses_what_the_protocol_cannot_carry() -> None:
    for codes in (np.zeros((0, 1)), np.zeros((1, 9)), np.zeros((256, 1)), np.array([[4096]])):
        with pytest.raises(ValueError):
            encode_packet(codes, sequence=0, first_sample=0)
    with pytest.raises(ValueError):
        encode_packet(np.zeros((1, 1)), sequence=0, first_sample=0, flags=0x40)
    with pytest.raises(ValueError):
        encode_packet(np.zeros((1, 1)), sequence=0, first_sample=0, battery=101)


# -- info and control -----------------------------------------------------------------------------


def test_info_roundtrip_and_bytes() -> None:
    info = ctl.StreamInfo(
        channels=2, rate_hz=1000, lead_off_wired=True, zero_code=2051, nv_per_count=4029
    )
    data = info.encode()
    assert data == bytes([1, 2, 0xE8, 0x03, 12, 1, 0x03, 0x08]) + struct.pack(
        "<IHH", 4029, 500, 2000
    )
    assert ctl.StreamInfo.decode(data) == info
    profile = BridgeProfile.from_info_bytes(data)
    assert (profile.fs, profile.channels, profile.units) == (1000.0, ("EMG1", "EMG2"), "uV")
    assert BridgeProfile(ctl.StreamInfo(channels=1, rate_hz=500)).units == "counts"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(15),
        bytes([2]) + bytes(15),
        bytes([1, 0]) + bytes(14),
        bytes([1, 1, 0xE8, 3, 12, 4]) + bytes(10),
        bytes([1, 1, 0, 0, 12, 0]) + bytes(10),
        bytes([1, 1, 0xE8, 3, 12, 0, 0x00, 0x10]) + bytes(8),
    ],
)
def test_bad_info_raises(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        ctl.StreamInfo.decode(data)


def test_commands() -> None:
    assert ctl.encode_command(ctl.Opcode.START) == b"\x01"
    assert ctl.encode_command(ctl.Opcode.STOP) == b"\x02"
    assert ctl.encode_command(ctl.Opcode.SET_RATE, 1000) == b"\x03\xe8\x03"
    assert ctl.encode_command(ctl.Opcode.SET_LATENCY, 20) == b"\x04\x14\x00"
    assert [r for r in range(500, 2001) if ctl.rate_supported(r)] == [
        500,
        625,
        800,
        1000,
        1250,
        1600,
        2000,
    ]
    for bad in (
        (ctl.Opcode.SET_RATE, 700),
        (ctl.Opcode.SET_RATE, 4000),
        (ctl.Opcode.SET_LATENCY, 1),
        (ctl.Opcode.SET_RATE, None),
    ):
        with pytest.raises(ValueError):
            ctl.encode_command(*bad)
    assert ctl.parse_command(b"\x03\xe8\x03") == (3, 1000, ctl.Status.OK)
    assert ctl.parse_command(b"\x03\xbc\x02")[2] is ctl.Status.BAD_VALUE
    assert ctl.parse_command(b"\x01\x00")[2] is ctl.Status.BAD_LENGTH
    assert ctl.parse_command(b"\x09")[2] is ctl.Status.UNKNOWN_COMMAND
    assert ctl.parse_command(b"")[2] is ctl.Status.BAD_LENGTH
    assert ctl.decode_reply(ctl.encode_reply(3, ctl.Status.BUSY)) == (3, ctl.Status.BUSY)
    for bad in (b"\x03", b"\x03\x09", b"\x03\x00\x00"):
        with pytest.raises(ProtocolError):
            ctl.decode_reply(bad)
    profile = BridgeProfile(ctl.StreamInfo(channels=1, rate_hz=1000))
    assert [w.data for w in profile.start_writes()] == [b"\x01"]
    assert [w.characteristic for w in profile.stop_writes()] == [ctl.CONTROL_CHARACTERISTIC]
    assert profile.rate_write(2000).data == b"\x03\xd0\x07"


# -- decoder: placement and loss accounting -------------------------------------------------------


def _decoder(channels: int = 1, nv: int = 0):
    return BridgeProfile(ctl.StreamInfo(channels=channels, rate_hz=1000, nv_per_count=nv)).decoder()


def _packet(seq: int, first: int, n: int = 4, channels: int = 1, flags: int = 0) -> bytes:
    codes = (np.arange(n * channels).reshape(n, channels) + first) % 4096
    return encode_packet(codes, sequence=seq, first_sample=first, flags=flags)


def test_decoder_places_packets_and_marks_losses() -> None:
    decoder = _decoder()
    a = decoder.decode(_packet(0, 0, flags=Flag.STREAM_START))
    b = decoder.decode(_packet(1, 4))
    c = decoder.decode(_packet(3, 12))  # packet 2 (samples 8..11) lost
    d = decoder.decode(_packet(4, 20, flags=Flag.OVERFLOW))  # device dropped 16..19
    assert [(p.start, p.gap_before, p.extra["lost_packets"]) for p in (a, b, c, d)] == [
        (0, 0, 0),
        (4, 0, 0),
        (12, 4, 1),
        (20, 4, 0),
    ]
    assert "stream_start" in a.flags and "overflow" in d.flags
    assert decoder.lost_samples == 8
    assert sum(p.gap_before + p.n for p in (a, b, c, d)) == d.stop


def test_decoder_follows_both_counters_across_wrap_around() -> None:
    decoder = _decoder()
    first = 2**32 - 10
    seqs = [65534, 65535, 0, 2]  # 1 lost after the wrap
    starts = [first, first + 4, first + 8, first + 16]
    packets = [decoder.decode(_packet(s, i % 2**32)) for s, i in zip(seqs, starts, strict=True)]
    assert [p.start for p in packets] == starts
    assert [p.gap_before for p in packets] == [first, 0, 0, 4]
    assert packets[-1].extra["lost_packets"] == 1


def test_decoder_rejects_inconsistent_packets_and_keeps_its_state() -> None:
    decoder = _decoder()
    decoder.decode(_packet(0, 0))
    decoder.decode(_packet(1, 4))
    with pytest.raises(ProtocolError, match="backwards"):
        decoder.decode(_packet(2, 0))  # duplicate data
    with pytest.raises(ProtocolError, match="lost"):
        decoder.decode(_packet(5, 8))  # 3 packets lost but the index did not move
    with pytest.raises(ProtocolError, match="channels"):
        decoder.decode(_packet(2, 8, channels=2))
    with pytest.raises(ProtocolError, match="restarted"):
        decoder.decode(_packet(0, 0, flags=Flag.STREAM_START))
    assert decoder.decode(_packet(2, 8)).start == 8


def test_decoder_converts_to_microvolts_around_the_zero_code() -> None:
    decoder = BridgeProfile(
        ctl.StreamInfo(channels=2, rate_hz=1000, zero_code=2000, nv_per_count=4000)
    ).decoder()
    packet = decoder.decode(
        encode_packet(np.array([[2000, 2010], [1990, 4095]]), sequence=0, first_sample=0)
    )
    np.testing.assert_allclose(packet.samples, [[0, 40], [-40, 2095 * 4]])
    frame = packet.to_frame(1000.0, ("EMG1", "EMG2"))
    assert frame is not None and frame.start == 0 and frame.samples.dtype == np.float32
    counts = _decoder(channels=1).decode(_packet(0, 0))
    np.testing.assert_array_equal(counts.samples[:, 0], np.arange(4) - 2048)
