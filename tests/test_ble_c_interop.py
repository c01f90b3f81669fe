"""The firmware's portable C (firmware_bridge/src) against the Python side, both directions.

The C files are compiled with the machine's C compiler into a shared library and called through
ctypes: what the firmware packs, the Python decoder must read exactly, and what the Python encoder
(used by the virtual sensor) packs, the firmware's parser must accept and read back. The sender
logic (ring, packet scheduling, flags) runs here exactly as on the device, minus the radio.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

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
)

SRC = Path(__file__).resolve().parents[1] / "firmware_bridge" / "src"
C_FILES = ("emg_packet.c", "emg_control.c", "emg_ring.c", "emg_stream.c")
EMG_OK, EMG_ERR_CRC = 0, -6


class Header(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("first_sample", ctypes.c_uint32),
        ("n_samples", ctypes.c_uint8),
        ("n_channels", ctypes.c_uint8),
        ("battery", ctypes.c_uint8),
    ]


class Info(ctypes.Structure):
    _fields_ = [
        ("n_channels", ctypes.c_uint8),
        ("rate_hz", ctypes.c_uint16),
        ("adc_bits", ctypes.c_uint8),
        ("flags", ctypes.c_uint8),
        ("zero_code", ctypes.c_uint16),
        ("nv_per_count", ctypes.c_uint32),
        ("rate_min_hz", ctypes.c_uint16),
        ("rate_max_hz", ctypes.c_uint16),
    ]


class Command(ctypes.Structure):
    _fields_ = [("opcode", ctypes.c_uint8), ("value", ctypes.c_uint16)]


class Stream(ctypes.Structure):
    _fields_ = [
        ("sequence", ctypes.c_uint16),
        ("next_index", ctypes.c_uint32),
        ("started", ctypes.c_uint8),
        ("n_channels", ctypes.c_uint8),
    ]


class Pending(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_uint32), ("first_index", ctypes.c_uint32)]


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


@pytest.fixture(scope="session")
def lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH: cannot build firmware_bridge/src")
    out = tmp_path_factory.mktemp("emg_c") / "libemg.so"
    cmd = [
        cc,
        "-std=c11",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-fPIC",
        "-shared",
        "-o",
        str(out),
        *(str(SRC / f) for f in C_FILES),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"building the firmware's C failed:\n{result.stderr}"
    lib = ctypes.CDLL(str(out))
    u8p, u16p = ctypes.POINTER(ctypes.c_uint8), ctypes.POINTER(ctypes.c_uint16)
    lib.emg_packet_pack.restype = ctypes.c_size_t
    lib.emg_packet_pack.argtypes = [u8p, ctypes.c_size_t, ctypes.POINTER(Header), u16p]
    lib.emg_packet_unpack.restype = ctypes.c_int
    lib.emg_packet_unpack.argtypes = [
        u8p,
        ctypes.c_size_t,
        ctypes.POINTER(Header),
        u16p,
        ctypes.c_size_t,
    ]
    lib.emg_crc16.restype = ctypes.c_uint16
    lib.emg_crc16.argtypes = [u8p, ctypes.c_size_t]
    lib.emg_packet_max_samples.restype = ctypes.c_uint8
    lib.emg_packet_max_samples.argtypes = [ctypes.c_uint16, ctypes.c_uint8]
    lib.emg_info_pack.restype = ctypes.c_size_t
    lib.emg_info_pack.argtypes = [u8p, ctypes.POINTER(Info)]
    lib.emg_command_parse.restype = ctypes.c_uint8
    lib.emg_command_parse.argtypes = [u8p, ctypes.c_size_t, ctypes.POINTER(Command)]
    lib.emg_ring_footprint.restype = ctypes.c_size_t
    lib.emg_ring_footprint.argtypes = [ctypes.c_uint32, ctypes.c_uint8]
    lib.emg_ring_init.restype = ctypes.c_void_p
    lib.emg_ring_init.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint32, ctypes.c_uint8]
    lib.emg_ring_push.restype = ctypes.c_int
    lib.emg_ring_push.argtypes = [ctypes.c_void_p, ctypes.c_uint32, u16p]
    lib.emg_ring_count.restype = ctypes.c_uint32
    lib.emg_ring_count.argtypes = [ctypes.c_void_p]
    lib.emg_ring_dropped.restype = ctypes.c_uint32
    lib.emg_ring_dropped.argtypes = [ctypes.c_void_p]
    lib.emg_ring_peek_run.restype = ctypes.c_uint32
    lib.emg_ring_peek_run.argtypes = [
        ctypes.c_void_p,
        u16p,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_uint32),
    ]
    lib.emg_ring_consume.restype = None
    lib.emg_ring_consume.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.emg_stream_start.restype = None
    lib.emg_stream_start.argtypes = [ctypes.POINTER(Stream), ctypes.c_uint8]
    lib.emg_stream_build.restype = ctypes.c_size_t
    lib.emg_stream_build.argtypes = [
        ctypes.POINTER(Stream),
        ctypes.c_void_p,
        ctypes.c_uint8,
        ctypes.c_uint32,
        ctypes.c_uint32,
        ctypes.c_uint8,
        ctypes.c_uint8,
        u16p,
        u8p,
        ctypes.c_size_t,
        ctypes.POINTER(Pending),
    ]
    lib.emg_stream_commit.restype = None
    lib.emg_stream_commit.argtypes = [
        ctypes.POINTER(Stream),
        ctypes.c_void_p,
        ctypes.POINTER(Pending),
    ]
    return lib


def _u8(data: bytes):
    return (ctypes.c_uint8 * max(1, len(data))).from_buffer_copy(data or b"\0")


def c_pack(
    lib, codes: np.ndarray, *, sequence: int, first: int, flags: int = 0, battery: int = 0xFF
) -> bytes:
    n, channels = codes.shape
    header = Header(flags, sequence, first, n, channels, battery)
    values = (ctypes.c_uint16 * codes.size)(*codes.ravel().tolist())
    out = (ctypes.c_uint8 * 512)()
    size = lib.emg_packet_pack(out, 512, ctypes.byref(header), values)
    return bytes(out[:size])


def c_unpack(lib, data: bytes) -> tuple[int, Header, np.ndarray]:
    header = Header()
    values = (ctypes.c_uint16 * 2048)()
    rc = lib.emg_packet_unpack(_u8(data), len(data), ctypes.byref(header), values, 2048)
    n = header.n_samples * header.n_channels if rc == EMG_OK else 0
    return rc, header, np.array(values[:n], dtype=np.uint16)


shapes = st.integers(1, 8).flatmap(
    lambda c: st.integers(1, min(255, 330 // c)).flatmap(
        lambda n: st.lists(st.integers(0, 4095), min_size=n * c, max_size=n * c).map(
            lambda v: np.array(v, dtype=np.uint16).reshape(n, c)
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(
    shapes,
    st.integers(0, 65535),
    st.integers(0, 2**32 - 1),
    st.integers(0, 0x1F),
    st.one_of(st.just(0xFF), st.integers(0, 100)),
)
def test_c_packs_what_python_reads(lib, codes, sequence, first, flags, battery) -> None:
    data = c_pack(lib, codes, sequence=sequence, first=first, flags=flags, battery=battery)
    assert data, "the C packer refused a valid packet"
    packet = decode_packet(data)
    np.testing.assert_array_equal(packet.codes, codes)
    assert (packet.sequence, packet.first_sample, int(packet.flags)) == (sequence, first, flags)
    assert packet.battery == (None if battery == 0xFF else battery)
    python = encode_packet(
        codes,
        sequence=sequence,
        first_sample=first,
        flags=flags,
        battery=None if battery == 0xFF else battery,
    )
    assert python == data


@settings(max_examples=150, deadline=None)
@given(shapes, st.integers(0, 65535), st.integers(0, 2**32 - 1), st.data())
def test_python_packs_what_c_reads(lib, codes, sequence, first, data) -> None:
    packet = encode_packet(codes, sequence=sequence, first_sample=first)
    rc, header, values = c_unpack(lib, packet)
    assert rc == EMG_OK
    assert (header.sequence, header.first_sample) == (sequence, first)
    assert (header.n_samples, header.n_channels) == codes.shape
    np.testing.assert_array_equal(values, codes.ravel())
    bit = data.draw(st.integers(0, 8 * len(packet) - 1))
    flipped = bytearray(packet)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert c_unpack(lib, bytes(flipped))[0] != EMG_OK
    with pytest.raises(ProtocolError):
        decode_packet(bytes(flipped))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_crc_agrees(lib, data: bytes) -> None:
    assert lib.emg_crc16(_u8(data), len(data)) == crc16(data)


def test_c_rejects_what_python_rejects(lib) -> None:
    good = encode_packet(np.array([[1, 2, 3]]), sequence=0, first_sample=0)
    assert c_unpack(lib, good)[0] == EMG_OK
    assert c_unpack(lib, good[:-1] + bytes([good[-1] ^ 0x80]))[0] == EMG_ERR_CRC
    for bad in (b"", good[:10], bytes([9]) + good[1:], good + b"\0"):
        assert c_unpack(lib, bad)[0] < 0


def test_max_samples_agree_for_every_mtu(lib) -> None:
    for channels in range(1, 9):
        for mtu in range(0, 600):
            assert lib.emg_packet_max_samples(mtu, channels) == max_samples_per_packet(
                mtu, channels
            ), (mtu, channels)


def test_info_and_commands_agree(lib) -> None:
    info = ctl.StreamInfo(
        channels=3,
        rate_hz=2000,
        lead_off_wired=True,
        streaming=True,
        zero_code=1999,
        nv_per_count=4029,
    )
    c_info = Info(3, 2000, 12, 3, 1999, 4029, 500, 2000)
    out = (ctypes.c_uint8 * 16)()
    assert lib.emg_info_pack(out, ctypes.byref(c_info)) == 16
    assert bytes(out) == info.encode()
    writes = [
        b"",
        b"\x01",
        b"\x01\x00",
        b"\x02",
        b"\x05",
        b"\x03\xe8",
        b"\x04\x00\x00",
        b"\x04\x14\x00",
        b"\x04\xe9\x03",
        b"\x04\xe8\x03",
    ]
    writes += [bytes([3]) + r.to_bytes(2, "little") for r in (499, 500, 640, 800, 2000, 2001)]
    for write in writes:
        cmd = Command()
        status = lib.emg_command_parse(_u8(write), len(write), ctypes.byref(cmd))
        op, value, expected = ctl.parse_command(write)
        assert status == expected, write
        if status == ctl.Status.OK:
            assert (cmd.opcode, cmd.value) == (op, value or 0)


# -- the firmware's sender: ring + scheduling + packing, decoded by the host ----------------------


class Sender:
    """The firmware's send path without the radio, driven from Python."""

    def __init__(self, lib, capacity: int, channels: int, max_samples: int, latency: int):
        self.lib, self.channels = lib, channels
        size = lib.emg_ring_footprint(capacity, channels)
        self.memory = (ctypes.c_uint32 * (size // 4 + 1))()
        self.ring = lib.emg_ring_init(self.memory, ctypes.sizeof(self.memory), capacity, channels)
        assert self.ring
        self.stream = Stream()
        lib.emg_stream_start(ctypes.byref(self.stream), channels)
        self.max_samples, self.latency = max_samples, latency
        self.scratch = (ctypes.c_uint16 * (max_samples * channels))()
        self.out = (ctypes.c_uint8 * 512)()

    def push(self, index: int, values) -> bool:
        frame = (ctypes.c_uint16 * self.channels)(*values)
        return bool(self.lib.emg_ring_push(self.ring, index, frame))

    def send(self, now: int, accept: bool = True, extra_flags: int = 0) -> bytes | None:
        pending = Pending()
        size = self.lib.emg_stream_build(
            ctypes.byref(self.stream),
            self.ring,
            self.max_samples,
            now,
            self.latency,
            extra_flags,
            0xFF,
            self.scratch,
            self.out,
            512,
            ctypes.byref(pending),
        )
        if size == 0:
            return None
        if accept:
            self.lib.emg_stream_commit(ctypes.byref(self.stream), self.ring, ctypes.byref(pending))
        return bytes(self.out[:size])


def test_ring_runs_drops_and_consumption(lib) -> None:
    sender = Sender(lib, capacity=8, channels=2, max_samples=8, latency=1000)
    ring = sender.ring
    for i in range(6):
        assert sender.push(i, (i, 100 + i))
    assert sender.push(10, (10, 110))  # indices 6..9 were never pushed
    assert sender.push(11, (11, 111))
    assert not sender.push(12, (12, 112))  # full
    assert lib.emg_ring_count(ring) == 8 and lib.emg_ring_dropped(ring) == 1
    values = (ctypes.c_uint16 * 16)()
    first = ctypes.c_uint32()
    assert lib.emg_ring_peek_run(ring, values, 8, ctypes.byref(first)) == 6
    assert first.value == 0 and list(values[:12]) == [v for i in range(6) for v in (i, 100 + i)]
    lib.emg_ring_consume(ring, 6)
    assert lib.emg_ring_peek_run(ring, values, 8, ctypes.byref(first)) == 2
    assert first.value == 10


def test_sender_output_decodes_to_the_pushed_indices(lib) -> None:
    """Drops in the ring, a missed sampler tick and a refused notification, end to end."""
    channels, fs = 2, 1000
    sender = Sender(lib, capacity=16, channels=channels, max_samples=5, latency=3)
    decoder = BridgeProfile(ctl.StreamInfo(channels=channels, rate_hz=fs)).decoder()
    pushed: dict[int, tuple[int, int]] = {}
    packets = []
    rng = np.random.default_rng(3)
    index = 0
    for step in range(400):
        if step == 50:
            index += 2  # the sampler missed two ticks
        values = tuple(int(v) for v in rng.integers(1, 4095, channels))
        if sender.push(index, values):
            pushed[index] = values
        index += 1
        if 100 <= step < 130:
            continue  # the radio is busy: nothing sent, the ring overflows
        refused = step % 7 == 0
        data = sender.send(index, accept=not refused)
        if data is not None and not refused:
            packets.append(decoder.decode(data))
    received = {}
    for packet in packets:
        for k, row in enumerate(packet.extra["codes"]):
            received[packet.start + k] = tuple(int(v) for v in row)
    assert received == {i: v for i, v in pushed.items() if i < max(received) + 1}
    missing = set(range(max(received) + 1)) - set(received)
    assert sum(p.gap_before for p in packets) == len(missing) > 0
    assert "stream_start" in packets[0].flags
    assert any("overflow" in p.flags for p in packets)
    assert all(p.n <= 5 for p in packets)


def test_sender_waits_for_a_full_packet_or_the_latency(lib) -> None:
    sender = Sender(lib, capacity=64, channels=1, max_samples=10, latency=4)
    sender.push(0, (2048,))
    assert sender.send(now=1) is None  # one sample, waited 1 < 4
    for i in range(1, 4):
        sender.push(i, (0 if i == 2 else 2048,))
    data = sender.send(now=4, extra_flags=int(Flag.LEAD_OFF_WIRED))
    assert data is not None
    packet = decode_packet(data)
    assert packet.codes.shape == (4, 1)
    assert packet.flags == Flag.STREAM_START | Flag.SATURATED | Flag.LEAD_OFF_WIRED
    for i in range(4, 14):
        sender.push(i, (100,))
    packet = decode_packet(sender.send(now=14))
    assert (packet.sequence, packet.first_sample, packet.codes.shape[0]) == (1, 4, 10)
    assert packet.flags == Flag(0)
