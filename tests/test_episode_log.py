"""The episode log: its public columns, owner-only files, and reading it back."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from emgspasm.frames import Episode
from emgspasm.sinks.episode_log import COLUMNS, EpisodeLogWriter, read_episode_log


@pytest.mark.parametrize("name", ["log.csv", "log.jsonl"])
def test_written_owner_only_even_over_an_open_file_and_read_back(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text("old\n")
    path.chmod(0o644)
    episodes = [
        Episode("spasm", "EMG1", 2000, 9000, 6000, 1000.0, 80.0, 20.0, 2.0),
        Episode("fasciculation", "EMG2", 12000, 12006, 15000, 1000.0, 90.0, 90.0, 2.0),
    ]
    with EpisodeLogWriter(path) as log:
        log.write(episodes)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = read_episode_log(path)
    rows = [(r["kind"], r["channel"], r["onset_sample"], r["offset_sample"]) for r in back]
    assert [(k, c, int(float(a)), int(float(b))) for k, c, a, b in rows] == [
        (e.kind, e.channel, e.onset, e.offset) for e in episodes
    ]
    if name.endswith(".csv"):
        header = path.read_text().splitlines()[0].split(",")
        public = "kind channel onset_s offset_s duration_s detected_s peak rms".split()
        assert header[:8] == public
        assert header == list(COLUMNS)
