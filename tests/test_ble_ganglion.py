"""OpenBCI Ganglion decoder: firmware 2 delta chains, firmware 3 truncated samples, placement.

The packet streams here are produced the way the Ganglion firmware source produces them
(OpenBCI_Ganglion_Library before and after commit 176414f): which sample goes into which packet
id, how the sign is moved into the field's least significant bit, and which sample firmware 3
never sends.
"""

from __future__ import annotations

import numpy as np
import pytest

from emgspasm import ProtocolError
from emgspasm.sources.ble.profiles import GanglionProfile
from emgspasm.sources.ble.profiles.ganglion import UV_PER_COUNT


def pack_fields(values: list[int], bits: int) -> bytes:
    """Eight fields as the firmware packs them: sign in bit 0, big-endian bit string."""
    stream = 0
    for v in values:
        stream = (stream << bits) | (v % (1 << bits))
    return stream.to_bytes(bits, "big")


def sign_in_lsb(v: int) -> int:
    """What the firmware's ``bitWrite(x, 0, sign)`` makes of a value."""
    return (v & ~1) | (1 if v < 0 else 0)


def fw2_packets(samples: np.ndarray, bits: int = 18, accel: int = 5) -> list[tuple[int, bytes]]:
    """(first sample index, packet) as firmware 2 sends ``samples`` (n, 4) from counter 0."""
    out: list[tuple[int, bytes]] = []
    counter, ring, last = 0, 0, None
    pending: list[int] = []
    for i, sample in enumerate(samples):
        sample = [int(v) for v in sample]
        if counter == 0:
            body = b"".join((v % (1 << 24)).to_bytes(3, "big") for v in sample)
            out.append((i, bytes([0]) + body + b"ABCDEFG"))
            ring = 1
        else:
            pending += [sign_in_lsb(a - b) for a, b in zip(last, sample, strict=True)]
            if counter % 2 == 0:
                pid = ring if bits == 18 else ring + 100
                tail = bytes([accel]) if bits == 18 else b""
                out.append((i - 1, bytes([pid]) + pack_fields(pending, bits) + tail))
                pending, ring = [], ring + 1
        last = sample
        counter = 0 if counter == 200 else counter + 1
    return out


def fw3_packets(samples: np.ndarray, bits: int = 18) -> list[tuple[int, bytes]]:
    """(first sample index, packet) as firmware 3 sends ``samples``: sample 200 of every cycle
    of 201 is never sent."""
    shift = 24 - bits
    out: list[tuple[int, bytes]] = []
    pending: list[int] = []
    for i, sample in enumerate(samples):
        counter = i % 201
        if counter == 200:
            pending = []
            continue
        pending += [sign_in_lsb(int(v) >> shift) for v in sample]
        if counter % 2 == 1:
            pid = counter // 2 + (0 if bits == 18 else 100)
            tail = bytes([0]) if bits == 18 else b""
            out.append((i - 1, bytes([pid]) + pack_fields(pending, bits) + tail))
            pending = []
    return out


def fw3_expected(samples: np.ndarray, bits: int) -> np.ndarray:
    shift = 24 - bits
    f = np.vectorize(lambda v: sign_in_lsb(int(v) >> shift) << shift)
    return f(samples)


def exact_walk(n: int, seed: int, step: int = 3000) -> np.ndarray:
    """A random walk whose steps survive the firmware's sign-in-LSB rule unchanged."""
    rng = np.random.default_rng(seed)
    deltas = rng.integers(-step, step, size=(n, 4))
    deltas = np.where(deltas < 0, deltas | 1, deltas & ~1)  # negative odd, positive even
    return 1000 - np.cumsum(deltas, axis=0)


def decode_all(decoder, packets):
    return [decoder.decode(p) for _, p in packets]


@pytest.mark.parametrize("bits", [18, 19])
def test_firmware2_rebuilds_every_sample_over_several_cycles(bits: int) -> None:
    samples = exact_walk(520, seed=bits)
    out = decode_all(GanglionProfile(firmware=2).decoder(), fw2_packets(samples, bits))
    counts = np.vstack([p.extra["counts"] for p in out])
    np.testing.assert_array_equal(counts, samples[: counts.shape[0]])
    assert [p.start for p in out] == [i for i, _ in fw2_packets(samples, bits)]
    assert all(p.gap_before == 0 and p.extra["lost_packets"] == 0 for p in out)
    np.testing.assert_allclose(out[5].samples, out[5].extra["counts"] * UV_PER_COUNT, rtol=1e-6)


def test_firmware2_waits_for_an_uncompressed_sample_after_joining_or_losing() -> None:
    samples = exact_walk(700, seed=1)
    packets = fw2_packets(samples)
    decoder = GanglionProfile(firmware=2).decoder()
    joined = packets[30:]  # join mid-cycle: no reference sample yet
    out = [decoder.decode(p) for _, p in joined]
    first_raw = next(k for k, (_, p) in enumerate(joined) if p[0] == 0)
    assert all(p.n == 0 and "unanchored" in p.flags for p in out[:first_raw])
    raw = out[first_raw]
    assert raw.n == 1 and raw.start == raw.gap_before == joined[first_raw][0] - joined[0][0]
    np.testing.assert_array_equal(raw.extra["counts"], samples[joined[first_raw][0]][None, :])

    # now lose one compressed packet: the chain is broken until the next id 0
    decoder = GanglionProfile(firmware=2).decoder()
    kept = packets[:40] + packets[41:]
    out = [decoder.decode(p) for _, p in kept]
    broken = out[40:]
    next_raw = next(k for k, (_, p) in enumerate(kept[40:]) if p[0] == 0)
    assert broken[0].extra["lost_packets"] == 1
    assert all(p.n == 0 for p in broken[:next_raw])
    resumed = broken[next_raw]
    assert resumed.start == kept[40 + next_raw][0]
    assert resumed.gap_before == resumed.start - out[39].stop
    rebuilt = {p.start + k: row for p in out for k, row in enumerate(p.extra["counts"])}
    assert all((samples[i] == row).all() for i, row in rebuilt.items())
    assert sum(p.gap_before + p.n for p in out) == out[-1].stop


@pytest.mark.parametrize("bits", [18, 19])
def test_firmware3_samples_and_the_skipped_sample_of_each_cycle(bits: int) -> None:
    rng = np.random.default_rng(bits)
    samples = rng.integers(-(2**23), 2**23, size=(650, 4))
    packets = fw3_packets(samples, bits)
    out = decode_all(GanglionProfile(firmware=3).decoder(), packets)
    assert [p.start for p in out] == [i for i, _ in packets]
    expected = fw3_expected(samples, bits)
    for packet in out:
        np.testing.assert_array_equal(
            packet.extra["counts"], expected[packet.start : packet.start + 2]
        )
    wraps = [p for p in out if p.gap_before]
    assert [(p.sequence % 100, p.gap_before) for p in wraps] == [(0, 1), (0, 1), (0, 1)]


def test_firmware3_loss_across_the_cycle_wrap() -> None:
    samples = np.zeros((500, 4), dtype=np.int64)
    packets = fw3_packets(samples)
    decoder = GanglionProfile(firmware=3).decoder()
    for _, p in packets[:98]:
        decoder.decode(p)
    packet = decoder.decode(packets[101][1])  # ids 98, 99, 0 lost (+ the sample never sent)
    assert packet.extra["lost_packets"] == 3
    assert (packet.start, packet.gap_before) == (packets[101][0], 2 + 2 + 1 + 2)


def test_accelerometer_byte_of_18_bit_packets() -> None:
    decoder = GanglionProfile(firmware=3).decoder()
    fields = pack_fields([0] * 8, 18)
    assert decoder.decode(bytes([1]) + fields + b"\xfe").extra["accel"] == (0, -2)
    assert decoder.decode(bytes([2]) + fields + b"\x07").extra["accel"] == (1, 7)
    assert "accel" not in decoder.decode(bytes([4]) + fields + b"\x07").extra
    assert "accel" not in decoder.decode(bytes([101]) + pack_fields([0] * 8, 19)).extra


def test_impedance_and_message_packets() -> None:
    decoder = GanglionProfile(firmware=2).decoder()
    z1 = decoder.decode(bytes([201]) + b"123Z\n")
    assert (z1.kind, z1.extra["channel"], z1.extra["kohm"], z1.n) == ("impedance", 1, 123, 0)
    assert decoder.decode(bytes([205]) + b"7Z").extra["channel"] == "ref"
    part = decoder.decode(bytes([206]) + b"OpenBCI Ganglion v3")
    end = decoder.decode(bytes([207]) + b".0.2\n\x00\x00")
    assert (part.kind, part.extra["text"], part.extra["final"]) == (
        "message",
        "OpenBCI Ganglion v3",
        False,
    )
    assert (end.extra["text"], end.extra["final"]) == (".0.2\n", True)
    for bad in (
        bytes([202]) + b"12",
        bytes([202]) + b"Z",
        bytes([203]) + b"1.5Z",
        bytes([206]) + b"\xff\xfe",
    ):
        with pytest.raises(ProtocolError):
            decoder.decode(bad)


@pytest.mark.parametrize(
    ("firmware", "data"),
    [
        (2, bytes([208]) + bytes(19)),
        (2, bytes([255])),
        (2, bytes([5]) + bytes(18)),  # 19 bytes
        (2, bytes([0]) + bytes(20)),  # 21 bytes
        (3, bytes([200]) + bytes(19)),
        (3, b""),
    ],
)
def test_packets_the_firmware_never_sends_raise(firmware: int, data: bytes) -> None:
    with pytest.raises(ProtocolError):
        GanglionProfile(firmware=firmware).decoder().decode(data)


@pytest.mark.parametrize(
    ("revision", "firmware"),
    [
        ("2.0.1", 2),
        ("3.0.2", 3),
        (b"3.0.0\x00", 3),
        ("1.0.0", 2),
        (" v3.0.2 ", 3),
    ],
)
def test_profile_from_software_revision(revision, firmware: int) -> None:
    profile = GanglionProfile.from_software_revision(revision)
    assert profile.firmware == firmware
    assert profile.decoder().firmware == firmware


@pytest.mark.parametrize("revision", ["4.0.0", "abc", "", b"\xff"])
def test_unknown_software_revision_raises(revision) -> None:
    with pytest.raises(ProtocolError):
        GanglionProfile.from_software_revision(revision)


def test_start_and_stop_writes() -> None:
    profile = GanglionProfile()
    assert [w.data for w in profile.start_writes()] == [b"b"]
    assert [w.data for w in profile.stop_writes()] == [b"s"]
    assert profile.channels == ("ch1", "ch2", "ch3", "ch4") and profile.units == "uV"
