"""Regenerate the simulated sample recordings in this folder, their truth sidecars and the plot.

Run from the repository root:  python recordings/make_samples.py
The simulator is deterministic, so this rewrites the same samples and truth (bit for bit) each
time. Each recording is written as BDF+ (24-bit, truth as annotations ``kind@channel``) with a
``.truth.json`` sidecar; ``simulated_night.png`` shows the night sample with its truth shaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from emgspasm.sources.simulator import (  # noqa: E402
    TruthEvent,
    simulate,
    truth_events,
    write_truth_json,
)

HERE = Path(__file__).resolve().parent

SAMPLES = (
    # name, scenario, duration (s), fs (Hz), seed, channels, mains (Hz)
    ("night_10min_2k", "night", 600.0, 2000.0, 7, 2, 50.0),
    ("training_5min_1k", "training", 300.0, 1000.0, 3, 2, 60.0),
    ("fasciculation_2min_2k", "fasciculation", 120.0, 2000.0, 1, 2, 50.0),
    ("quiet_2min_1k", "quiet", 120.0, 1000.0, 5, 1, 50.0),
)

COLOURS = {
    "spasm": "tab:red",
    "voluntary": "tab:green",
    "stride": "tab:blue",
    "motion_artifact": "tab:orange",
    "electrode_pop": "tab:brown",
    "fasciculation": "tab:purple",
    "ecg": "tab:gray",
}


def make_recordings(folder: Path = HERE) -> None:
    """Simulate each sample and write its BDF+ file and truth sidecar."""
    from emgspasm.io import write_bdf

    for name, scenario, duration, fs, seed, channels, mains in SAMPLES:
        rec = simulate(scenario, duration, fs=fs, seed=seed, channels=channels, mains_hz=mains)
        write_bdf(rec, folder / f"{name}.bdf")
        write_truth_json(
            rec, folder / f"{name}.truth.json", scenario=scenario, seed=seed, mains_hz=mains
        )
        print(f"{name}: {len(truth_events(rec))} truth events")


def shade(ax, events: list[TruthEvent], channel: str, t0: float, t1: float) -> None:
    """Shade each truth event of ``channel`` overlapping [t0, t1]; fasciculations as lines."""
    for e in events:
        if e.channel != channel or e.offset_s < t0 or e.onset_s > t1:
            continue
        colour = COLOURS.get(e.kind, "k")
        if e.kind == "fasciculation":
            ax.axvline(e.onset_s, color=colour, lw=0.8, alpha=0.7)
        elif e.kind == "ecg":
            if t1 - t0 < 60.0:
                ax.axvspan(e.onset_s, e.offset_s, color=colour, alpha=0.12, lw=0)
        else:
            ax.axvspan(e.onset_s, e.offset_s, color=colour, alpha=0.18, lw=0)


def trace(ax, rec, channel: int, t0: float, t1: float, half: float | None, lw=0.4) -> None:
    """Plot channel ``channel`` of ``rec`` between t0 and t1 (s). The y axis spans ±``half`` µV
    around the local median (``None``: just fits the data), so drift does not hide the detail."""
    a, b = max(int(t0 * rec.fs), 0), min(int(t1 * rec.fs), rec.n_samples)
    t = np.arange(a, b) / rec.fs
    x = rec.samples[a:b, channel]
    ax.plot(t, x, color="k", lw=lw)
    ax.set_xlim(t0, t1)
    mid = float(np.median(x))
    if half is None:
        half = 1.15 * float(np.max(np.abs(x - mid)))
    ax.set_ylim(mid - half, mid + half)
    ax.set_ylabel(f"{rec.channels[channel]} (µV)")


def muscle_range(rec, events: list[TruthEvent], channel: int) -> float:
    """Half-range (µV) that fits the channel's muscle activity (cramps, movements) with a margin;
    artifacts may exceed it."""
    peak = 200.0
    for e in events:
        if e.channel == rec.channels[channel] and e.kind in ("spasm", "voluntary", "stride"):
            x = rec.samples[int(e.onset_s * rec.fs) : int(e.offset_s * rec.fs), channel]
            peak = max(peak, float(np.max(np.abs(x - np.median(x)))))
    return 1.1 * peak


def busiest(times: list[float], width: float) -> float:
    """The start of the ``width``-s window (starting at one of ``times``) holding most of them."""
    return max(times, key=lambda t: sum(1 for u in times if t <= u < t + width))


def plot_night(path: Path = HERE / "simulated_night.png") -> None:
    """The night sample: both channels over 10 minutes with truth shaded, and zooms on a cramp
    onset, on the inside of a cramp and on a few fasciculations."""
    name, scenario, duration, fs, seed, channels, mains = SAMPLES[0]
    rec = simulate(scenario, duration, fs=fs, seed=seed, channels=channels, mains_hz=mains)
    events = truth_events(rec)
    fig = plt.figure(figsize=(14, 11), layout="constrained")
    grid = fig.add_gridspec(4, 2, height_ratios=[1, 1, 1.1, 1.1])
    for c, ch in enumerate(rec.channels):
        ax = fig.add_subplot(grid[c, :])
        shade(ax, events, ch, 0, duration)
        trace(ax, rec, c, 0, duration, muscle_range(rec, events, c), lw=0.3)
        if c == 0:
            ax.set_title(
                f"{name}.bdf: simulated night ({fs:g} Hz, {mains:g} Hz mains, seed {seed}), "
                "raw signal with its ground truth (artifacts exceed the axis)"
            )
    ax.set_xlabel("time (s)")

    spasm = next(e for e in events if e.kind == "spasm" and e.duration_s > 20)
    ch = rec.channels.index(spasm.channel)
    ax = fig.add_subplot(grid[2, 0])
    t0, t1 = spasm.onset_s - 1.5, spasm.onset_s + 3.0
    shade(ax, events, spasm.channel, t0, t1)
    trace(ax, rec, ch, t0, t1, None)
    ax.set_title(f"cramp onset on {spasm.channel}: truth onset {spasm.onset_s:.2f} s (red)")

    ax = fig.add_subplot(grid[2, 1])
    t0 = spasm.onset_s + 0.5 * spasm.duration_s
    trace(ax, rec, ch, t0, t0 + 0.3, None, lw=0.7)
    ax.set_title("300 ms inside the cramp: superimposed motor-unit potentials")

    fasc = [e for e in events if e.kind == "fasciculation" and e.channel == "EMG1"]
    t0 = busiest([f.onset_s for f in fasc], 6.0) - 0.3
    ax = fig.add_subplot(grid[3, 0])
    shade(ax, events, "EMG1", t0, t0 + 6.0)
    trace(ax, rec, 0, t0, t0 + 6.0, None)
    ax.set_title("rest: fasciculations (purple: truth peak times), ECG crosstalk (grey)")
    ax.set_xlabel("time (s)")

    first = next(f for f in fasc if f.onset_s >= t0)
    ax = fig.add_subplot(grid[3, 1])
    t0, t1 = first.onset_s - 0.04, first.onset_s + 0.04
    shade(ax, events, "EMG1", t0, t1)
    ax.axvspan(first.onset_s, first.offset_s, color=COLOURS["fasciculation"], alpha=0.15, lw=0)
    trace(ax, rec, 0, t0, t1, None, lw=0.9)
    a, b = int(t0 * fs), int(t1 * fs)
    ax.plot(np.arange(a, b) / fs, rec.samples[a:b, 0], ".", color="k", ms=2.5)
    ax.set_title(f"one fasciculation: truth peak at {first.onset_s:.4f} s, its width shaded")
    ax.set_xlabel("time (s)")

    kinds = ("spasm", "voluntary", "motion_artifact", "electrode_pop", "fasciculation", "ecg")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[k], alpha=0.4) for k in kinds]
    fig.legend(handles, [k.replace("_", " ") for k in kinds], loc="outside lower center", ncol=6)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str]) -> int:
    if "--plot-only" not in argv:
        make_recordings()
    plot_night()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
