"""A million damaged notifications through every Bluetooth decoder (slow run).

Hypothesis (``test_ble_fuzz.py``) explores cleverly but slowly; this pushes volume from a seeded
NumPy generator: pure random bytes of any length up to 600, valid notifications truncated, with
one to three bits flipped, oversized (junk appended, up to 1 KiB), and a valid notification of the
stream every few packets so the decoder moves through its states. For every notification:

- the decoder returns a sane :class:`DecodedPacket` or raises ProtocolError, nothing else;
- when it raises, its state is exactly what it was before (compared field by field);
- every valid notification is accepted, whatever garbage came before it;
- no single call takes longer than :data:`CALL_LIMIT_S` (a hang would show here).

For the bridge, whose packets carry a CRC, no mangled packet may be accepted and the valid ones
must be placed exactly where a decoder that never saw the garbage places them. The default run
pushes :data:`QUICK_PACKETS` per decoder; ``python -m pytest -m slow tests/test_fuzz_decoders.py
-s`` pushes :data:`BULK_PACKETS` and prints the count and time per decoder.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from emgspasm import ProtocolError
from emgspasm.sources.ble.packet import DecodedPacket
from emgspasm.sources.ble.profiles import (
    BridgeProfile,
    GanglionProfile,
    MyoProfile,
    MyoWareProfile,
)
from emgspasm.sources.ble.profiles.bridge_control import StreamInfo
from emgspasm.sources.ble.profiles.bridge_wire import encode_packet
from emgspasm.sources.ble.profiles.myo import EMG_CHARACTERISTICS

BULK_PACKETS = 1_000_000
QUICK_PACKETS = 5_000
CALL_LIMIT_S = 0.5
VALID_SHARE = 0.15
"""Share of notifications that are valid continuations of the stream."""


def state(decoder: object) -> bytes:
    """The decoder's whole state, by value (its counters, trackers, last samples, buffers)."""
    return pickle.dumps(decoder, protocol=5)


# -- valid streams ------------------------------------------------------------------------------


def bridge_stream(rng: np.random.Generator) -> Iterator[bytes]:
    """Valid bridge packets of two channels, with an occasional jump (lost packets)."""
    sequence, first = int(rng.integers(0, 2**16)), int(rng.integers(0, 2**32))
    while True:
        n = int(rng.integers(1, 60))
        codes = rng.integers(0, 4096, (n, 2))
        yield encode_packet(codes, sequence=sequence, first_sample=first, battery=80)
        skip = int(rng.integers(0, 3)) if rng.random() < 0.05 else 0
        sequence = (sequence + 1 + skip) % 2**16
        first = (first + n + 40 * skip) % 2**32


def ganglion_stream(rng: np.random.Generator, firmware: int) -> Iterator[bytes]:
    """Valid Ganglion sample packets in id order, with impedance and text now and then."""
    pid = 0
    while True:
        roll = rng.random()
        if roll < 0.03:
            yield (
                bytes([int(rng.integers(201, 206))])
                + str(int(rng.integers(0, 10**6))).encode()
                + b"Z"
            )
            continue
        if roll < 0.05:
            yield bytes([int(rng.choice([206, 207]))]) + b"ok go\n"
            continue
        yield bytes([pid]) + rng.bytes(19)
        if firmware == 2:
            pid = (pid + 1) % 201
        else:
            pid = (pid + 1) % 200


def myo_stream(rng: np.random.Generator) -> Iterator[bytes]:
    while True:
        yield rng.bytes(16)


def myoware_stream(rng: np.random.Generator, variant: str) -> Iterator[bytes]:
    while True:
        env, raw = rng.uniform(0, 4095, 2)
        if variant == "shield":
            yield f"{env:.2f}".encode()
        else:
            yield f"{env:.2f},{raw:.2f}\n".encode()


# -- the decoders under test --------------------------------------------------------------------


@dataclass
class Target:
    """A decoder, how to call it, and the valid notifications of its stream."""

    name: str
    make: Callable[[], object]
    stream: Callable[[np.random.Generator], Iterator[bytes]]
    checksummed: bool = False
    """Whether every mangled notification must be refused (the bridge's CRC)."""
    calls: dict[str, int] = field(default_factory=dict)


def _myo_call(decoder, data: bytes, k: int, rng: np.random.Generator, valid: bool) -> DecodedPacket:
    """A Myo notification arrives on one of four characteristics; damaged ones may also come
    with none or a wrong one."""
    roll = 1.0 if valid else rng.random()
    if roll < 0.01:
        characteristic = None
    elif roll < 0.02:
        characteristic = "00002a19-0000-1000-8000-00805f9b34fb"
    else:
        characteristic = EMG_CHARACTERISTICS[k % 4]
    return decoder.decode(data, characteristic=characteristic)


TARGETS = {
    "bridge": Target(
        "bridge",
        lambda: BridgeProfile(StreamInfo(channels=2, rate_hz=1000, nv_per_count=805)).decoder(),
        bridge_stream,
        checksummed=True,
    ),
    "myo": Target("myo", lambda: MyoProfile(check_rotation=True).decoder(), myo_stream),
    "ganglion-fw2": Target(
        "ganglion-fw2",
        lambda: GanglionProfile(firmware=2).decoder(),
        lambda r: ganglion_stream(r, 2),
    ),
    "ganglion-fw3": Target(
        "ganglion-fw3",
        lambda: GanglionProfile(firmware=3).decoder(),
        lambda r: ganglion_stream(r, 3),
    ),
    "myoware-shield": Target(
        "myoware-shield",
        lambda: MyoWareProfile(variant="shield").decoder(),
        lambda r: myoware_stream(r, "shield"),
    ),
    "myoware-uart": Target(
        "myoware-uart",
        lambda: MyoWareProfile(variant="uart").decoder(),
        lambda r: myoware_stream(r, "uart"),
    ),
}


def mangle(
    rng: np.random.Generator, roll: float, valid: bytes, flips_max: int
) -> tuple[str, bytes]:
    """One damaged notification (its kind chosen by ``roll`` in [0, 1)): kind and bytes."""
    if roll < 0.3:
        return "random", rng.bytes(int(rng.integers(0, 601)))
    if roll < 0.5:
        return "truncated", valid[: int(rng.integers(0, len(valid)))]
    if roll < 0.8:
        out = bytearray(valid)
        bits = np.unique(rng.integers(0, 8 * len(out), int(rng.integers(1, flips_max + 1))))
        for bit in bits.tolist():
            out[bit // 8] ^= 1 << (bit % 8)
        return "flipped", bytes(out)
    return "oversized", valid + rng.bytes(int(rng.integers(1, 1025)))


def check_packet(packet: object) -> None:
    assert isinstance(packet, DecodedPacket)
    assert packet.samples.dtype == np.float32 and packet.samples.ndim == 2
    assert np.isfinite(packet.samples).all()
    assert packet.start >= 0 and packet.gap_before >= 0
    assert packet.n > 0 or packet.gap_before == 0


def run(target: Target, count: int, seed: int) -> dict[str, int]:
    """Push ``count`` notifications through a fresh decoder; returns counts by outcome."""
    rng = np.random.default_rng(seed)
    decoder = target.make()
    twin = target.make() if target.checksummed else None
    stream = target.stream(rng)
    recent: list[bytes] = [next(stream) for _ in range(8)]
    counts = {"valid": 0, "accepted": 0, "refused": 0}
    flips_max = 3 if target.checksummed else 8  # CRC-16/CCITT catches every 1..3-bit error
    host_time = 1000.0
    slowest = 0.0
    block = 4096
    for k in range(count):
        if k % block == 0:  # scalar draws in bulk: one generator call per block
            rolls = rng.random((block, 3)).tolist()
        valid_roll, kind_roll, pick_roll = rolls[k % block]
        host_time += 0.001 + 0.02 * pick_roll
        if valid_roll < VALID_SHARE:
            kind, data = "valid", next(stream)
            recent[k % len(recent)] = data
        else:
            source = recent[int(pick_roll * len(recent))]
            kind, data = mangle(rng, kind_roll, source, flips_max)
        before = state(decoder)
        t0 = time.perf_counter()
        try:
            if target.name == "myo":
                packet = _myo_call(decoder, data, k, rng, kind == "valid")
            else:
                packet = decoder.decode(data, host_time=host_time)
        except ProtocolError as exc:
            slowest = max(slowest, time.perf_counter() - t0)
            assert kind != "valid", f"valid {data!r} refused: {exc}"
            assert state(decoder) == before, f"state changed by refused {kind} {data!r}"
            assert str(exc), "a ProtocolError must say what is wrong"
            counts["refused"] += 1
            continue
        slowest = max(slowest, time.perf_counter() - t0)
        check_packet(packet)
        if kind == "valid":
            counts["valid"] += 1
            if twin is not None:
                alone = twin.decode(data)
                assert (packet.start, packet.gap_before) == (alone.start, alone.gap_before)
        else:
            assert not target.checksummed, f"mangled ({kind}) bridge packet accepted: {data!r}"
            counts["accepted"] += 1
    assert slowest < CALL_LIMIT_S, f"one notification took {slowest:.3f} s"
    counts["slowest_us"] = int(slowest * 1e6)
    return counts


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_decoder_quick(name: str) -> None:
    counts = run(TARGETS[name], QUICK_PACKETS, seed=1)
    assert counts["refused"] > QUICK_PACKETS // 3


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_decoder_million(name: str) -> None:
    start = time.perf_counter()
    counts = run(TARGETS[name], BULK_PACKETS, seed=2024)
    elapsed = time.perf_counter() - start
    print(
        f"\ndecoder fuzz {name}: {BULK_PACKETS} notifications in {elapsed:.1f} s "
        f"({counts['valid']} valid accepted, {counts['accepted']} damaged accepted, "
        f"{counts['refused']} refused with ProtocolError; slowest call {counts['slowest_us']} us)"
    )
    assert counts["refused"] > BULK_PACKETS // 3
