"""``emgspasm live`` from the command line: the headless screenshot, and plain errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from emgspasm.cli import main
from emgspasm.live import plots
from emgspasm.sinks.episode_log import read_episode_log

from .conftest import REPO

NIGHT = REPO / "recordings" / "night_10min_2k.bdf"


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _share_near(image: np.ndarray, rgb: np.ndarray, tol: float = 12.0) -> float:
    return float(np.mean(np.abs(image - rgb).max(axis=2) <= tol))


def test_screenshot_command_saves_a_picture_with_traces_threshold_and_a_spasm(tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    log = tmp_path / "episodes.csv"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [
        sys.executable, "-m", "emgspasm.cli", "live", "--replay", str(NIGHT), "--speed", "20",
        "--duration", "3", "--screenshot", str(shot), "--log", str(log),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    image = imread(shot)[..., :3] * 255.0
    height, width = image.shape[:2]
    assert width >= 800 and height >= 450
    assert image.std() > 20  # not blank
    assert _share_near(image, _rgb(plots.TRACE)) > 0.005  # the filtered traces
    assert _share_near(image, _rgb(plots.THRESHOLD), 6) > 0.0003  # threshold lines
    back = _rgb(plots.BACKGROUND)
    shades = []
    for rgba in (plots.FINAL, plots.PROVISIONAL):  # the spasm's band, final or still open
        colour, alpha = np.array(rgba[:3], float), rgba[3] / 255.0
        shades.append(_share_near(image, back + alpha * (colour - back), 8))
    assert max(shades) > 0.005, shades
    spasms = [r for r in read_episode_log(log) if r["kind"] == "spasm"]
    assert spasms and spasms[0]["channel"] == "EMG1" and abs(spasms[0]["onset_s"] - 24.0) < 0.1


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
