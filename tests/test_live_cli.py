"""``emgspasm live`` from the command line: the headless screenshot, and plain errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from emgspasm import Recording
from emgspasm.cli import main
from emgspasm.io import read_recording, write_bdf
from emgspasm.live import plots
from emgspasm.sinks.episode_log import read_episode_log

from .conftest import REPO

NIGHT = REPO / "recordings" / "night_10min_2k.bdf"


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _share_near(image: np.ndarray, rgb: np.ndarray, tol: float = 12.0) -> float:
    return float(np.mean(np.abs(image - rgb).max(axis=2) <= tol))


CUT_S = 45.0
"""Seconds of the night replayed for the screenshot: fasciculations, then the cramp on EMG1
from 24 s, still going when the cut ends."""


def _final_band_share(image: np.ndarray) -> float:
    """Share of the picture in the colour of a final spasm's band over the plot background."""
    back = _rgb(plots.BACKGROUND)
    colour, alpha = np.array(plots.FINAL[:3], float), plots.FINAL[3] / 255.0
    return _share_near(image, back + alpha * (colour - back), 8)


def test_screenshot_command_saves_a_picture_with_traces_threshold_and_a_spasm(tmp_path):
    from matplotlib.image import imread

    night = read_recording(NIGHT)
    cut = tmp_path / "night_45s.bdf"
    n = round(CUT_S * night.fs)
    write_bdf(Recording(night.samples[:n], night.fs, night.channels, night.units), cut)
    shot = tmp_path / "shot.png"
    log = tmp_path / "episodes.csv"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}

    def run(duration_s: float) -> np.ndarray:
        cmd = [
            sys.executable, "-m", "emgspasm.cli", "live", "--replay", str(cut), "--speed", "0",
            "--duration", str(duration_s), "--screenshot", str(shot), "--log", str(log),
        ]  # fmt: skip
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return imread(shot)[..., :3] * 255.0

    # The picture is taken --duration seconds (wall clock) after the window opens. Replayed as
    # fast as possible, the cut is through the detector and on screen long before: about 0.5 s
    # on an idle machine, 0.7 s with two busy processes on two cores. The picture is then the
    # end of the stream, the same whatever the load, with the cramp closed at the end of the
    # file: a final band. Only if the process got so little CPU that the stream had not ended
    # (no final band yet) is the picture taken again with ample time; every check below is on
    # the last picture.
    image = run(3.0)
    if _final_band_share(image) <= 0.005:
        image = run(30.0)
    height, width = image.shape[:2]
    assert width >= 800 and height >= 450
    assert image.std() > 20  # not blank
    assert _share_near(image, _rgb(plots.TRACE)) > 0.005  # the filtered traces
    assert _share_near(image, _rgb(plots.THRESHOLD), 6) > 0.0003  # threshold lines
    assert _final_band_share(image) > 0.005  # the spasm's band, closed at the end of the stream
    spasms = [r for r in read_episode_log(log) if r["kind"] == "spasm"]
    assert len(spasms) == 1 and spasms[0]["channel"] == "EMG1"
    assert abs(spasms[0]["onset_s"] - 24.0) < 0.1 and spasms[0]["offset_s"] == CUT_S


def test_live_refuses_bad_options_in_one_line(capsys, tmp_path):
    assert main(["live", "--replay", str(NIGHT), "--window", "2"]) == 3
    assert "--window must be between 5 and 60 s" in capsys.readouterr().err
    assert main(["live", "--replay", str(NIGHT), "--screenshot", str(tmp_path / "x.png")]) == 3
    assert "--screenshot needs --duration" in capsys.readouterr().err
    assert main(["live", "--replay", str(tmp_path / "missing.bdf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("emgspasm: error:") and err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["live", "--replay", str(NIGHT), "--device", "x"])
