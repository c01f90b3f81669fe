"""The promises of SECURITY.md, checked on the real commands.

One fresh interpreter runs the main commands one after another, as a user would (simulated
recording, detection, report, batch, a recording from the virtual Bluetooth sensor, the live
view with its episode log and screenshot), under a permissive umask and with a Python audit
hook that notes every socket bound, listened on or connected. Afterwards:

- every file the commands wrote is readable and writable by its owner only, and every folder
  they created is the owner's alone, whatever the umask;
- no network socket was bound, listened on or connected (the asyncio loop's own local socket
  pair is not a network socket);
- Lab Streaming Layer and Dask were never imported: they are off unless asked for.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SESSION = r"""
import json, socket, sys

events = []

def audit(event, args):
    if event in ("socket.bind", "socket.connect", "socket.listen"):
        sock = args[0]
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            events.append([event, repr(args[1:])])

sys.addaudithook(audit)
from emgspasm.cli import main

out = sys.argv[1]
codes = {}
commands = {
    "simulate": ["simulate", "--scenario", "night", "--duration", "120", "--fs", "1000",
                 "--out", f"{out}/night.bdf"],
    "detect": ["detect", f"{out}/night.bdf", "--out", f"{out}/episodes.csv", "--quiet"],
    "detect-jsonl": ["detect", f"{out}/night.bdf", "--out", f"{out}/episodes.jsonl",
                     "--format", "jsonl", "--quiet"],
    "report": ["report", f"{out}/night.bdf", "--out", f"{out}/report", "--quiet"],
    "record": ["record", "--device", "virtual:bridge", "--simulate", "night", "--duration", "6",
               "--speed", "20", "--out", f"{out}/recorded.bdf",
               "--episodes", f"{out}/recorded.csv"],
    "batch": ["batch", f"{out}/night.bdf", "--out", f"{out}/batch", "--workers", "1"],
    "live": ["live", "--replay", f"{out}/night.bdf", "--speed", "20", "--duration", "3",
             "--log", f"{out}/live.csv", "--screenshot", f"{out}/live.png"],
}
for name, argv in commands.items():
    codes[name] = main(argv)
print(json.dumps({"codes": codes, "events": events,
                  "modules": sorted(m for m in sys.modules
                                    if m.split(".")[0] in ("pylsl", "dask", "distributed"))}))
"""


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("privacy")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022)\n{SESSION}", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), out


def test_every_command_succeeded(session: tuple[dict, Path]) -> None:
    result, _ = session
    assert result["codes"] == {name: 0 for name in result["codes"]}
    assert len(result["codes"]) == 7


def test_health_data_is_owner_only(session: tuple[dict, Path]) -> None:
    _, out = session
    written = [p for p in out.rglob("*")]
    files = [p for p in written if p.is_file()]
    expected = {
        "night.bdf",
        "night.truth.json",
        "episodes.csv",
        "episodes.jsonl",
        "recorded.bdf",
        "recorded.csv",
        "live.csv",
        "live.png",
    }
    assert expected <= {p.name for p in files}
    assert any(p.parent.name == "report" for p in files)
    assert any(p.parent.name == "batch" for p in files)
    loose = {
        str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in files
        if stat.S_IMODE(p.stat().st_mode) != 0o600
    }
    assert loose == {}
    folders = [p for p in written if p.is_dir()]
    open_folders = {
        str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in folders
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert open_folders == {}


def test_no_network_socket_by_default(session: tuple[dict, Path]) -> None:
    result, _ = session
    assert result["events"] == []


def test_lsl_and_dask_stay_off_unless_asked(session: tuple[dict, Path]) -> None:
    result, _ = session
    assert result["modules"] == []
