"""Regenerate the evaluation set in this folder, or a held-out set with other seeds elsewhere.

Run from the repository root:

    python evaluation/make_set.py                      # the committed set, here
    python evaluation/make_set.py --held-out DIR       # the same recipe, other seeds, into DIR
    python evaluation/make_set.py --only NAME [...]    # just these recordings of the set

The simulator is deterministic, so the committed set comes out bit for bit the same each time.
Each recording is a BDF+ file (24-bit, truth as annotations ``kind@channel``) with a
``NAME.truth.json`` sidecar, listed in ``manifest.toml`` with the profile it is scored with; the
manifest table in ``README.md`` (between the ``manifest`` markers) is rewritten to match.

The held-out set follows the same recipe (scenarios, lengths, rates, mains, channels, ECG
crosstalk on or off) with seeds the detector was never tuned on: recording ``i`` takes the first
seed from ``BASE + 1000 * i`` (``--base``, default 1000000) whose simulation has the ECG
crosstalk the recipe asks for. Its manifest is written beside it; nothing is committed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import tomli_w

from emgspasm.evaluation import profile_for_scenario, truth_sidecar
from emgspasm.io import write_bdf
from emgspasm.recording import Recording
from emgspasm.sources.simulator import simulate, truth_events, write_truth_json

HERE = Path(__file__).resolve().parent
MANIFEST = "manifest.toml"
README = "README.md"
TABLE_START = "<!-- manifest:start -->"
TABLE_END = "<!-- manifest:end -->"
HELD_OUT_BASE = 1_000_000
HELD_OUT_STRIDE = 1000
MAX_SEED_TRIES = 50


@dataclass(frozen=True)
class Spec:
    """One recording of the set: what to simulate, and whether it must show ECG crosstalk
    (``ecg``: True or False; None when either will do)."""

    name: str
    scenario: str
    duration_s: float
    fs: float
    channels: int
    mains_hz: float
    seed: int
    ecg: bool | None = None

    @property
    def profile(self) -> str:
        """The detector profile this recording is scored with."""
        return profile_for_scenario(self.scenario)


SET: tuple[Spec, ...] = (
    # Nights: several cramps, one spreading to other channels, fasciculations, movements,
    # motion artifacts, electrode pops, ECG crosstalk on most.
    Spec("night1_1000hz_2ch_15min", "night", 900.0, 1000.0, 2, 50.0, 101, ecg=True),
    Spec("night2_500hz_2ch_15min", "night", 900.0, 500.0, 2, 60.0, 121, ecg=True),
    Spec("night3_2000hz_1ch_12min", "night", 720.0, 2000.0, 1, 60.0, 103, ecg=False),
    Spec("night4_4000hz_1ch_10min", "night", 600.0, 4000.0, 1, 50.0, 104, ecg=True),
    Spec("night5_1000hz_4ch_8min", "night", 480.0, 1000.0, 4, 60.0, 156, ecg=True),
    # Training: running strides, cramps during or right after running, movements, artifacts.
    Spec("training1_1000hz_2ch_10min", "training", 600.0, 1000.0, 2, 60.0, 215, ecg=True),
    Spec("training2_500hz_2ch_10min", "training", 600.0, 500.0, 2, 50.0, 223, ecg=False),
    Spec("training3_2000hz_1ch_8min", "training", 480.0, 2000.0, 1, 50.0, 203),
    Spec("training4_4000hz_1ch_6min", "training", 360.0, 4000.0, 1, 60.0, 240, ecg=True),
    # Fasciculations at rest (15-40 per minute per channel), always with ECG crosstalk.
    Spec("fasciculation1_4000hz_1ch_5min", "fasciculation", 300.0, 4000.0, 1, 50.0, 301),
    Spec("fasciculation2_2000hz_2ch_5min", "fasciculation", 300.0, 2000.0, 2, 60.0, 302),
    Spec("fasciculation3_1000hz_3ch_5min", "fasciculation", 300.0, 1000.0, 3, 50.0, 303),
    # Rest only: the negative control, with and without ECG crosstalk.
    Spec("quiet1_1000hz_1ch_5min", "quiet", 300.0, 1000.0, 1, 60.0, 410, ecg=True),
    Spec("quiet2_2000hz_1ch_5min", "quiet", 300.0, 2000.0, 1, 50.0, 420, ecg=False),
)
"""The committed evaluation set (seeds chosen so that each recording has the ECG crosstalk its
``ecg`` asks for)."""


def has_ecg(rec: Recording) -> bool:
    """Whether ECG crosstalk stands clear of the noise on some channel (labelled ``ecg``)."""
    return any(a.description == "ecg" for a in rec.annotations)


def simulate_spec(spec: Spec, search: bool) -> tuple[Spec, Recording]:
    """Simulate ``spec``; with ``search``, try the following seeds until the ECG crosstalk is as
    the spec asks. Raises SystemExit if it is not (the committed set must not drift silently)."""
    for seed in range(spec.seed, spec.seed + (MAX_SEED_TRIES if search else 1)):
        rec = simulate(
            spec.scenario,
            spec.duration_s,
            fs=spec.fs,
            seed=seed,
            channels=spec.channels,
            mains_hz=spec.mains_hz,
        )
        if spec.ecg is None or has_ecg(rec) == spec.ecg:
            return replace(spec, seed=seed), rec
    raise SystemExit(
        f"{spec.name}: seed {spec.seed} does not give ECG crosstalk "
        f"{'on' if spec.ecg else 'off'}; pick another seed"
    )


def held_out(specs: tuple[Spec, ...], base: int = HELD_OUT_BASE) -> tuple[Spec, ...]:
    """The held-out recipe: the same recordings with seeds starting at ``base + 1000 * i``."""
    return tuple(
        replace(s, name=f"heldout_{s.name}", seed=base + HELD_OUT_STRIDE * i)
        for i, s in enumerate(specs)
    )


def manifest_entry(spec: Spec, rec: Recording) -> dict:
    """What the manifest says about one written recording."""
    events = truth_events(rec)
    return {
        "file": f"{spec.name}.bdf",
        "truth": truth_sidecar(f"{spec.name}.bdf").name,
        "scenario": spec.scenario,
        "profile": spec.profile,
        "fs": spec.fs,
        "mains_hz": spec.mains_hz,
        "channels": spec.channels,
        "duration_s": float(rec.duration_s),
        "seed": spec.seed,
        "ecg_crosstalk": has_ecg(rec),
        "spasms": sum(e.kind == "spasm" for e in events),
        "fasciculations": sum(e.kind == "fasciculation" for e in events),
    }


def write_one(spec: Spec, folder: Path, search: bool) -> dict:
    """Simulate one recording, write its BDF+ file and truth sidecar; its manifest entry."""
    spec, rec = simulate_spec(spec, search)
    path = folder / f"{spec.name}.bdf"
    write_bdf(rec, path)
    write_truth_json(
        rec, truth_sidecar(path), scenario=spec.scenario, seed=spec.seed, mains_hz=spec.mains_hz
    )
    return manifest_entry(spec, rec)


def read_manifest(folder: Path = HERE) -> list[dict]:
    """The recordings listed in ``folder``'s manifest (empty if there is none)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    path = folder / MANIFEST
    if not path.exists():
        return []
    return list(tomllib.loads(path.read_text(encoding="utf-8")).get("recording", []))


def write_manifest(entries: list[dict], folder: Path, title: str) -> None:
    """Write ``manifest.toml``: one ``[[recording]]`` table per file, in set order."""
    head = (
        f"# {title}\n"
        "# Written by evaluation/make_set.py; `profile` is the detector profile each recording\n"
        "# is scored with by `emgspasm evaluate` (--profile auto). Counts are truth events,\n"
        "# one per channel.\n\n"
    )
    (folder / MANIFEST).write_text(head + tomli_w.dumps({"recording": entries}), encoding="utf-8")


def manifest_table(entries: list[dict]) -> str:
    """The manifest as a markdown table, ending with a line of totals."""
    lines = [
        "| file | scenario | profile | rate | mains | channels | length | seed | ECG | "
        "spasms | fasciculations |",
        "|---|---|---|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    for e in entries:
        lines.append(
            f"| `{e['file']}` | {e['scenario']} | {e['profile']} | {e['fs']:g} Hz | "
            f"{e['mains_hz']:g} Hz | {e['channels']} | {e['duration_s'] / 60:g} min | "
            f"{e['seed']} | {'yes' if e['ecg_crosstalk'] else 'no'} | {e['spasms']} | "
            f"{e['fasciculations']} |"
        )
    minutes = sum(e["duration_s"] for e in entries) / 60
    lines.append(
        f"| **{len(entries)} recordings** | | | | | | **{minutes:g} min "
        f"({minutes / 60:.2f} h)** | | | **{sum(e['spasms'] for e in entries)}** | "
        f"**{sum(e['fasciculations'] for e in entries)}** |"
    )
    return "\n".join(lines)


def update_readme(entries: list[dict], path: Path) -> None:
    """Replace the table between the manifest markers of ``path`` with the manifest's."""
    text = path.read_text(encoding="utf-8")
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    path.write_text(
        text[:start] + "\n" + manifest_table(entries) + "\n" + text[end:], encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held-out", metavar="DIR", help="write a held-out set into DIR")
    parser.add_argument(
        "--base", type=int, default=HELD_OUT_BASE, help="first held-out seed (1000000)"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="only these recordings (names as in SET)"
    )
    args = parser.parse_args(argv)

    specs = held_out(SET, args.base) if args.held_out else SET
    folder = Path(args.held_out) if args.held_out else HERE
    if args.only:
        unknown = set(args.only) - {s.name for s in SET}
        if unknown:
            parser.error(f"not in the set: {', '.join(sorted(unknown))}")
    folder.mkdir(parents=True, exist_ok=True)
    old = {e["file"]: e for e in read_manifest(folder)}
    entries = []
    for recipe, spec in zip(SET, specs, strict=True):
        if args.only and recipe.name not in args.only:
            if f"{spec.name}.bdf" in old:
                entries.append(old[f"{spec.name}.bdf"])
            continue
        t0 = time.perf_counter()
        entries.append(write_one(spec, folder, search=bool(args.held_out)))
        e = entries[-1]
        print(
            f"{e['file']}: {e['duration_s'] / 60:g} min, seed {e['seed']}, "
            f"{e['spasms']} spasm and {e['fasciculations']} fasciculation events "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    title = "Held-out evaluation set" if args.held_out else "Evaluation set"
    write_manifest(entries, folder, title)
    if not args.held_out:
        update_readme(entries, folder / README)
    size = sum((folder / e["file"]).stat().st_size for e in entries)
    hours = sum(e["duration_s"] for e in entries) / 3600
    print(f"{len(entries)} recordings, {hours:.2f} h, {size / 1e6:.1f} MB in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
