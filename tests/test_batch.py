"""``emgspasm batch``: per-recording results identical to ``emgspasm detect``, the cohort table,
resuming an interrupted batch, exit codes, ``--force``, isolation of a crashing worker.

The recordings are short simulated ones written as real BDF+ files, plus one BDF cut in half.
The Dask cluster path is in ``test_batch_dask.py``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from emgspasm.batch import (
    EXIT_FAILED,
    EXIT_OK,
    LocalPool,
    ReadOptions,
    Task,
    config_hash,
    process_recording,
    run_batch,
)
from emgspasm.batch.plan import expand_inputs, result_names
from emgspasm.batch.quality import ClipTap, quality_shares, union_length
from emgspasm.cli import main
from emgspasm.config import profile
from emgspasm.detect import Detector, QualitySegment
from emgspasm.frames import Annotation, Gap
from emgspasm.io import write_bdf
from emgspasm.recording import RecordingHeader
from emgspasm.sources.simulator import simulate

REPO = Path(__file__).resolve().parents[1]
SPECS = {
    # name: (scenario, seconds, fs, channels, seed, mains)
    "fasc": ("fasciculation", 20.0, 2000.0, 2, 2, 50.0),
    "night": ("night", 30.0, 2000.0, 2, 1, 50.0),
    "quiet": ("quiet", 20.0, 2000.0, 2, 4, 60.0),
    "train": ("training", 20.0, 1000.0, 1, 3, 50.0),
}


@pytest.fixture(scope="session")
def batch_recordings(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Four good recordings, one corrupt one, and each good one's ``emgspasm detect`` log."""
    root = tmp_path_factory.mktemp("batch-recordings")
    good = []
    expected = {}
    for name, (scenario, seconds, fs, channels, seed, mains) in SPECS.items():
        path = root / f"{name}.bdf"
        write_bdf(
            simulate(scenario, seconds, fs=fs, seed=seed, channels=channels, mains_hz=mains), path
        )
        log = root / f"{name}.detect.csv"
        assert main(["detect", str(path), "--out", str(log), "--quiet"]) == 0
        good.append(path)
        expected[name] = log.read_bytes()
    corrupt = root / "corrupt.bdf"
    data = good[1].read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])  # a night cut short, header intact
    return {"dir": root, "good": good, "corrupt": corrupt, "expected": expected}


def expected_counts(log: bytes, duration_s: float) -> dict:
    """Spasm/fasciculation counts and rates as the summary must give them, from a detect log."""
    rows = list(csv.DictReader(log.decode().splitlines()))
    spasms = [float(r["duration_s"]) for r in rows if r["kind"] == "spasm"]
    fasc = sum(1 for r in rows if r["kind"] == "fasciculation")
    return {
        "spasms": len(spasms),
        "spasms_per_h": len(spasms) * 3600.0 / duration_s,
        "fasciculations": fasc,
        "fasciculations_per_h": fasc * 3600.0 / duration_s,
        "fasciculations_per_min": fasc * 60.0 / duration_s,
        "mean_spasm_duration_s": sum(spasms) / len(spasms) if spasms else None,
    }


def check_results(out: Path, recordings: dict, names: list[str] | None = None) -> None:
    """Every good recording's log is byte-identical to detect's and its summary agrees with it;
    every file is owner-only and no temporary file is left."""
    for name in names or list(SPECS):
        log = out / f"{name}.episodes.csv"
        assert log.read_bytes() == recordings["expected"][name], name
        summary = json.loads((out / f"{name}.summary.json").read_text())
        scenario, seconds, fs, channels, _seed, mains = SPECS[name]
        assert summary["status"] == "ok" and summary["error"] is None
        assert summary["duration_s"] == pytest.approx(seconds)
        assert summary["fs_hz"] == fs and len(summary["channels"]) == channels
        assert summary["mains_hz"] == mains
        assert summary["episode_log"] == log.name
        assert summary["config_hash"] == config_hash(profile("night"))
        assert summary["emgspasm_version"]
        for key, value in expected_counts(log.read_bytes(), seconds).items():
            assert summary[key] == pytest.approx(value, abs=1e-5), (name, key)
        assert 0.0 <= summary["quality_share"] <= 1.0
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def cohort(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "cohort.csv", newline="") as fh:
        return {Path(r["file"]).stem: r for r in csv.DictReader(fh)}


def test_interrupted_batch_resumes_with_only_the_missing_recordings(
    batch_recordings: dict, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    good = [str(p) for p in batch_recordings["good"]]
    seen = []

    def stop_after_two(row) -> None:
        seen.append(row.name)
        if len(seen) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does half way through

    with pytest.raises(KeyboardInterrupt):
        run_batch(good, out, workers=1, on_result=stop_after_two)

    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    done = sorted(p.name.split(".")[0] for p in out.glob("*.summary.json"))
    assert set(seen) <= set(done) and 2 <= len(done) < len(good)
    table = cohort(out)
    assert sorted(k for k, r in table.items() if r["status"] == "ok") == sorted(seen)
    assert {r["status"] for k, r in table.items() if k not in seen} == {"pending"}
    check_results(out, batch_recordings, done)  # complete results only, nothing half written
    before = {n: (out / f"{n}.summary.json").stat().st_mtime_ns for n in done}

    report = run_batch(good, out, workers=2)

    assert report.exit_code == EXIT_OK
    assert report.reused == len(done) and report.processed == len(good) - len(done)
    assert {r.name for r in report.rows if not r.reused} == set(SPECS) - set(done)
    after = {n: (out / f"{n}.summary.json").stat().st_mtime_ns for n in done}
    assert after == before  # the finished ones were not touched
    check_results(out, batch_recordings)
    table = cohort(out)
    assert {r["status"] for r in table.values()} == {"ok"}
    assert {k for k, r in table.items() if r["reused"] == "1"} == set(done)
    log_lines = (out / "batch.log").read_text().splitlines()
    assert sum(" ok " in line for line in log_lines) == len(good)
    assert any(" interrupted: " in line for line in log_lines)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe")
def test_ctrl_c_stops_the_batch_cleanly_and_a_rerun_does_the_rest(
    batch_recordings: dict, tmp_path: Path
) -> None:
    """A real ``emgspasm batch`` process gets Ctrl-C (SIGINT to its process group, as a terminal
    sends it) while its worker is stuck on a recording that never arrives (a named pipe): it
    exits with 130, keeps the finished result, leaves no partial file and no worker behind."""
    src = tmp_path / "in"
    src.mkdir()
    for p in batch_recordings["good"]:
        (src / p.name).symlink_to(p)
    os.mkfifo(src / "g-stalled.csv")  # sorts after fasc.bdf, before night.bdf
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emgspasm.cli",
            "batch",
            str(src / "*"),
            "--out",
            str(out),
            "--workers",
            "1",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "fasc.summary.json").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.2)  # the worker is now waiting on the pipe
        assert proc.poll() is None
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [
        "batch.log",
        "cohort.csv",
        "fasc.episodes.csv",
        "fasc.summary.json",
    ]
    table = cohort(out)
    assert table["fasc"]["status"] == "ok"
    assert {k: r["status"] for k, r in table.items() if k != "fasc"} == dict.fromkeys(
        ["g-stalled", "night", "quiet", "train"], "pending"
    )
    check_results(out, batch_recordings, ["fasc"])

    report = run_batch([str(src / "*.bdf")], out, workers=1)
    assert report.exit_code == EXIT_OK
    assert [r.name for r in report.rows if r.reused] == ["fasc"]
    assert report.processed == 3
    check_results(out, batch_recordings)


def test_exit_codes_force_and_no_dask_without_scheduler(
    batch_recordings: dict, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    good = [str(p) for p in batch_recordings["good"]]
    corrupt = str(batch_recordings["corrupt"])
    # A real process: exit code 0 when every recording succeeds, and Dask is never imported.
    script = (
        "import sys; from emgspasm.cli import main; rc = main(sys.argv[1:]); "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; "
        "sys.exit(rc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, "batch", *good, "--out", str(out), "--workers", "2"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == EXIT_OK, run.stderr
    assert f"{len(good)} recording(s): {len(good)} processed" in run.stdout
    check_results(out, batch_recordings)
    stamps = {n: (out / f"{n}.summary.json").stat().st_mtime_ns for n in SPECS}

    # One corrupt file among them: the others are kept, it is reported, the exit code says so.
    assert main(["batch", *good, corrupt, "--out", str(out), "--quiet"]) == EXIT_FAILED
    table = cohort(out)
    assert table["corrupt"]["status"] == "error"
    assert "cut short" in table["corrupt"]["error"]
    assert all(table[n]["status"] == "ok" and table[n]["reused"] == "1" for n in SPECS)
    assert {n: (out / f"{n}.summary.json").stat().st_mtime_ns for n in SPECS} == stamps
    bad = json.loads((out / "corrupt.summary.json").read_text())
    assert bad["status"] == "error" and "cut short" in bad["error"]
    assert not (out / "corrupt.episodes.csv").exists()
    assert any(
        "error" in line and "corrupt.bdf" in line
        for line in (out / "batch.log").read_text().splitlines()
    )

    # --force processes everything again, with the same results.
    assert main(["batch", *good, "--out", str(out), "--force", "--quiet"]) == EXIT_OK
    assert all((out / f"{n}.summary.json").stat().st_mtime_ns != stamps[n] for n in SPECS)
    assert all(r["reused"] == "0" for r in cohort(out).values())
    check_results(out, batch_recordings)

    # Another configuration is not the same work: everything is done again under its hash.
    assert main(["batch", *good, "--out", str(out), "--profile", "training", "--quiet"]) == 0
    rows = cohort(out)
    assert {r["config_hash"] for r in rows.values()} == {config_hash(profile("training"))}
    assert all(r["reused"] == "0" for r in rows.values())


def crash_on_boom(task: Task) -> str:
    """Stands in for the worker: dies like a segfault on the task named ``boom``."""
    if task.name == "boom":
        os._exit(70)
    return task.name


def test_a_worker_that_dies_costs_only_its_own_recording(tmp_path: Path) -> None:
    tasks = [
        Task(str(tmp_path / f"{n}.bdf"), n, str(tmp_path), profile("night"))
        for n in ("a", "b", "boom", "c", "d")
    ]
    with LocalPool(2) as pool:
        outcomes = dict((t.name, o) for t, o in pool.run(crash_on_boom, tasks))
    assert set(outcomes) == {"a", "b", "boom", "c", "d"}
    assert isinstance(outcomes.pop("boom"), Exception)
    assert outcomes == {n: n for n in outcomes}


def test_a_failed_recording_leaves_a_summary_and_no_stale_log(
    batch_recordings: dict, tmp_path: Path
) -> None:
    stale = tmp_path / "corrupt.episodes.csv"
    stale.write_text("kind,channel\nspasm,EMG1\n")
    summary = process_recording(batch_recordings["corrupt"], profile("night"), tmp_path)
    assert not summary.ok and "cut short" in summary.error
    assert summary.channels == [] and summary.source_size is not None
    assert not stale.exists()
    written = json.loads((tmp_path / "corrupt.summary.json").read_text())
    assert written["status"] == "error" and written["error"] == summary.error
    missing = process_recording(tmp_path / "nowhere.bdf", profile("night"), tmp_path)
    assert missing.error == "no such file"


def test_clip_tap_counts_what_the_detector_counts_and_shares_count_overlaps_once() -> None:
    rec = simulate("night", 12.0, fs=1000.0, seed=5, channels=2)
    level = float(np.quantile(np.abs(rec.samples), 0.995))
    config = profile("night").replace(clip_level=level)
    tap = ClipTap(rec, level)
    detector = Detector(config)
    for frame in tap.frames(777):  # runs that cross frame boundaries are merged
        detector.process(frame)
    detector.flush()
    counted = {ch: union_length(runs, rec.n_samples) for ch, runs in tap.spans.items()}
    assert counted == detector.clipped_samples and sum(counted.values()) > 0
    for runs in tap.spans.values():
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(runs, runs[1:], strict=False))

    header = RecordingHeader(
        fs=100.0,
        channels=("A", "B"),
        units=("uV", "uV"),
        n_samples=1000,
        gaps=(Gap(100, 50),),
        annotations=(Annotation(1.2, 0.5, "clipped", "A"), Annotation(0.0, 1.0, "spasm", "A")),
    )
    segments = [
        QualitySegment("gap", "A", 100, 150),
        QualitySegment("gap", "B", 100, 150),
        QualitySegment("flat", "B", 500, 700),
    ]
    shares = quality_shares(header, segments, {"A": [(160, 180)], "B": [(600, 800)]})
    assert shares.gap == pytest.approx(100 / 2000)  # header gap and detector gap are one
    assert shares.flat == pytest.approx(200 / 2000)
    assert shares.clipped == pytest.approx((60 + 200) / 2000)  # A: 120-170 and 160-180
    assert shares.any == pytest.approx((80 + 50 + 300) / 2000)  # A: 100-180; B: gap, 500-800


def test_planning_names_globs_and_own_outputs(tmp_path: Path) -> None:
    names = result_names(["a/night.bdf", "b/night.bdf", "b/day.csv", "c/Day.bdf", "x.edf"])
    assert names[4] == "x" and len(set(names)) == 5
    assert names[0].startswith("night-") and names[2].startswith("day-")
    assert result_names(["a/night.bdf", "b/night.bdf"]) == names[:2]  # stable between runs

    out = tmp_path / "out"
    out.mkdir()
    for name in ("b.bdf", "a.bdf", "out/cohort.csv", "out/a.episodes.csv", "out/a.summary.json"):
        (tmp_path / name).write_text("")
    paths, notes = expand_inputs(
        [
            str(tmp_path / "*.bdf"),
            str(tmp_path / "a.bdf"),
            str(out / "*"),
            "none*.bdf",
            "missing.bdf",
        ],
        out,
    )
    assert [Path(p).name for p in paths] == ["a.bdf", "b.bdf", "missing.bdf"]
    assert len(notes) == 2 and all("matches" in n for n in notes)
    assert ReadOptions().to_dict() == {"format": None, "fs": None, "skip_bad_lines": False}


def test_cli_reports_no_recordings_and_bad_workers(tmp_path: Path, capsys) -> None:
    assert main(["batch", str(tmp_path / "*.bdf"), "--out", str(tmp_path / "o")]) == 3
    assert "no recordings" in capsys.readouterr().err
    assert main(["batch", "x.bdf", "--out", str(tmp_path / "o"), "--workers", "0"]) == 1
    assert "--workers" in capsys.readouterr().err
