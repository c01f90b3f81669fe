"""Ground-truth surface-EMG simulator: a physiological model with exact labels.

Each channel records one muscle (or head of a muscle) with its own pool of 100-200 motor units:
exponentially distributed MUAP sizes, Fuglevand-style recruitment thresholds (small units
first), firing rates of 6-25 Hz rising with excitation, and a Hermite-Rodriguez MUAP shape per
unit (time scale 1.2-3.5 ms, i.e. potentials lasting ~5-13 ms, with a sign and shape of its
own; a cramp's median frequency comes out near 120 Hz).
Events drive the pools with an excitation time course:

- ``spasm``: a cramp of 3-120 s (capped by the recording), onset ramp of 0.2-0.6 s, waxing and
  waning plateau, inter-spike CV ~0.45 with 4 % doublets, mean rate ~14.5 Hz (Minetto 2009), RMS
  25-180x the resting noise; it stays in one channel or spreads to others at lower amplitude;
- ``voluntary``: brief movements of 0.3-1.5 s, CV 0.15-0.2;
- ``stride``: running bursts of 0.2-0.35 s every 0.6-0.8 s with relaxation between, for tens of
  seconds to minutes, often ending in a cramp during running (a burst that never relaxes) or right
  after it;
- ``fasciculation``: single discharges of a few large units per channel (peak 50-500 µV) at
  Poisson times at rest; labelled from the MUAP's main peak, lasting its width.

On top come amplifier noise (1-3 µV RMS), mains at ``mains_hz`` with odd harmonics and a slowly
varying amplitude, baseline drift (< 1 Hz, 10-50 µV), motion artifacts (``motion_artifact``, below
20 Hz, 0.1-2 mV), electrode pops (``electrode_pop``) and, on some runs, ECG crosstalk (a label
``ecg`` per QRS complex). Events never overlap: cramps are separated by at least 5 s of rest and
fasciculations keep 0.3 s from any other event.

Scenarios: ``night`` (rest, several cramps, 5-15 fasciculations/min, occasional movements and
artifacts), ``training`` (running with cramps, rest, movements), ``fasciculation`` (rest with
15-40 fasciculations/min and ECG) and ``quiet`` (rest only: a negative control).

One seed gives bit-identical output. The random stream is split once into independent streams for
the muscle models, the timeline, the spike trains and the interference, so the events and the
spike times of a seed do not depend on the sample rate.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from os import PathLike

import numpy as np

from ..errors import ConfigError, RecordingError
from ..frames import Annotation
from ..private_files import open_private
from ..recording import Recording
from .sim.blocks import Context, FasciculatingUnits
from .sim.plan import Label
from .sim.pool import make_pool
from .sim.render import add_crosstalk, add_interference, render_activations, render_fasciculations
from .sim.scenarios import SCENARIOS, plan_scenario

__all__ = [
    "SCENARIOS",
    "TRUTH_KINDS",
    "TruthEvent",
    "TruthFile",
    "read_truth_file",
    "read_truth_json",
    "simulate",
    "truth_events",
    "write_truth_json",
]

TRUTH_KINDS: tuple[str, ...] = (
    "spasm",
    "fasciculation",
    "voluntary",
    "stride",
    "motion_artifact",
    "electrode_pop",
    "ecg",
)
"""Every kind of ground-truth event the simulator labels."""

FS_RANGE = (100.0, 10000.0)


@dataclass(frozen=True)
class TruthEvent:
    """A ground-truth event on one channel, from ``onset_s`` to ``offset_s`` (seconds)."""

    kind: str
    onset_s: float
    offset_s: float
    channel: str

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s


def _check(scenario: str, duration_s: float, fs: float, seed: int, channels: int, mains_hz: float):
    """Raise ConfigError for any argument the simulator cannot honour."""
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if not _is_number(duration_s) or not math.isfinite(duration_s) or duration_s <= 0:
        raise ConfigError(f"duration must be a positive number of seconds, not {duration_s!r}")
    if not _is_number(fs) or not FS_RANGE[0] <= fs <= FS_RANGE[1]:
        raise ConfigError(
            f"sample rate must be between {FS_RANGE[0]:g} and {FS_RANGE[1]:g} Hz, not {fs!r}"
        )
    if round(duration_s * fs) < 1:
        raise ConfigError(f"duration {duration_s!r} s is shorter than one sample at {fs:g} Hz")
    if not _is_int(channels) or channels < 1:
        raise ConfigError(f"channels must be a whole number of at least 1, not {channels!r}")
    if not _is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be a non-negative whole number, not {seed!r}")
    if not _is_number(mains_hz) or not math.isfinite(mains_hz) or mains_hz <= 0:
        raise ConfigError(f"mains frequency must be a positive number of Hz, not {mains_hz!r}")


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _context(rng: np.random.Generator, channels: int) -> tuple[Context, np.ndarray]:
    """Draw each channel's muscle model (pool, noise, fasciculating units) and the crosstalk
    gains ``[source, destination]`` between channels."""
    pools, noise, fasc = [], [], []
    for _ in range(channels):
        rms = float(rng.uniform(1.0, 3.0))
        noise.append(rms)
        pools.append(make_pool(rng, rms * float(np.exp(rng.uniform(np.log(200), np.log(350))))))
        k = int(rng.integers(3, 9))
        fasc.append(
            FasciculatingUnits(
                peaks_uv=np.exp(rng.uniform(np.log(50.0), np.log(500.0), k)),
                lams=rng.uniform(1.5e-3, 3.5e-3, k),
                mixes=_dominant_peak_mixes(rng, k),
                weights=rng.dirichlet(np.ones(k)),
            )
        )
    crosstalk = rng.uniform(0.002, 0.006, (channels, channels))
    return Context(tuple(pools), tuple(noise), tuple(fasc)), crosstalk


def _dominant_peak_mixes(rng: np.random.Generator, k: int) -> np.ndarray:
    """Shape angles whose MUAP has one clearly dominant peak (mostly triphasic, either sign), so
    that a fasciculation's labelled peak time is not a toss-up between two equal phases."""
    return rng.uniform(np.pi / 3, 2 * np.pi / 3, k) + np.pi * rng.integers(0, 2, k)


def _annotations(labels: list[Label], names: tuple[str, ...], d: float) -> tuple[Annotation, ...]:
    """Labels as annotations, clipped to the recording, rounded to the microsecond, sorted."""
    out = []
    for lab in labels:
        on = round(float(max(lab.onset_s, 0.0)), 6)
        off = round(float(min(lab.offset_s, d)), 6)
        if off > on:
            out.append(Annotation(on, round(off - on, 6), lab.kind, names[lab.channel]))
    return tuple(sorted(out, key=lambda a: (a.onset_s, a.channel, a.description)))


def simulate(
    scenario: str,
    duration_s: float,
    fs: float = 2000.0,
    seed: int = 0,
    channels: int = 1,
    mains_hz: float = 50.0,
) -> Recording:
    """Simulate ``duration_s`` seconds of surface EMG (µV) for ``scenario`` with ground truth.

    Returns a :class:`Recording` with channels ``EMG1``..``EMGn`` in ``uV``, format
    ``"simulated"`` and the truth as annotations (description = kind, channel = channel name).
    Raises :class:`ConfigError` for an unknown scenario, a non-positive duration, a sample rate
    outside 100..10000 Hz, fewer than one channel, a negative seed or a non-positive mains
    frequency.
    """
    _check(scenario, duration_s, fs, seed, channels, mains_hz)
    fs = float(fs)
    n = int(round(duration_s * fs))
    d = n / fs
    streams = np.random.SeedSequence(seed).spawn(4)
    model_rng, plan_rng, spike_rng, noise_rng = (np.random.default_rng(s) for s in streams)
    ctx, crosstalk = _context(model_rng, channels)
    plan = plan_scenario(scenario, d, ctx, plan_rng)
    muscle = np.zeros((n, channels))
    render_activations(muscle, plan, ctx, fs, spike_rng)
    labels = plan.labels + render_fasciculations(muscle, plan.discharges, ctx, fs)
    signal = add_crosstalk(muscle, crosstalk, fs)
    add_interference(signal, plan, ctx, fs, float(mains_hz), noise_rng)
    names = tuple(f"EMG{i + 1}" for i in range(channels))
    notes = (
        f"simulated by emgspasm.sources.simulator: scenario={scenario} seed={seed} "
        f"fs={fs:g} mains_hz={float(mains_hz):g}",
        f"ecg crosstalk: {'on' if plan.ecg is not None else 'off'}",
    )
    return Recording(
        samples=signal.astype(np.float32),
        fs=fs,
        channels=names,
        units=("uV",) * channels,
        start_time=None,
        annotations=_annotations(labels, names, d),
        format="simulated",
        notes=notes,
    )


def truth_events(recording: Recording) -> list[TruthEvent]:
    """The ground-truth events of a recording (its annotations of a known kind), by onset."""
    events = [
        TruthEvent(
            a.description,
            round(a.onset_s, 6),
            round(a.onset_s + a.duration_s, 6),
            a.channel or "",
        )
        for a in recording.annotations
        if a.description in TRUTH_KINDS
    ]
    return sorted(events, key=lambda e: (e.onset_s, e.channel, e.kind))


def write_truth_json(
    recording: Recording, path: str | PathLike[str], *, scenario: str, seed: int, mains_hz: float
) -> None:
    """Write the recording's ground truth as a JSON sidecar (events sorted by onset, one per
    line so that a diff of two sidecars stays readable)."""
    events = truth_events(recording)
    doc = {
        "scenario": scenario,
        "seed": int(seed),
        "fs": float(recording.fs),
        "duration_s": float(recording.duration_s),
        "mains_hz": float(mains_hz),
        "channels": list(recording.channels),
        "ecg_crosstalk": any(e.kind == "ecg" for e in events),
        "events": [
            {"kind": e.kind, "onset_s": e.onset_s, "offset_s": e.offset_s, "channel": e.channel}
            for e in events
        ],
    }
    rows = ",\n".join(f"  {json.dumps(e)}" for e in doc.pop("events"))
    head = "".join(f" {json.dumps(k)}: {json.dumps(v)},\n" for k, v in doc.items())
    with open_private(path, "w", encoding="utf-8") as f:
        f.write("{\n" + head + ' "events": [\n' + rows + ("\n" if rows else "") + " ]\n}\n")


@dataclass(frozen=True)
class TruthFile:
    """A truth sidecar: its events and what was simulated to make them.

    The evaluation reads ``scenario`` to choose the detector profile a recording is scored with.
    A field the file does not give is None, so a hand-written truth file holding only events
    (e.g. for a real recording) reads too.
    """

    events: tuple[TruthEvent, ...]
    scenario: str | None = None
    seed: int | None = None
    fs: float | None = None
    duration_s: float | None = None
    mains_hz: float | None = None
    channels: tuple[str, ...] | None = None


def read_truth_file(path: str | PathLike[str]) -> TruthFile:
    """Read a truth sidecar written by :func:`write_truth_json`: its events (sorted by onset) and
    its description of the simulation.

    Raises :class:`RecordingError` if the file is not such a sidecar.
    """

    def opt(doc: dict, key: str, kind):
        return None if doc.get(key) is None else kind(doc[key])

    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        events = [
            TruthEvent(str(e["kind"]), float(e["onset_s"]), float(e["offset_s"]), str(e["channel"]))
            for e in doc["events"]
        ]
        channels = doc.get("channels")
        return TruthFile(
            events=tuple(sorted(events, key=lambda e: (e.onset_s, e.channel, e.kind))),
            scenario=opt(doc, "scenario", str),
            seed=opt(doc, "seed", int),
            fs=opt(doc, "fs", float),
            duration_s=opt(doc, "duration_s", float),
            mains_hz=opt(doc, "mains_hz", float),
            channels=None if channels is None else tuple(str(c) for c in channels),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RecordingError(f"{path}: not a readable truth file ({exc})") from exc


def read_truth_json(path: str | PathLike[str]) -> list[TruthEvent]:
    """Read the events of a truth sidecar written by :func:`write_truth_json`, sorted by onset.

    Raises :class:`RecordingError` if the file is not such a sidecar.
    """
    return list(read_truth_file(path).events)
