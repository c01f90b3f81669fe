"""``emgspasm record`` killed with SIGKILL mid-recording: the BDF+ file it leaves opens in
pyEDFlib as it is, holds every sample streamed but the last second's, sample-exact, and the
episode log holds every episode found before the kill.

The recorder runs in its own process on a virtual bridge (the real bleak client over the
in-process Bluetooth link) playing a simulated feed at a modest speed. The test regenerates the
same feed (same scenario, length, rate, channels and seed) and what the bridge's 12-bit ADC
makes of it, so the file can be checked sample by sample without trusting the recorder.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyedflib

from emgspasm.config import profile
from emgspasm.detect import Detector
from emgspasm.frames import Frame
from emgspasm.sources.ble.virtual import SampleFeed

COMMAND = [sys.executable, "-m", "emgspasm.cli", "record"]
FS = 1000.0
CHANNELS = 2
FEED_S = 60.0
SPEED = 2.0
KILL_AFTER_RECORDS = 8
"""Kill once the header counts this many 1 s records (then half a record more)."""
NV_PER_COUNT, ZERO_CODE, MAX_CODE = 4029, 2048, 4095
"""The virtual bridge's ADC: nV per code, the code of 0 µV, the top code (12 bits)."""
BDF_STEPS = 2**24 - 1


def bridge_decoded(samples: np.ndarray) -> np.ndarray:
    """What a host decodes from the bridge's codes for these µV (firmware_bridge/PROTOCOL.md)."""
    codes = np.clip(np.rint(samples.astype(np.float64) * 1000.0 / NV_PER_COUNT) + ZERO_CODE, 0,
                    MAX_CODE)  # fmt: skip
    scale = np.float32(NV_PER_COUNT / 1000.0)
    return (codes.astype(np.float32) - np.float32(ZERO_CODE)) * scale


def header_records(path: Path) -> int:
    """The record count in a BDF header (-1 while unknown or unreadable)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(244)
        return int(head[236:244]) if len(head) == 244 else -1
    except (OSError, ValueError):
        return -1


def test_sigkill_leaves_a_file_pyedflib_opens_with_all_but_the_last_second(
    tmp_path: Path,
) -> None:
    out, log = tmp_path / "killed.bdf", tmp_path / "killed.csv"
    cmd = [
        *COMMAND, "--device", "virtual:bridge", "--simulate", "fasciculation",
        "--duration", str(FEED_S), "--speed", str(SPEED), "--out", str(out),
        "--episodes", str(log),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[tuple[float, str]] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120  # generous: a loaded machine starts slowly
        while header_records(out) < KILL_AFTER_RECORDS:
            assert proc.poll() is None, f"the recorder ended early: {lines}"
            assert time.monotonic() < deadline, "the recording did not grow"
            time.sleep(0.02)
        time.sleep(0.5 / SPEED)  # into the next record: its first half is in memory only
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    started = [t for t, line in lines if line.startswith("streaming from")]
    assert started, lines

    # the file as the kill left it: a valid BDF+ file, opened as it is
    with pyedflib.EdfReader(str(out)) as edf:
        assert edf.filetype == pyedflib.FILETYPE_BDFPLUS
        found = int(edf.getNSamples()[0])
        data = np.stack([edf.readSignal(c) for c in range(CHANNELS)], axis=1)
        onsets, durations, texts = edf.readAnnotations()
        step = (edf.getPhysicalMaximum(0) - edf.getPhysicalMinimum(0)) / BDF_STEPS
    assert os.path.getsize(out) == 256 * (CHANNELS + 2) + found // 1000 * (CHANNELS * 3000 + 360)

    # all but the last second of what was streamed: the sensor plays SPEED x real time from the
    # moment the link reports streaming (an upper bound on what it had sent at the kill)
    streamed = min(round((killed_at - started[0]) * SPEED * FS), round(FEED_S * FS))
    lost_s = (streamed - found) / FS
    print(f"\nstreamed about {streamed} samples per channel, found {found}: {lost_s:.3f} s lost")
    assert found >= KILL_AFTER_RECORDS * FS
    assert lost_s <= 1.25  # a record (1 s) in memory, and the pipe's and the scheduler's delay

    # sample-exact: what the host decoded from the ADC, to the file's 24-bit step, and the
    # simulated signal to half an ADC code
    truth = SampleFeed.simulated(
        "fasciculation", FEED_S, fs=FS, channels=CHANNELS, seed=0
    ).recording.samples
    decoded = bridge_decoded(truth)
    assert np.abs(data - decoded[:found]).max() <= step
    lsb = NV_PER_COUNT / 1000.0
    assert np.abs(data - truth[:found]).max() <= lsb / 2 + step

    # every episode final before the kill is in the log, in order, as the detector finds it on
    # the same samples; the log is what the recorder printed as it went
    detector = Detector(profile("night"))
    names = tuple(f"EMG{c + 1}" for c in range(CHANNELS))
    final: list[tuple[tuple[str, str, int, int], int]] = []  # (episode, index it became final)
    for start in range(0, len(decoded), 100):  # the whole feed: the recorder saw beyond the file
        frame = Frame(decoded[start : start + 100], start, FS, names)
        final += [
            ((e.kind, e.channel, e.onset, e.offset), frame.stop) for e in detector.process(frame)
        ]
    with open(log, newline="") as handle:
        logged = [
            (r["kind"], r["channel"], int(r["onset_sample"]), int(r["offset_sample"]))
            for r in csv.DictReader(handle)
        ]
    expected = [e for e, at in final if at <= found - 200]  # a frame's leeway at the kill
    print(f"episodes: {len(logged)} logged, {len(expected)} final well before the kill")
    assert len(expected) >= 5, final
    assert logged[: len(expected)] == expected
    assert logged == [e for e, _ in final[: len(logged)]]  # nothing else, nothing out of order
    printed = [
        re.match(r"episode: (\w+) on (\w+) at ([\d.]+)-([\d.]+) s", line)
        for _, line in lines
        if line.startswith("episode: ")
    ]
    said = [(m[1], m[2], round(float(m[3]) * FS), round(float(m[4]) * FS)) for m in printed if m]
    assert said == logged[: len(said)] and len(said) >= len(expected)  # logged, then printed

    # and each episode is annotated in the BDF+ file within a record of being known
    annotated = {
        (t, round(o * FS), round((o + max(0.0, d)) * FS))
        for o, d, t in zip(onsets, durations, texts, strict=True)
        if t.startswith("detected ")
    }
    for (kind, channel, onset, offset), at in final:
        if at <= found - FS - 200:  # the next record written after it became final
            assert (f"detected {kind}@{channel}", onset, offset) in annotated
    assert texts[0].startswith("connected emgspasm-bridge")
    assert "recording end" not in texts  # the writer never finished: nothing was made up
