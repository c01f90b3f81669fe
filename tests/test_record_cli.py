"""``emgspasm record`` from the command line: a virtual bridge at 20x real time, Ctrl-C, and
options refused in one line before anything connects."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from emgspasm.cli import main
from emgspasm.sources.ble.virtual import SampleFeed

COMMAND = [sys.executable, "-m", "emgspasm.cli", "record"]


def test_record_a_virtual_bridge_at_20x_from_the_command_line(tmp_path: Path) -> None:
    out, log = tmp_path / "night.bdf", tmp_path / "night.csv"
    cmd = [
        *COMMAND, "--device", "virtual:bridge", "--simulate", "night", "--duration", "20",
        "--speed", "20", "--out", str(out), "--episodes", str(log),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "night.bdf: 20.0 s, 2 channel(s) at 1000 Hz (uV) from virtual bridge (simulated night, 20x)"
    )
    assert "20000 received, 0 lost (0.00 %) in 0 gap(s)" in lines[1]
    assert lines[-1].endswith("(duration reached)")
    assert "streaming from emgspasm-bridge" in done.stderr

    for path in (out, log):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pyedflib.EdfReader(str(out)) as edf:
        assert edf.getSignalLabels() == ["EMG1", "EMG2"]
        data = np.stack([edf.readSignal(c) for c in range(2)], axis=1)[:20000]
        texts = list(edf.readAnnotations()[2])
        step = (edf.getPhysicalMaximum(0) - edf.getPhysicalMinimum(0)) / (2**24 - 1)
    assert texts[0] == "connected emgspasm-bridge F0:B7:1D:6E:00:01 (emgspasm-bridge)"
    assert "recording stopped (duration reached)" in texts and texts[-1] == "recording end"
    # what the simulator made, within half a code of the bridge's 12-bit ADC, whose range the
    # file's physical range is (4096 codes of nv_per_count / 1000 µV)
    lsb = step * (2**24 - 1) / 4095
    assert lsb == pytest.approx(4.029, rel=1e-5)
    truth = SampleFeed.simulated("night", 20.0, fs=1000.0, channels=2).recording.samples
    assert np.abs(data - truth).max() <= lsb / 2 + step
    spasms = [t for t in texts if t.startswith("detected spasm@")]
    assert len(spasms) == 1 == log.read_text().count("\nspasm,")


def test_ctrl_c_ends_a_recording_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "stopped.bdf"
    cmd = [*COMMAND, "--device", "virtual:bridge", "--simulate", "quiet", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until two whole seconds are in the file
            if out.exists() and out.stat().st_size > 256 and int(out.read_bytes()[236:244]) >= 2:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert stdout.splitlines()[-1].endswith("(stopped by the user)")
    with pyedflib.EdfReader(str(out)) as edf:
        seconds = edf.getNSamples()[0] / 1000.0
        onsets, _, texts = edf.readAnnotations()
    assert seconds >= 2.0
    assert list(texts[-2:]) == ["recording stopped (stopped by the user)", "recording end"]
    assert onsets[-1] <= seconds


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--device", "F0:00:00:00:00:01", "--drop", "0.1"], "--drop: only for a virtual sensor"),
        (["--device", "virtual:toaster"], "unknown virtual sensor 'virtual:toaster'"),
        (["--simulate", "night", "--drop", "2"], "--drop is a fraction"),
        (["--simulate", "night", "--speed", "-1"], "--speed must be 0"),
        ([], "give --device ADDRESS|NAME"),
    ],
)
def test_bad_options_are_one_line_and_exit_3(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["record", *options, "--out", str(tmp_path / "x.bdf")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "x.bdf").exists()


def test_an_output_folder_that_does_not_exist_is_refused_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "x.bdf"
    code = main(["record", "--device", "F0:00:00:00:00:01", "--out", str(out)])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_help_lists_the_command() -> None:
    done = subprocess.run(
        [*COMMAND, "--help"], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert done.returncode == 0
    for option in ("--device", "--replay", "--simulate", "--disconnect-at", "--episodes"):
        assert option in done.stdout


# -- before the night starts: outputs that cannot be written, a disk too full --------------------
def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (for root, whom permission bits do not stop:
    sysfs, which takes no new files from anyone)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    sysfs = Path("/sys")
    try:
        fd = os.open(sysfs / "emgspasm-probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return sysfs
    os.close(fd)  # pragma: no cover - a machine where even /sys takes files
    os.unlink(sysfs / "emgspasm-probe")
    pytest.skip("no folder here refuses new files to this user")


@pytest.mark.parametrize("where", ["read-only folder", "file as folder"])
def test_an_unwritable_output_is_refused_in_one_line_before_connecting(
    where: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import emgspasm.record

    def never_connect(*_args: object, **_options: object) -> None:
        raise AssertionError("connected despite an output that cannot be written")

    monkeypatch.setattr(emgspasm.record, "open_sensor", never_connect)
    if where == "file as folder":
        (tmp_path / "plain").write_text("")
        out, reason = tmp_path / "plain" / "night.bdf", "is not a folder"
    else:
        out, reason = _unwritable_folder(tmp_path) / "night.bdf", "cannot be written ("
    code = main(["record", "--device", "F0:00:00:00:00:01", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and reason in err and str(out) in err, err
    assert not out.exists()


def a_disk_with_5_mb_free(_folder: Path) -> int:
    """Stand-in for the free-space query: a nearly full disk."""
    return 5_000_000


@pytest.mark.parametrize(
    ("options", "needed", "layout"),
    [
        # a simulated hour on a virtual bridge: 2 x 1000 Hz x 3 bytes + 360 bytes per 1 s record
        (
            ["--simulate", "night", "--duration", "3600"],
            "about 23 MB needed",
            "2 channel(s) at 1000 Hz, for 1 h",
        ),
        # a real device, no duration: a night of 10 h at the largest rate a sensor here streams
        (
            ["--device", "F0:00:00:00:00:01"],
            "about 445 MB needed",
            "2 channel(s) at 2000 Hz, assumed until the sensor says, for 10 h",
        ),
    ],
)
def test_too_little_free_disk_space_is_refused_in_one_line_before_connecting(
    options: list[str],
    needed: str,
    layout: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import emgspasm.record

    def never_connect(*_args: object, **_options: object) -> None:
        raise AssertionError("connected although the disk is too full")

    monkeypatch.setattr(emgspasm.record, "free_disk_bytes", a_disk_with_5_mb_free)
    monkeypatch.setattr(emgspasm.record, "open_sensor", never_connect)
    out = tmp_path / "night.bdf"
    code = main(["record", *options, "--out", str(out), "--episodes", str(tmp_path / "e.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "not enough free disk space" in err and needed in err and layout in err
    assert f"5.0 MB available in {tmp_path}" in err
    assert list(tmp_path.iterdir()) == []


def test_the_size_estimate_is_the_size_of_the_file() -> None:
    from emgspasm.record import bdf_size

    # header: 256 bytes + 256 per signal (2 EMG + annotations); 1 s records of 2 x 1000 x 3
    # bytes of samples and 360 of annotations
    assert bdf_size(1000.0, 2, 3600.0) == 1024 + 3600 * 6360
    assert bdf_size(200.0, 8, 0.5) == 256 * 10 + 1 * (8 * 200 * 3 + 360)  # whole records


def test_lsl_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import emgspasm.live.app
    import emgspasm.record

    asked: list[tuple[str, object]] = []

    def fake_record(*_args: object, lsl: bool = False, **_options: object) -> object:
        asked.append(("record", lsl))
        raise emgspasm.record.RecordingError("stop here")

    def fake_live(*_args: object, lsl: bool = False, **_options: object) -> int:
        asked.append(("live", lsl))
        return 0

    monkeypatch.setattr(emgspasm.record, "record", fake_record)
    monkeypatch.setattr(emgspasm.live.app, "run_live", fake_live)
    monkeypatch.setattr(emgspasm.live.app, "make_source", lambda *_args: (None, "a source"))
    out = str(tmp_path / "x.bdf")
    for extra in ([], ["--lsl"]):
        main(["record", "--simulate", "quiet", "--out", out, *extra])
        main(["live", "--replay", out, *extra])
    assert asked == [("record", False), ("live", False), ("record", True), ("live", True)]
