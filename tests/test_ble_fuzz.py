"""Random, truncated, oversized and bit-flipped notifications: decoders raise ProtocolError and
nothing else.

A decoder that meets garbage must say so with :class:`emgspasm.errors.ProtocolError` (which the
client logs and skips) and must not have changed its state, so the stream continues correctly:
every check below compares the decoder's whole state before and after a refused notification.
The bulk run of a million notifications per decoder is in ``test_fuzz_decoders.py``.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bridge_packets(channels: int = 2) -> st.SearchStrategy[bytes]:
    def build(n: int, seq: int, first: int, flags: int, raw: bytes) -> bytes:
        values = np.frombuffer(raw, dtype=np.uint16)[: n * channels] % 4096
        return encode_packet(
            values.reshape(n, channels), sequence=seq, first_sample=first, flags=flags
        )

    return st.builds(
        build,
        st.integers(1, 40),
        st.integers(0, 65535),
        st.integers(0, 2**32 - 1),
        st.integers(0, 0x1F),
        st.binary(min_size=160, max_size=160),
    )


def ganglion_packets() -> st.SearchStrategy[bytes]:
    samples = st.builds(
        lambda i, b: bytes([i]) + b, st.integers(0, 200), st.binary(min_size=19, max_size=19)
    )
    impedance = st.builds(
        lambda i, d: bytes([i]) + str(d).encode() + b"Z",
        st.integers(201, 205),
        st.integers(0, 10**6),
    )
    text = st.builds(
        lambda i, t: bytes([i]) + t.encode(),
        st.sampled_from([206, 207]),
        st.text("abc XYZ\n", max_size=19),
    )
    return st.one_of(samples, impedance, text)


def myoware_notifications() -> st.SearchStrategy[bytes]:
    number = st.floats(-5000, 5000, allow_nan=False).map(lambda v: f"{v:.2f}".encode())
    return st.one_of(number, st.tuples(number, number).map(lambda p: p[0] + b"," + p[1] + b"\n"))


def mangled(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Random bytes, or a valid notification truncated, extended, or with bits flipped."""

    def mutate(data: bytes, how: int, where: int, extra: bytes) -> bytes:
        if how == 0:
            return data[: where % (len(data) + 1)]
        if how == 1:
            return data + extra
        out = bytearray(data)
        if out:
            out[where % len(out)] ^= 1 << (how % 8)
        return bytes(out)

    return st.one_of(
        st.binary(max_size=600),
        valid,
        st.builds(
            mutate,
            valid,
            st.integers(0, 9),
            st.integers(0, 10**6),
            st.binary(min_size=1, max_size=8),
        ),
        st.builds(lambda data, n: data * n, valid, st.integers(2, 40)),  # oversized, up to KiBs
    )


def check(decoder: object, decode: Callable[[bytes], DecodedPacket], data: bytes) -> None:
    """``decode(data)`` returns a sane packet, or raises ProtocolError leaving ``decoder`` as it
    was (its pickled state, counters and last samples included, is compared)."""
    before = pickle.dumps(decoder)
    try:
        packet = decode(data)
    except ProtocolError as exc:
        assert str(exc)
        assert pickle.dumps(decoder) == before, f"refusing {data!r} changed the decoder"
        return
    assert isinstance(packet, DecodedPacket)
    assert packet.samples.dtype == np.float32 and packet.samples.ndim == 2
    assert np.isfinite(packet.samples).all()
    assert packet.gap_before >= 0 and (packet.n > 0 or packet.gap_before == 0)


@FUZZ
@given(st.lists(mangled(bridge_packets()), min_size=1, max_size=10))
def test_bridge_decoder(notifications: list[bytes]) -> None:
    decoder = BridgeProfile(StreamInfo(channels=2, rate_hz=1000)).decoder()
    for data in notifications:
        check(decoder, decoder.decode, data)


@FUZZ
@given(bridge_packets(), st.data())
def test_bridge_detects_every_single_bit_flip(data: bytes, draw) -> None:
    bit = draw.draw(st.integers(0, 8 * len(data) - 1))
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    decoder = BridgeProfile(StreamInfo(channels=2, rate_hz=1000)).decoder()
    try:
        decoder.decode(bytes(flipped))
    except ProtocolError:
        return
    raise AssertionError(f"bit {bit} flipped went unnoticed")


def flipped(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    def flip(data: bytes, bit: int) -> bytes:
        out = bytearray(data)
        out[bit % len(out)] ^= 1 << (bit % 8)
        return bytes(out)

    return st.builds(flip, valid, st.integers(0, 10**6))


@FUZZ
@given(
    st.lists(st.one_of(st.binary(max_size=300), flipped(bridge_packets(channels=1))), max_size=8),
    st.integers(0, 2**32 - 1),
)
def test_bridge_garbage_does_not_disturb_a_valid_stream(garbage: list[bytes], first: int) -> None:
    """Valid packets interleaved with rejected ones are placed as if alone."""
    valid = [
        encode_packet(np.full((3, 1), k), sequence=k, first_sample=(first + 3 * k) % 2**32)
        for k in range(len(garbage) + 1)
    ]
    decoder = BridgeProfile(StreamInfo(channels=1, rate_hz=1000)).decoder()
    starts = []
    for k, packet in enumerate(valid):
        starts.append(decoder.decode(packet).start)
        if k < len(garbage):
            try:
                decoder.decode(garbage[k])
            except ProtocolError:
                continue
            raise AssertionError(f"garbage {garbage[k]!r} was accepted")
    assert starts == [first + 3 * k for k in range(len(valid))]


@FUZZ
@given(
    st.lists(mangled(st.binary(min_size=16, max_size=16)), min_size=1, max_size=10), st.booleans()
)
def test_myo_decoder(notifications: list[bytes], rotation: bool) -> None:
    decoder = MyoProfile(check_rotation=rotation).decoder()
    for k, data in enumerate(notifications):
        check(
            decoder,
            lambda d, k=k: decoder.decode(d, characteristic=EMG_CHARACTERISTICS[k % 4]),
            data,
        )


@FUZZ
@given(st.lists(mangled(ganglion_packets()), min_size=1, max_size=12), st.sampled_from([2, 3]))
def test_ganglion_decoder(notifications: list[bytes], firmware: int) -> None:
    decoder = GanglionProfile(firmware=firmware).decoder()
    for data in notifications:
        check(decoder, decoder.decode, data)


@FUZZ
@given(
    st.lists(mangled(myoware_notifications()), min_size=1, max_size=12),
    st.sampled_from(["shield", "uart"]),
)
def test_myoware_decoder(notifications: list[bytes], variant: str) -> None:
    decoder = MyoWareProfile(variant=variant).decoder()
    for k, data in enumerate(notifications):
        check(decoder, lambda d, k=k: decoder.decode(d, host_time=1000.0 + 0.013 * k), data)


@FUZZ
@given(st.binary(max_size=40))
def test_profile_setup_values(data: bytes) -> None:
    """What a client reads at connection (bridge info, Ganglion software revision)."""
    for parse in (
        StreamInfo.decode,
        BridgeProfile.from_info_bytes,
        GanglionProfile.from_software_revision,
    ):
        try:
            parse(data)
        except ProtocolError:
            pass


@FUZZ
@given(
    st.lists(st.tuples(myoware_notifications(), st.floats()), min_size=1, max_size=12),
    st.sampled_from(["shield", "uart"]),
)
def test_myoware_host_times(readings: list[tuple[bytes, float]], variant: str) -> None:
    """Arrival times that are NaN, infinite, huge or running backwards are refused, not
    resampled into a grid of billions of points."""
    decoder = MyoWareProfile(variant=variant).decoder()
    for data, host_time in readings:
        if variant == "uart" and not data.endswith(b"\n"):
            data = data + b"," + data + b"\n"
        elif variant == "shield" and data.endswith(b"\n"):
            data = data.split(b",")[0]
        check(decoder, lambda d, t=host_time: decoder.decode(d, host_time=t), data)


@FUZZ
@given(
    st.lists(
        st.tuples(
            mangled(st.binary(min_size=16, max_size=16)),
            st.one_of(st.none(), st.sampled_from(EMG_CHARACTERISTICS), st.text(max_size=40)),
        ),
        min_size=1,
        max_size=10,
    ),
    st.booleans(),
)
def test_myo_characteristics(notifications: list[tuple[bytes, str | None]], rotation: bool) -> None:
    """A notification on no characteristic or a foreign one is refused without a trace."""
    decoder = MyoProfile(check_rotation=rotation).decoder()
    for data, characteristic in notifications:
        check(decoder, lambda d, c=characteristic: decoder.decode(d, characteristic=c), data)
