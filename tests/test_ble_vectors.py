"""Device decoders against the published facts and test vectors in ../shared/data/ble_vectors.json.

The vectors were gathered by others (see PROVENANCE.md): Myo packets captured from a real armband
(iomz/dl-myo tests), Ganglion delta-compression vectors from OpenBCI's JavaScript utilities tests
(MIT), UUIDs from thalmiclabs/myo-bluetooth's myohw.h, OpenBCI's documentation and the MyoWare
Arduino library.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from emgspasm.sources.ble.profiles import GanglionProfile, MyoProfile, MyoWareProfile, myo
from emgspasm.sources.ble.profiles import ganglion as gg
from emgspasm.sources.ble.profiles import myoware as mw
from emgspasm.sources.ble.profiles.ganglion_wire import unpack_fields


@pytest.fixture(scope="module")
def vectors(shared_data: Path) -> dict:
    return json.loads((shared_data / "ble_vectors.json").read_text())


def _bits(strings: list[str]) -> bytes:
    return bytes(int(s, 2) for s in strings)


# -- Myo ------------------------------------------------------------------------------------------


def test_myo_uuids_and_mode_command(vectors: dict) -> None:
    facts = vectors["myo"]
    assert myo.SERVICE == facts["emg_service"]
    assert list(myo.EMG_CHARACTERISTICS) == facts["emg_data_characteristics"]
    assert myo.COMMAND_CHARACTERISTIC == facts["command_characteristic"]
    base = facts["base_uuid"].replace("XXXX", "{:04x}")
    assert myo.CONTROL_SERVICE == base.format(0x0001)
    # "[0x01, 3, emg_mode, imu_mode, classifier_mode]; emg_mode ... 3 raw"
    assert myo.set_mode_command(3) == bytes([0x01, 3, 3, 0, 0])
    profile = MyoProfile()
    assert myo.set_mode_command(3) in [w.data for w in profile.start_writes()]
    assert profile.fs == 200.0 and len(profile.channels) == 8


@pytest.mark.parametrize("index", range(5))
def test_myo_emg_vectors(vectors: dict, index: int) -> None:
    vector = vectors["myo"]["emg_vectors"][index]
    packet = (
        MyoProfile()
        .decoder()
        .decode(bytes.fromhex(vector["hex"]), characteristic=myo.EMG_CHARACTERISTICS[index % 4])
    )
    assert packet.samples.dtype == np.float32
    np.testing.assert_array_equal(packet.samples, np.array(vector["samples"], dtype=np.float32))
    assert packet.extra["slot"] == index % 4


def test_myo_vectors_follow_each_other(vectors: dict) -> None:
    decoder = MyoProfile(check_rotation=True).decoder()
    packets = [
        decoder.decode(bytes.fromhex(v["hex"]), characteristic=myo.EMG_CHARACTERISTICS[k % 4])
        for k, v in enumerate(vectors["myo"]["emg_vectors"])
    ]
    assert [p.start for p in packets] == [0, 2, 4, 6, 8]
    assert all(p.gap_before == 0 for p in packets)
    stacked = np.vstack([p.samples for p in packets])
    expected = np.vstack([np.array(v["samples"]) for v in vectors["myo"]["emg_vectors"]])
    np.testing.assert_array_equal(stacked, expected)


# -- Ganglion -------------------------------------------------------------------------------------


def test_ganglion_uuids_rate_and_scale(vectors: dict) -> None:
    facts = vectors["ganglion"]
    assert gg.SERVICE == facts["service"]
    assert gg.RECEIVE_CHARACTERISTIC == facts["receive_characteristic"]
    assert gg.SEND_CHARACTERISTIC == facts["send_characteristic"]
    assert gg.DISCONNECT_CHARACTERISTIC == facts["disconnect_characteristic"]
    assert GanglionProfile.fs == facts["sample_rate_hz"]
    volts, counts, gain_a, gain_b = (
        float(x) for x in re.findall(r"[\d.]+", facts["scale_volts_per_count"])
    )
    assert gg.UV_PER_COUNT == pytest.approx(volts / (counts * gain_a * gain_b) * 1e6, rel=1e-12)


@pytest.mark.parametrize(
    ("key", "bits"), [("delta_vectors_18bit", 18), ("delta_vectors_19bit", 19)]
)
def test_ganglion_field_vectors(vectors: dict, key: str, bits: int) -> None:
    for vector in vectors["ganglion"][key]:
        body = _bits(vector[f"bytes_1_to_{bits}_bin"])
        np.testing.assert_array_equal(unpack_fields(body, bits), np.array(vector["deltas"]))


def _raw_packet(values: list[int]) -> bytes:
    body = b"".join((v % (1 << 24)).to_bytes(3, "big") for v in values)
    return bytes([0]) + body + b"ABCDEFG"


@pytest.mark.parametrize(
    ("key", "bits", "pid"),
    [
        ("delta_vectors_18bit", 18, 1),
        ("delta_vectors_19bit", 19, 101),
    ],
)
def test_ganglion_firmware2_rebuilds_samples_from_vector_deltas(
    vectors: dict, key: str, bits: int, pid: int
) -> None:
    anchor = [1_000_000, -2_000_000, 300_000, -4]
    for vector in vectors["ganglion"][key]:
        decoder = GanglionProfile(firmware=2).decoder()
        raw = decoder.decode(_raw_packet(anchor))
        np.testing.assert_array_equal(raw.extra["counts"], [anchor])
        body = _bits(vector[f"bytes_1_to_{bits}_bin"])
        packet = decoder.decode(bytes([pid]) + body + bytes(19 - len(body)))
        deltas = np.array(vector["deltas"])
        first = np.array(anchor) - deltas[0]
        np.testing.assert_array_equal(packet.extra["counts"], [first, first - deltas[1]])
        np.testing.assert_allclose(
            packet.samples, packet.extra["counts"] * gg.UV_PER_COUNT, rtol=1e-6
        )
        assert (raw.start, packet.start, packet.gap_before) == (0, 1, 0)


@pytest.mark.parametrize(
    ("key", "bits", "pid", "shift"),
    [
        ("delta_vectors_18bit", 18, 7, 6),
        ("delta_vectors_19bit", 19, 107, 5),
    ],
)
def test_ganglion_firmware3_reads_the_same_fields_as_truncated_samples(
    vectors: dict, key: str, bits: int, pid: int, shift: int
) -> None:
    for vector in vectors["ganglion"][key]:
        body = _bits(vector[f"bytes_1_to_{bits}_bin"])
        packet = (
            GanglionProfile(firmware=3)
            .decoder()
            .decode(bytes([pid]) + body + bytes(19 - len(body)))
        )
        expected = np.array(vector["deltas"]) * (1 << shift)
        np.testing.assert_array_equal(packet.extra["counts"], expected)


# -- MyoWare --------------------------------------------------------------------------------------


def test_myoware_uuids(vectors: dict) -> None:
    facts = vectors["myoware_wireless_shield"]
    assert mw.SERVICE == facts["service"]
    assert mw.CHARACTERISTIC == facts["characteristic"]
    assert MyoWareProfile().data_characteristics == (facts["characteristic"],)
    match = re.search(r"6e40000(\d)/(\d)/(\d)(-[0-9a-f-]+)", facts["payload"])
    assert match is not None
    shorts, suffix = match.groups()[:3], match.group(4)
    expected = [f"6e40000{k}{suffix}" for k in shorts]
    assert [mw.UART_SERVICE, mw.UART_RX_CHARACTERISTIC, mw.UART_TX_CHARACTERISTIC] == expected
    assert "<env>,<raw>" in facts["payload"]
    assert MyoWareProfile(variant="uart").channels == ("ENV", "RAW")
