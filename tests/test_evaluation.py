"""Scoring against ground truth, the choice of profile per recording, the results table, and the
committed evaluation set (its manifest agrees with its files and with evaluation/make_set.py).

The whole set is run through the detector only in the ``slow`` test at the end.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pyedflib
import pytest

from emgspasm import cli
from emgspasm.config import PROFILES, DetectorConfig
from emgspasm.evaluation import (
    TABLE_COLUMNS,
    Evaluation,
    Event,
    evaluate,
    evaluate_recordings,
    load_truth,
    markdown_table,
    profile_for_scenario,
    read_truth,
    truth_sidecar,
)
from emgspasm.io import open_recording, write_bdf
from emgspasm.pipeline import DetectionResult
from emgspasm.sources.simulator import (
    read_truth_file,
    read_truth_json,
    simulate,
    write_truth_json,
)

REPO = Path(__file__).resolve().parents[1]
SET_DIR = REPO / "evaluation"


def load_make_set():
    """evaluation/make_set.py as a module (it is a script, not part of the package)."""
    path = SET_DIR / "make_set.py"
    spec = importlib.util.spec_from_file_location("make_set", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_set"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


make_set = load_make_set()


def write_sim(folder: Path, name: str, scenario: str, *, sidecar: bool = True, **kwargs) -> Path:
    """A short simulated recording written as BDF+ (and, if ``sidecar``, its truth JSON)."""
    args = {"duration_s": 20.0, "fs": 500.0, "seed": 3, "channels": 1, "mains_hz": 60.0, **kwargs}
    rec = simulate(scenario, **args)
    path = folder / f"{name}.bdf"
    write_bdf(rec, path)
    if sidecar:
        write_truth_json(
            rec, truth_sidecar(path), scenario=scenario, seed=args["seed"], mains_hz=60.0
        )
    return path


@pytest.fixture
def spy_detector(monkeypatch: pytest.MonkeyPatch) -> list[DetectorConfig | None]:
    """Replace the detector run by one that finds nothing and records the configuration it was
    given, so profile choice is tested without running the detector."""
    used: list[DetectorConfig | None] = []

    def fake(reader, config=None, **_):
        used.append(config)
        header = reader.header
        return DetectionResult([], header.duration_s, header.channels, 50.0)

    monkeypatch.setattr("emgspasm.pipeline.detect_stream", fake)
    return used


# --- scoring -------------------------------------------------------------------------------


def test_scores_matches_false_alarms_and_their_causes():
    truth = [
        Event("spasm", "EMG1", 10.0, 30.0),
        Event("spasm", "EMG1", 100.0, 110.0),
        Event("stride", "EMG1", 200.0, 200.3),
        Event("fasciculation", "EMG1", 50.0, 50.01),
        Event("fasciculation", "EMG1", 60.0, 60.01),
    ]
    detected = [
        Event("spasm", "EMG1", 10.2, 30.5, detected_s=12.0),
        Event("spasm", "EMG1", 99.9, 110.0, detected_s=101.5),
        Event("spasm", "EMG1", 199.9, 202.5, detected_s=201.9),  # a stride taken for a cramp
        Event("spasm", "EMG2", 10.2, 30.5, detected_s=12.0),  # right time, wrong channel
        Event("fasciculation", "EMG1", 50.02, 50.03),
        Event("fasciculation", "EMG1", 60.05, 60.06),  # 50 ms late: no match
    ]
    s = evaluate(detected, truth, 1800.0).summary()
    assert s["spasm_true"] == 2 and s["spasm_detected"] == 4 and s["false_spasms"] == 2
    assert s["spasm_precision"] == 0.5 and s["spasm_recall"] == 1.0
    assert s["spasm_f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["false_spasms_per_hour"] == 4.0
    assert s["false_spasm_causes"] == {"spasm": 1, "stride": 1}
    assert s["onset_error_median_ms"] == pytest.approx(150.0)
    assert s["latency_median_s"] == pytest.approx(1.75) and s["latency_max_s"] == 2.0
    assert s["fasciculation_true"] == 2 and s["fasciculation_f1"] == 0.5


def test_pooled_total_and_no_nan_when_nothing_matched():
    a = evaluate([Event("spasm", "EMG1", 5.0, 9.0, 7.0)], [Event("spasm", "EMG1", 5.0, 9.0)], 3600)
    b = evaluate([Event("spasm", "EMG1", 50.0, 59.0, 52.0)], [], 1800.0)
    assert b.summary()["onset_error_median_ms"] is None
    assert b.summary()["latency_max_s"] is None
    total = Evaluation()
    total.add(a)
    total.add(b)
    s = total.summary()
    assert s["hours"] == 1.5 and s["spasm_precision"] == 0.5 and s["spasm_recall"] == 1.0
    assert s["false_spasms_per_hour"] == pytest.approx(1 / 1.5, abs=1e-3)
    assert s["false_spasm_causes"] == {"unexplained": 1}
    json.dumps(s, allow_nan=False)


# --- truth and profile choice ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("training", "training"),
        ("night", "night"),
        ("fasciculation", "night"),
        ("quiet", "night"),
        (None, "night"),
        ("something else", "night"),
    ],
)
def test_profile_for_scenario(scenario, expected):
    assert profile_for_scenario(scenario) == expected
    assert expected in PROFILES


def test_truth_sidecar_carries_the_scenario(tmp_path: Path):
    path = write_sim(tmp_path, "run", "training", channels=2)
    truth = read_truth(path)
    assert truth.source == "sidecar" and truth.scenario == "training" and truth.mains_hz == 60.0
    doc = read_truth_file(truth_sidecar(path))
    assert doc.seed == 3 and doc.fs == 500.0 and doc.duration_s == 20.0
    assert doc.channels == ("EMG1", "EMG2")
    assert [(e.kind, e.channel, e.onset_s) for e in truth.events] == [
        (e.kind, e.channel, e.onset_s) for e in doc.events
    ]
    assert load_truth(path) == truth.events


def test_truth_from_annotations_has_no_scenario(tmp_path: Path):
    path = write_sim(tmp_path, "bare", "training", sidecar=False)
    header = open_recording(path).header
    truth = read_truth(path, header.annotations)
    assert truth.source == "annotations" and truth.scenario is None and truth.mains_hz is None
    kinds = {e.kind for e in truth.events}
    assert "stride" in kinds
    assert profile_for_scenario(truth.scenario) == "night"


def test_a_sidecar_with_only_events_reads(tmp_path: Path):
    path = tmp_path / "hand.truth.json"
    path.write_text('{"events": [{"kind": "spasm", "onset_s": 2, "offset_s": 9, "channel": "A"}]}')
    doc = read_truth_file(path)
    assert doc.scenario is None and doc.seed is None and doc.channels is None
    assert [(e.kind, e.onset_s, e.offset_s) for e in doc.events] == [("spasm", 2.0, 9.0)]
    assert read_truth_json(path) == list(doc.events)


def test_auto_profile_follows_each_recordings_scenario(tmp_path: Path, spy_detector):
    files = [
        write_sim(tmp_path, "a_training", "training"),
        write_sim(tmp_path, "b_night", "night"),
        write_sim(tmp_path, "c_fasc", "fasciculation"),
        write_sim(tmp_path, "d_bare", "training", sidecar=False),
    ]
    rows, total = evaluate_recordings(files)
    assert [r["profile"] for r in rows] == ["training", "night", "night", "night"]
    assert [r["scenario"] for r in rows] == ["training", "night", "fasciculation", None]
    night, training = PROFILES["night"], PROFILES["training"]
    assert spy_detector == [training, night, night, night]
    assert rows[0]["mains_hz"] == 60.0  # from the truth
    assert rows[3]["mains_hz"] == 50.0  # not in the truth: as the detector found it
    assert total["profile"] == "night+training" and total["recordings"] == 4


@pytest.mark.parametrize("choice", ["night", "training"])
def test_explicit_profile_overrides_for_every_file(tmp_path: Path, spy_detector, capsys, choice):
    files = [write_sim(tmp_path, "t", "training"), write_sim(tmp_path, "n", "night")]
    assert cli.main(["evaluate", *map(str, files), "--profile", choice, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["profile"] for r in out["recordings"]] == [choice, choice]
    assert spy_detector == [PROFILES[choice]] * 2


def test_config_file_overrides_for_every_file(tmp_path: Path, spy_detector, capsys):
    files = [write_sim(tmp_path, "t", "training"), write_sim(tmp_path, "n", "night")]
    cfg = PROFILES["night"].replace(on_ratio=5.0, min_duration_s=3.0)
    cfg.to_toml(tmp_path / "mine.toml")
    assert cli.main(["evaluate", *map(str, files), "--config", str(tmp_path / "mine.toml")]) == 0
    assert spy_detector == [cfg, cfg]
    assert "| t.bdf | training |" in capsys.readouterr().out


def test_default_profile_is_auto():
    args = cli.build_parser().parse_args(["evaluate", "x.bdf"])
    assert args.profile == "auto" and args.config is None


# --- table and JSON -------------------------------------------------------------------------


def test_markdown_table_rows_and_total():
    rows = [
        {
            "recording": "a.bdf",
            "scenario": "training",
            "fs": 4000.0,
            "mains_hz": 60.0,
            "channels": 1,
            "profile": "training",
            "hours": 0.1,
            "spasm_true": 2,
            "spasm_precision": 0.5,
            "spasm_recall": 1.0,
            "spasm_f1": 2 / 3,
            "false_spasms_per_hour": 20.0,
            "onset_error_median_ms": 96.4,
            "latency_median_s": 1.6,
            "latency_max_s": 1.71,
            "fasciculation_true": 6,
            "fasciculation_precision": 1.0,
            "fasciculation_recall": 0.5,
            "fasciculation_f1": 2 / 3,
            "false_spasm_causes": {"stride": 2},
        }
    ]
    total = dict(rows[0], recording="TOTAL", onset_error_median_ms=None, false_spasm_causes={})
    lines = markdown_table(rows, total).splitlines()
    assert len(lines) == 4
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head == [h for _, h, _ in TABLE_COLUMNS]
    for needed in ("scenario", "fs (Hz)", "mains (Hz)", "profile", "spasm F1", "false spasms/h"):
        assert needed in head
    row = dict(zip(head, (c.strip() for c in lines[2].strip("|").split("|")), strict=True))
    assert row["recording"] == "a.bdf" and row["profile"] == "training"
    assert row["fs (Hz)"] == "4000" and row["mains (Hz)"] == "60"
    assert row["spasm F1"] == "0.667" and row["false spasms/h"] == "20.00"
    assert row["onset error median (ms)"] == "96" and row["latency max (s)"] == "1.71"
    assert row["false spasms by cause"] == "stride 2"
    tot = dict(zip(head, (c.strip() for c in lines[3].strip("|").split("|")), strict=True))
    assert tot["recording"] == "**TOTAL**" and tot["spasm F1"] == "**0.667**"
    assert tot["fs (Hz)"] == "" and tot["onset error median (ms)"] == "-"
    assert tot["false spasms by cause"] == "-"


def test_cli_table_and_json_from_a_real_run(tmp_path: Path, capsys):
    """The detector really runs here, on two minutes of signal."""
    files = [
        write_sim(tmp_path, "quiet", "quiet", duration_s=60.0, seed=5),
        write_sim(tmp_path, "train", "training", duration_s=60.0, seed=3),
    ]
    assert cli.main(["evaluate", *map(str, files)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| recording | scenario | fs (Hz) | mains (Hz) | ch | profile |")
    assert lines[2].startswith("| quiet.bdf | quiet | 500 | 60 | 1 | night | 0.017 |")
    assert lines[3].startswith("| train.bdf | training | 500 | 60 | 1 | training | 0.017 |")
    assert lines[4].startswith("| **TOTAL** | quiet+training |  |  | **2** | night+training |")

    assert cli.main(["evaluate", *map(str, files), "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    quiet, train = out["recordings"]
    assert quiet["profile"] == "night" and train["profile"] == "training"
    assert quiet["spasm_true"] == 0 and quiet["onset_error_median_ms"] is None
    for key in (
        "spasm_precision",
        "spasm_recall",
        "spasm_f1",
        "false_spasms_per_hour",
        "onset_error_median_ms",
        "latency_median_s",
        "latency_max_s",
        "fasciculation_f1",
    ):
        assert key in out["total"]
    assert out["total"]["hours"] == pytest.approx(quiet["hours"] + train["hours"], abs=1e-3)
    assert out["total"]["spasm_true"] == quiet["spasm_true"] + train["spasm_true"]


# --- the committed evaluation set -----------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    entries = make_set.read_manifest(SET_DIR)
    assert entries, "evaluation/manifest.toml is missing or empty"
    return entries


def test_manifest_is_the_recipe_of_make_set(manifest):
    assert [e["file"] for e in manifest] == [f"{s.name}.bdf" for s in make_set.SET]
    for e, spec in zip(manifest, make_set.SET, strict=True):
        assert (e["scenario"], e["fs"], e["channels"], e["mains_hz"], e["seed"]) == (
            spec.scenario,
            spec.fs,
            spec.channels,
            spec.mains_hz,
            spec.seed,
        )
        assert e["duration_s"] == spec.duration_s
        assert e["profile"] == profile_for_scenario(e["scenario"])
        if spec.ecg is not None:
            assert e["ecg_crosstalk"] == spec.ecg


def test_manifest_matches_the_files(manifest):
    for e in manifest:
        path = SET_DIR / e["file"]
        assert path.is_file(), e["file"]
        with pyedflib.EdfReader(
            str(path), annotations_mode=pyedflib.DO_NOT_READ_ANNOTATIONS
        ) as edf:
            n = edf.signals_in_file
            assert n == e["channels"], e["file"]
            assert edf.getSignalLabels() == [f"EMG{i + 1}" for i in range(n)]
            assert list(edf.getSampleFrequencies()) == [e["fs"]] * n, e["file"]
            assert edf.getFileDuration() >= e["duration_s"], e["file"]
        # the true end is the file's end mark (its last records are padding and annotations)
        assert open_recording(path).header.duration_s == e["duration_s"], e["file"]
        doc = read_truth_file(SET_DIR / e["truth"])
        assert (doc.scenario, doc.seed, doc.fs, doc.mains_hz, doc.duration_s) == (
            e["scenario"],
            e["seed"],
            e["fs"],
            e["mains_hz"],
            e["duration_s"],
        )
        assert len(doc.channels) == e["channels"]
        assert sum(t.kind == "spasm" for t in doc.events) == e["spasms"]
        assert sum(t.kind == "fasciculation" for t in doc.events) == e["fasciculations"]
        assert any(t.kind == "ecg" for t in doc.events) == e["ecg_crosstalk"]
    listed = {e["file"] for e in manifest} | {e["truth"] for e in manifest}
    present = {p.name for p in SET_DIR.iterdir() if p.suffix in (".bdf", ".json")}
    assert present == listed


def test_set_covers_what_it_should(manifest):
    assert {e["scenario"] for e in manifest} == {"night", "training", "fasciculation", "quiet"}
    assert {e["fs"] for e in manifest} == {500.0, 1000.0, 2000.0, 4000.0}
    assert {e["mains_hz"] for e in manifest} == {50.0, 60.0}
    assert {e["channels"] for e in manifest} == {1, 2, 3, 4}
    assert any(e["scenario"] == "night" and e["ecg_crosstalk"] for e in manifest)
    hours = sum(e["duration_s"] for e in manifest) / 3600
    assert 1.5 <= hours <= 2.1
    size = sum((SET_DIR / e["file"]).stat().st_size for e in manifest)
    assert size < 60e6


def test_readme_table_is_the_manifest(manifest):
    text = (SET_DIR / "README.md").read_text(encoding="utf-8")
    start = text.index(make_set.TABLE_START) + len(make_set.TABLE_START)
    table = text[start : text.index(make_set.TABLE_END)].strip()
    assert table == make_set.manifest_table(manifest)


def test_a_committed_recording_regenerates_bit_for_bit(tmp_path: Path):
    spec = next(s for s in make_set.SET if s.name == "quiet1_1000hz_1ch_5min")
    make_set.write_one(spec, tmp_path, search=False)
    for name in (f"{spec.name}.bdf", f"{spec.name}.truth.json"):
        assert (tmp_path / name).read_bytes() == (SET_DIR / name).read_bytes(), name


def test_held_out_set_has_other_seeds(tmp_path: Path, manifest, capsys):
    name = "quiet2_2000hz_1ch_5min"
    assert make_set.main(["--held-out", str(tmp_path), "--only", name, "--base", "5000"]) == 0
    (entry,) = make_set.read_manifest(tmp_path)
    committed = next(e for e in manifest if e["file"] == f"{name}.bdf")
    index = [s.name for s in make_set.SET].index(name)
    assert entry["file"] == f"heldout_{name}.bdf"
    assert entry["seed"] >= 5000 + 1000 * index and entry["seed"] != committed["seed"]
    assert entry["ecg_crosstalk"] is False  # as the recipe asks
    for key in ("scenario", "fs", "channels", "mains_hz", "duration_s", "profile"):
        assert entry[key] == committed[key]
    rec = open_recording(tmp_path / entry["file"]).header
    assert rec.fs == committed["fs"]
    doc = read_truth_file(tmp_path / entry["truth"])
    assert doc.seed == entry["seed"] and doc.scenario == "quiet"
    assert not (SET_DIR / entry["file"]).exists()
    assert "heldout_" in capsys.readouterr().out


# --- the targets, on the whole set ----------------------------------------------------------


@pytest.mark.slow
def test_detector_meets_the_targets_on_the_evaluation_set(manifest):
    files = [SET_DIR / e["file"] for e in manifest]
    rows, total = evaluate_recordings(files)
    assert [r["profile"] for r in rows] == [e["profile"] for e in manifest]
    table = markdown_table(rows, total)
    assert total["spasm_f1"] >= 0.95, table
    assert total["false_spasms_per_hour"] <= 1.0, table
    assert total["fasciculation_f1"] >= 0.90, table
