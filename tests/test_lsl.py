"""The LSL outlet against a real pylsl inlet on this machine: samples, markers, time stamps."""

from __future__ import annotations

import json
import time
import uuid

import numpy as np
import pytest

from emgspasm.frames import Annotation, Episode, Frame

try:
    import pylsl

    pylsl.local_clock()
except (ImportError, RuntimeError) as exc:  # pragma: no cover - depends on the machine
    pytest.skip(f"liblsl cannot be loaded here: {exc}", allow_module_level=True)

from emgspasm.sinks.lsl import EMG_TYPE, MARKER_SUFFIX, LslOutlet, publish  # noqa: E402

FS = 500.0
CHANNELS = ("EMG1", "EMG2")


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("source_id", source_id, timeout=10)
    assert found, f"stream {source_id} not found"
    inlet = pylsl.StreamInlet(found[0], max_buflen=60, recover=False)
    inlet.open_stream(timeout=10)
    return inlet


def _pull(inlet: pylsl.StreamInlet, count: int, strings: bool = False) -> tuple[list, list]:
    """Pull until ``count`` samples came (or 10 s passed)."""
    values: list = []
    stamps: list = []
    deadline = time.monotonic() + 10
    while len(values) < count and time.monotonic() < deadline:
        chunk, ts = inlet.pull_chunk(timeout=0.2)
        values.extend(chunk)
        stamps.extend(ts)
    return values, stamps


def _wait_for(outlet: pylsl.StreamOutlet) -> None:
    assert outlet.wait_for_consumers(10), "the inlet did not connect"


def _episode(kind: str, channel: str, onset: int, offset: int, detected: int) -> Episode:
    return Episode(
        kind, channel, onset, offset, detected, FS, 812.5, 301.25, 2.5, ("clipped 1.0%",)
    )


def test_samples_and_markers_round_trip() -> None:
    source = f"emgspasm-test-{uuid.uuid4().hex[:8]}"
    outlet = LslOutlet(FS, CHANNELS, ("uV", "uV"), name="emgspasm-test", source_id=source)
    emg = _inlet(source)
    markers = _inlet(source + MARKER_SUFFIX)
    _wait_for(outlet.emg_outlet)
    _wait_for(outlet.marker_outlet)

    description = emg.info(timeout=5)
    assert description.type() == EMG_TYPE
    assert description.nominal_srate() == FS
    assert description.channel_format() == pylsl.cf_float32
    channel = description.desc().child("channels").child("channel")
    labels, units = [], []
    while not channel.empty():
        labels.append(channel.child_value("label"))
        units.append(channel.child_value("unit"))
        channel = channel.next_sibling()
    assert tuple(labels) == CHANNELS and units == ["uV", "uV"]

    rng = np.random.default_rng(3)
    blocks = [rng.normal(0, 50, (n, 2)).astype(np.float32) for n in (400, 137, 250)]
    # the third block follows 100 lost samples: they must not be sent, the stamps jump them
    frames = [
        Frame(blocks[0], 0, FS, CHANNELS),
        Frame(blocks[1], 400, FS, CHANNELS),
        Frame(blocks[2], 637, FS, CHANNELS, gap_before=100),
    ]
    spasm = _episode("spasm", "EMG1", 120, 500, 220)
    fasc = _episode("fasciculation", "EMG2", 90, 95, 300)
    outlet.write(frames[0])
    outlet.note_ongoing([spasm])
    outlet.write(frames[1])
    outlet.note_ongoing([spasm])  # announced once only
    outlet.add_episodes([fasc, spasm])
    outlet.annotate(Annotation(1.5, 0.0, "stretching"))
    outlet.write(frames[2])

    values, stamps = _pull(emg, 787)
    got = np.asarray(values, dtype=np.float32)
    assert got.shape == (787, 2)
    np.testing.assert_array_equal(got, np.concatenate(blocks))
    index = np.concatenate([np.arange(f.start, f.stop) for f in frames])
    expected = outlet.timestamp(0) + index / FS
    np.testing.assert_allclose(stamps, expected, rtol=0, atol=1e-7)
    assert np.all(np.diff(stamps) > 0)
    jump = stamps[537] - stamps[536]
    assert jump == pytest.approx(101 / FS, abs=1e-7)

    texts, marker_stamps = _pull(markers, 4)
    assert len(texts) == 4
    events = [json.loads(t[0]) for t in texts]
    assert [e["event"] for e in events] == ["spasm_onset", "episode", "episode", "marker"]
    assert events[0] == {
        "event": "spasm_onset",
        "channel": "EMG1",
        "onset_s": 0.24,
        "detected_s": 0.44,
        "onset_lsl": round(outlet.timestamp(120), 6),
    }
    assert events[1]["kind"] == "fasciculation" and events[1]["channel"] == "EMG2"
    assert events[2]["kind"] == "spasm"
    assert events[2]["onset_s"] == 0.24 and events[2]["offset_s"] == 1.0
    assert events[2]["duration_s"] == 0.76 and events[2]["relative_rms"] == 301.25 / 2.5
    assert events[2]["quality"] == ["clipped 1.0%"]
    assert events[2]["offset_lsl"] == round(outlet.timestamp(500), 6)
    assert events[3] == {
        "event": "marker",
        "text": "stretching",
        "channel": None,
        "onset_s": 1.5,
        "duration_s": 0.0,
        "onset_lsl": round(outlet.timestamp(750), 6),
    }
    assert np.all(np.diff(marker_stamps) >= 0)
    # each marker is stamped with the stream time at which it was sent
    assert marker_stamps[0] == pytest.approx(outlet.timestamp(400), abs=1e-7)
    assert marker_stamps[3] == pytest.approx(outlet.timestamp(537), abs=1e-7)
    outlet.close()
    emg.close_stream()
    markers.close_stream()


class _FakeDetector:
    """Stands in for the Detector: one spasm confirmed in frame 2, final in frame 3."""

    def __init__(self) -> None:
        self.calls = 0
        self.ongoing: list[Episode] = []

    def process(self, frame: Frame) -> list[Episode]:
        self.calls += 1
        spasm = _episode("spasm", "EMG1", 100, frame.stop, 300)
        if self.calls == 2:
            self.ongoing = [spasm]
            return []
        if self.calls == 3:
            self.ongoing = []
            return [_episode("spasm", "EMG1", 100, 900, 300)]
        return []

    def flush(self) -> list[Episode]:
        return [_episode("fasciculation", "EMG2", 1500, 1504, 1600)]


def test_publish_attaches_a_detector_to_the_outlet() -> None:
    source = f"emgspasm-test-{uuid.uuid4().hex[:8]}"
    outlet = LslOutlet(FS, CHANNELS, ("uV", "uV"), name="emgspasm-test", source_id=source)
    markers = _inlet(source + MARKER_SUFFIX)
    _wait_for(outlet.marker_outlet)
    frames = [Frame(np.zeros((500, 2), dtype=np.float32), k * 500, FS, CHANNELS) for k in range(4)]
    out = list(publish(frames, _FakeDetector(), outlet))
    assert [len(eps) for _, eps in out] == [0, 0, 1, 0, 1]
    assert out[-1][0].n == 0 and out[-1][0].start == 2000
    texts, stamps = _pull(markers, 3)
    events = [json.loads(t[0]) for t in texts]
    assert [(e["event"], e.get("kind")) for e in events] == [
        ("spasm_onset", None),
        ("episode", "spasm"),
        ("episode", "fasciculation"),
    ]
    assert np.all(np.diff(stamps) >= 0)
    assert outlet.samples_sent == 2000
    outlet.close()
    markers.close_stream()
