"""The night report: a simulated 8-hour night, its episode log with markers, the page and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from emgspasm.cli import main
from emgspasm.frames import Annotation, Frame
from emgspasm.io import BdfWriter, open_recording, write_bdf
from emgspasm.live.log import LiveEpisodeLog, marker
from emgspasm.pipeline import detect_stream
from emgspasm.recording import Recording
from emgspasm.report.timeaxis import TimeAxis, bin_edges, step_for
from emgspasm.sinks.episode_log import read_episode_log
from emgspasm.sources.simulator import simulate

FS = 250.0
HOURS = 8
GAP = (int(3.5 * 3600 * FS), int(300 * FS))  # five minutes lost after 3.5 h
START = datetime(2024, 3, 2, 22, 45, 0)


PIECE_S = 1800.0


def _simulated_night() -> Recording:
    """Eight simulated hours, one channel at 250 Hz: two simulated half hours (two seeds)
    taking turns, which is eight times faster to make than one eight-hour simulation."""
    pieces = [simulate("night", PIECE_S, fs=FS, seed=seed, channels=1) for seed in (5, 6)]
    count = int(HOURS * 3600 / PIECE_S)
    samples = np.concatenate([pieces[k % 2].samples for k in range(count)])
    annotations = tuple(
        replace(a, onset_s=round(a.onset_s + PIECE_S * k, 6))
        for k in range(count)
        for a in pieces[k % 2].annotations
    )
    return replace(pieces[0], samples=samples, annotations=annotations)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An 8-hour simulated night written as BDF+ with a gap and "stretching" annotations, and
    its episode log with marker rows (as the live view writes them)."""
    folder = tmp_path_factory.mktemp("night")
    rec = _simulated_night()
    truth = [a for a in rec.annotations if a.description == "spasm"]
    stretching = [Annotation(round(a.onset_s + 4.0, 3), 0.0, "stretching") for a in truth[::4]]
    path = folder / "night.bdf"
    with BdfWriter(
        path, FS, rec.channels, rec.units, physical_range=(-5000, 5000), start_time=START
    ) as writer:
        for a in stretching:
            writer.annotate(a)
        x = rec.samples
        block = int(600 * FS)
        at, lost = GAP
        for start in range(0, rec.n_samples, block):
            stop = min(start + block, rec.n_samples)
            if start <= at < stop:
                writer.write(Frame(x[start:at], start, FS, rec.channels))
                writer.write(Frame(x[at + lost : stop], at + lost, FS, rec.channels, lost))
            else:
                writer.write(Frame(x[start:stop], start, FS, rec.channels))
    reader = open_recording(path)
    result = detect_stream(reader)
    log = folder / "episodes.csv"
    with LiveEpisodeLog(log) as live:
        live.fs = FS
        live.add_episodes(result.episodes)
        spasms = [e for e in result.episodes if e.kind == "spasm"]
        for ep in spasms[1::5]:  # "voluntary" well inside some spasms, "stretching" after one
            live.annotate(marker(ep.onset_s + 1.0, "voluntary"))
        live.annotate(marker(spasms[0].offset_s + 20.0, "stretching"))
        live.annotate(marker(spasms[0].offset_s + 90.0, "lights on"))  # too late: no spasm
    return {"bdf": path, "log": log, "episodes": result.episodes, "stretching": stretching}


def _nonblank_png(path: Path) -> None:
    assert path.stat().st_size > 5000, f"{path.name} is nearly empty"
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 800
    ink = (image[..., :3] < 0.9).any(axis=2).mean()  # share of pixels that are not white
    assert ink > 0.02, f"{path.name} is blank"


def test_night_report_from_a_log(night: dict, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert (
        main(
            [
                "report",
                str(night["bdf"]),
                "--episodes",
                str(night["log"]),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    html = (out / "index.html").read_text()

    # figures exist, are pictures, and are linked from the page, which needs nothing online
    names = set(summary["figures"].values())
    assert names == {
        f"{n}.png"
        for n in (
            "timeline",
            "periods",
            "distributions",
            "time_of_night",
            "rest_activity",
            "fasciculation_rate",
            "quality",
            "markers",
        )
    }
    for name in names:
        _nonblank_png(out / name)
        assert f'src="{name}"' in html
    assert "http://" not in html and "https://" not in html and "<script" not in html

    # the numbers are the log's
    rows = read_episode_log(night["log"])
    episodes = [r for r in rows if r["kind"] != "marker"]
    markers = [r for r in rows if r["kind"] == "marker"]
    spasms = [r for r in episodes if r["kind"] == "spasm"]
    fasc = [r for r in episodes if r["kind"] == "fasciculation"]
    totals = summary["totals"]
    assert totals["spasm"]["count"] == len(spasms) > 20
    assert totals["fasciculation"]["count"] == len(fasc) > 100
    assert totals["spasm"]["by_channel"] == {"EMG1": len(spasms)}
    durations = [r["offset_s"] - r["onset_s"] for r in spasms]
    assert totals["spasm"]["time_in_spasm_s"] == pytest.approx(sum(durations), abs=1e-2)
    recorded_h = (HOURS * 3600 - GAP[1] / FS) / 3600
    assert summary["recording"]["recorded_s"] == pytest.approx(recorded_h * 3600, abs=1e-3)
    assert totals["spasm"]["per_hour"] == pytest.approx(len(spasms) / recorded_h, abs=1e-3)
    assert summary["durations"]["spasm_s"]["median"] == pytest.approx(
        np.median(durations), abs=1e-3
    )
    assert summary["durations"]["spasm_s"]["max"] == pytest.approx(max(durations), abs=1e-3)
    assert sum(summary["durations"]["spasm_s"]["histogram"]["counts"]) == len(spasms)
    relative = [float(r["relative_rms"]) for r in spasms]
    assert summary["intensity"]["spasm_relative_rms"]["median"] == pytest.approx(
        np.median(relative), rel=1e-3
    )

    # an 8-hour night: hourly periods, half-hour clock bins, 5-minute rate bins
    periods = summary["periods"]
    assert periods["bin_s"] == 3600 and len(periods["start_s"]) == HOURS
    assert sum(periods["counts"]["spasm"]["EMG1"]) == len(spasms)
    assert sum(periods["counts"]["fasciculation"]["EMG1"]) == len(fasc)
    fourth = [r for r in spasms if 3 * 3600 <= r["onset_s"] < 4 * 3600]
    assert periods["counts"]["spasm"]["EMG1"][3] == len(fourth)
    assert periods["recorded_s"][3] == pytest.approx(3600 - GAP[1] / FS)
    assert periods["label"][:2] == ["22:45", "23:45"]
    t = summary["time_of_night"]
    assert t["clock"] and t["bin_s"] == 1800 and t["label"][0] == "22:30"
    assert sum(t["spasm_rest"]) + sum(t["spasm_activity"]) == len(spasms)
    assert summary["fasciculation_rate"]["bin_s"] == 300
    ra = summary["rest_vs_activity"]
    assert ra["spasm"]["rest"] + ra["spasm"]["activity"] == len(spasms)
    assert ra["fasciculation"]["rest"] + ra["fasciculation"]["activity"] == len(fasc)

    # quality: the five lost minutes are a gap
    assert summary["quality"]["gaps"] == [
        {"start_s": GAP[0] / FS, "stop_s": (GAP[0] + GAP[1]) / FS}
    ]

    # markers: the recording's and the log's, each with the spasm it followed
    listed = summary["markers"]
    assert len(listed) == len(night["stretching"]) + len(markers)
    assert {m["source"] for m in listed} == {"recording", "log"}
    for m in listed:
        going = [r for r in spasms if r["onset_s"] <= m["time_s"] <= r["offset_s"] + 60]
        if not going:
            assert m["spasm"] is None and m["time_to_resolution_s"] is None
            continue
        best = max(going, key=lambda r: r["offset_s"])
        assert m["spasm"]["onset_s"] == pytest.approx(best["onset_s"], abs=1e-3)
        assert m["time_to_resolution_s"] == pytest.approx(best["offset_s"] - m["time_s"], abs=2e-3)
    late = [m for m in listed if m["label"] == "lights on"]
    assert late[0]["spasm"] is None
    after = [m for m in listed if m["source"] == "log" and m["label"] == "stretching"][0]
    assert after["time_to_resolution_s"] == pytest.approx(-20.0, abs=2e-3)

    # the "voluntary" markers were made a second after spasm onsets: a marker inside a spasm
    # does not make that spasm "during activity" (only what came before the onset counts)
    assert ra["spasm"]["activity_by_annotation"] == 0

    assert "Night report" in html and "summary.json" in html


def test_short_session_runs_the_detector(tmp_path: Path) -> None:
    rec = simulate("night", 600.0, fs=500.0, seed=2, channels=2)
    path = tmp_path / "session.bdf"
    write_bdf(rec, path)
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    found = detect_stream(open_recording(path)).episodes
    assert summary["episodes_source"] == "detector"
    for kind in ("spasm", "fasciculation"):
        assert summary["totals"][kind]["count"] == sum(1 for e in found if e.kind == kind)
    # ten minutes: one-minute periods, 30 s clock bins, 10 s rate bins, labels in min:s
    assert summary["periods"]["bin_s"] == 60 and len(summary["periods"]["start_s"]) == 10
    assert summary["periods"]["label"][:3] == ["0:00", "1:00", "2:00"]
    assert summary["time_of_night"]["bin_s"] == 30
    assert summary["fasciculation_rate"]["bin_s"] == 10
    assert "markers" not in summary["figures"]  # no marker, no marker figure
    for name in summary["figures"].values():
        _nonblank_png(out / name)
    html = (out / "index.html").read_text()
    assert "Session report" in html and "No markers" in html


def test_time_axis_adapts() -> None:
    assert step_for(600, 12, 60) == 60
    assert step_for(10 * 3600, 12, 60) == 3600
    assert step_for(8 * 3600, 120, 10) == 300
    assert bin_edges(600.4, 60)[-2:] == [540, 600.4]  # a short tail joins the last bin
    axis = TimeAxis(8 * 3600, START)
    positions, labels = axis.ticks()
    assert labels[0] == "23:00" and len(labels) <= 10
    assert positions[0] == pytest.approx(15 * 60)
    short = TimeAxis(600)
    assert short.ticks()[1][:2] == ["0:00", "1:00"]
    assert all(
        math.isclose(a, b) for a, b in zip(axis.clock_bins(1800)[:2], [-900, 900], strict=True)
    )


def test_report_refuses_a_bad_log(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,channel,onset_s\nspasm,EMG1,abc\n")
    short = tmp_path / "short.bdf"
    write_bdf(replace(simulate("quiet", 30.0, fs=250.0, seed=1), start_time=None), short)
    code = main(["report", str(short), "--episodes", str(bad), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "row 2 has no valid" in capsys.readouterr().err


def test_rest_or_activity_from_the_signal_and_from_markers(tmp_path: Path) -> None:
    """A spasm right after a brief voluntary burst is during activity; one after a "walking"
    marker too; one out of quiet rest (with twitches around) is at rest."""
    fs = 1000.0
    rng = np.random.default_rng(4)
    n = int(90 * fs)
    x = rng.normal(0.0, 2.0, n)
    for start, stop in ((10.0, 11.0), (13.0, 25.0), (42.0, 52.0), (70.0, 80.0)):
        i0, i1 = int(start * fs), int(stop * fs)
        x[i0:i1] += rng.normal(0.0, 60.0, i1 - i0)
    for t in (36.0, 38.5, 40.5, 65.0, 67.5):  # isolated twitches: not activity
        i = int(t * fs)
        x[i : i + 8] += np.hanning(8) * 300.0
    rec = Recording(
        x.astype(np.float32)[:, None],
        fs,
        ("EMG1",),
        ("uV",),
        annotations=(Annotation(68.0, 0.0, "walking"),),
    )
    path = tmp_path / "activity.bdf"
    write_bdf(rec, path)
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    spasms = summary["spasms"]
    assert [round(s["onset_s"]) for s in spasms] == [13, 42, 70]
    assert [s["during_activity"] for s in spasms] == [True, False, True]
    ra = summary["rest_vs_activity"]["spasm"]
    assert (ra["activity_by_signal"], ra["activity_by_annotation"], ra["rest"]) == (1, 1, 1)
    assert [m["label"] for m in summary["markers"]] == ["walking"]
