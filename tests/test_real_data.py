"""The detector on real recordings made by others (see ../shared/data/PROVENANCE.md).

Myo armband sessions (aljazfrancic/myo-readings-dataset, MIT): 8 channels of int8 counts at
200 Hz; the label column cues 5 s of gesture (1 = wrist flexion, 7 = fist) after 5 s of rest.
BioSPPy examples (BSD-3): 1 kHz, 12-bit counts.
"""

from __future__ import annotations

import pytest

from emgspasm.config import profile
from emgspasm.detect import Detector
from emgspasm.io import read_recording


def detect(path, fmt=None):
    rec = read_recording(path, format=fmt)
    det = Detector(profile("night"))
    episodes = []
    for frame in rec.frames(512):
        episodes += det.process(frame)
    episodes += det.flush()
    return rec, episodes


@pytest.mark.parametrize("session", ["12345-1", "45612-1"])
@pytest.mark.parametrize("gesture", ["1", "7"])
def test_every_held_gesture_is_a_sustained_contraction(shared_data, session, gesture):
    rec, episodes = detect(shared_data / "myo" / session / f"{gesture}.txt", "myo")
    spasms = [e for e in episodes if e.kind == "spasm"]
    cues = [a for a in rec.annotations if a.description == f"cue:{gesture}"]
    assert len(cues) == 6
    for cue in cues:
        # Found on at least one channel, starting before the cue ends.
        assert any(
            e.onset_s < cue.offset_s and e.offset_s > cue.onset_s for e in spasms
        ), f"no contraction found for the cue at {cue.onset_s:.1f}-{cue.offset_s:.1f} s"
    for e in spasms:
        assert e.duration_s >= 2.0
        assert e.rms > 2.0 * e.baseline


def test_a_rest_recording_has_no_episodes(shared_data):
    _, episodes = detect(shared_data / "biosppy" / "emg.txt")
    assert episodes == []


def test_short_bursts_are_not_spasms(shared_data):
    """emg_1.txt has three bursts of about 1.5 s: shorter than a spasm."""
    _, episodes = detect(shared_data / "biosppy" / "emg_1.txt")
    assert [e for e in episodes if e.kind == "spasm"] == []
