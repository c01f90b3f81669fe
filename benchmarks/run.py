"""Throughput, memory and start-up of emgspasm next to its peers, measured in one run.

    python benchmarks/run.py [--quick] [--full-night]

Prints a short description of the machine and Markdown tables on stdout (progress goes to
stderr). Peers run side by side on the same samples in the same run, so their ratios mean more
than the absolute figures, which move with the machine and whatever else it is doing.
See benchmarks/README.md for what each row measures.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from workload import BLOCK_S, FS, PIPELINES, make_emg

REPO = Path(__file__).resolve().parents[1]
CASES = [
    ("emgspasm", 1),
    ("scipy", 1),
    ("neurokit2", 1),
    ("emgspasm", 8),
    ("emgspasm-1t", 8),
    ("scipy", 8),
]
LABELS = {
    "emgspasm": "emgspasm Detector (night)",
    "emgspasm-1t": "emgspasm Detector (night), one thread",
    "scipy": "scipy sosfilt + uniform_filter1d + threshold",
    "neurokit2": "NeuroKit2 emg_process",
}
REPEATS = 3

STARTUP = """
import time
t0 = time.perf_counter()
import numpy as np
from emgspasm.config import profile
from emgspasm.detect import Detector
from emgspasm.frames import Frame
t1 = time.perf_counter()
t = np.arange(2000)[:, None] / 2000.0
x = np.random.default_rng(0).normal(0, 2, (2000, 1)) + 20 * np.sin(2 * np.pi * 50 * t)
detector = Detector(profile("night"))
detector.process(Frame(x.astype(np.float32), 0, 2000.0, ("ch0",)))
detector.flush()
print(t1 - t0, time.perf_counter() - t1)
"""
"""A fresh interpreter that imports the detector and runs it over 1 s of signal."""

CLI = """
import sys
from emgspasm.cli import main
code = main()
hwm = [ln.split()[1] for ln in open("/proc/self/status") if ln.startswith("VmHWM:")]
print(int(hwm[0]) * 1024 if hwm else -1)
sys.exit(code)
"""
"""``emgspasm`` on the command line, then its peak resident memory (as :func:`peak_rss`)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def signal_seconds(pipeline: str, channels: int, quick: bool) -> float:
    """Signal length of a case: a fixed number of channel-samples, less for NeuroKit2."""
    if pipeline == "neurokit2":
        return 60.0 if quick else 300.0
    return (2e6 if quick else 20e6) / channels / FS


def best_time(pipeline: str, x: np.ndarray) -> tuple[float, int]:
    """Best wall time of ``REPEATS`` runs after one warm-up run, and the events found."""
    run = PIPELINES[pipeline]
    events = run(x, FS)
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        run(x, FS)
        times.append(time.perf_counter() - t0)
    return min(times), events


def traced_peak(pipeline: str, channels: int, seconds: float) -> int:
    """Peak of memory allocated while the pipeline runs (tracemalloc), in this process.

    The input is made and the pipeline warmed up on 2 s before tracing starts, so the figure is
    the working memory beyond the input, without imports or compilation.
    """
    x = make_emg(seconds, channels)
    run = PIPELINES[pipeline]
    run(x[: int(2 * FS)], FS)
    tracemalloc.start()
    run(x, FS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def measure_peak(pipeline: str, channels: int, seconds: float) -> int:
    """:func:`traced_peak` in a fresh subprocess, so that cases do not share allocations."""
    cmd = [sys.executable, __file__, "--traced-peak", pipeline, str(channels), repr(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
    return int(out.stdout.split()[-1])


def throughput_table(quick: bool) -> list[str]:
    rows = []
    for pipeline, channels in CASES:
        seconds = signal_seconds(pipeline, channels, quick)
        log(f"{pipeline}, {channels} ch, {fmt_duration(seconds)} of signal")
        x = make_emg(seconds, channels)
        best, events = best_time(pipeline, x)
        rows.append((pipeline, channels, seconds, x.size / best / 1e6, events))
        del x
        rows[-1] += (measure_peak(pipeline, channels, seconds),)
    ours = {ch: rate for p, ch, _, rate, *_ in rows if p == "emgspasm"}
    threads = _detector_threads()
    lines = [
        "| pipeline | ch | signal | M ch-samples/s | emgspasm ÷ this | peak traced memory "
        "| events |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for pipeline, channels, seconds, rate, events, peak in rows:
        label = LABELS[pipeline]
        if pipeline == "emgspasm" and channels > 1 and threads > 1:
            label += f", {min(threads, channels)} threads"
        lines.append(
            f"| {label} | {channels} | {fmt_duration(seconds)} | {rate:.3g} "
            f"| {ours[channels] / rate:.3g} | {peak / 1e6:.1f} MB | {events} |"
        )
    return lines


def _detector_threads() -> int:
    from emgspasm.detect import detector

    return detector.THREADS


def kernel_table(quick: bool) -> list[str]:
    """The numba kernels alone, one thread: the filter cascade and the detection kernel.

    Each runs over 8192-sample blocks (the Detector's block) of the benchmark signal, best of
    ``REPEATS`` after a warm-up; the detection kernel gets the filtered signal and starts from
    the state of a Detector that has run over the first second. Channel-samples per second.
    """
    lines = ["| kernel | ch | M ch-samples/s |", "|---|---:|---:|"]
    for channels in (1, 8):
        for label, rate in _kernel_rates(channels, 2e6 if quick else 8e6):
            lines.append(f"| {label} | {channels} | {rate / 1e6:.3g} |")
    return lines


def _kernel_rates(channels: int, total: float) -> list[tuple[str, float]]:
    from emgspasm.config import profile
    from emgspasm.detect import Detector
    from emgspasm.detect import kernel as K
    from emgspasm.detect.detector import BLOCK
    from emgspasm.dsp.kernels import sosfilt_block
    from emgspasm.frames import Frame

    x = make_emg(total / channels / FS + 1.0, channels)
    det = Detector(profile("night"))
    det.process(Frame(x[: int(FS)], 0, FS, tuple(f"ch{c}" for c in range(channels))))
    x = np.ascontiguousarray(x[int(FS) :])
    y = np.empty_like(x)
    starts = range(0, len(x) - BLOCK + 1, BLOCK)
    filter_state = (det._z1, det._z2)
    detect_state = (det._sf, det._si, det._ring)

    def filt() -> None:
        z1, z2 = (a.copy() for a in filter_state)
        for s in starts:
            sosfilt_block(det._sos, x[s : s + BLOCK], y[s : s + BLOCK], z1, z2, 0)

    def detect() -> None:
        sf, si, ring = (a.copy() for a in detect_state)
        for s in starts:
            K.detect_block(y[s : s + BLOCK], x[s : s + BLOCK], int(FS) + s, det._prm, sf, si,
                           ring, det._ev_i, det._ev_f, det._ev_n)
            det._ev_n[:] = 0  # events are appended: the Detector takes them after each call

    samples = len(starts) * BLOCK * channels
    rates = []
    for label, run in ((f"filter ({det._sos.shape[0]} sections)", filt), ("detection", detect)):
        run()
        rates.append((label, samples / min(_timed(run) for _ in range(REPEATS))))
    return rates


def _timed(run: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def startup_table() -> list[str]:
    """Fresh interpreters with an empty numba cache directory, then again with it filled."""
    lines = [
        "| start | wall (s) | imports (s) | first 1 s of signal (s) |",
        "|---|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="emgspasm-numba-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold: empty numba cache", "warm: numba cache filled"):
            log(f"start-up, {label}")
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", STARTUP],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            )
            wall = time.perf_counter() - t0
            imports, first = (float(v) for v in out.stdout.split())
            lines.append(f"| {label} | {wall:.2f} | {imports:.2f} | {first:.2f} |")
    return lines


def write_bdf(path: str, hours: float, channels: int) -> None:
    """Write ``hours`` of signal to a BDF+ file by tiling 5 minutes of it (in a subprocess)."""
    from emgspasm.frames import Frame
    from emgspasm.io import BdfWriter

    tile = make_emg(300.0, channels, seed=1)
    names = tuple(f"ch{c}" for c in range(channels))
    block = int(BLOCK_S * FS)
    writer = BdfWriter(path, FS, names, ["uV"] * channels, physical_range=(-2000.0, 2000.0))
    for s in range(0, int(hours * 3600 * FS), block):
        k = s % len(tile)
        writer.write(Frame(tile[k : k + block], s, FS, names))
    writer.close()


def read_bdf(path: str) -> None:
    """Read a recording through every frame of 10 s, as ``emgspasm detect`` does, and drop them."""
    from emgspasm.io import open_recording

    for _ in open_recording(path).frames(int(BLOCK_S * FS)):
        pass


def peak_rss() -> int:
    """This process's own peak resident memory in bytes (-1 where /proc is not available).

    Read from ``VmHWM`` rather than ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts from
    the parent's resident size at fork, which would count this benchmark's own arrays.
    """
    status = Path("/proc/self/status")
    for line in status.read_text().splitlines() if status.exists() else []:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return -1


def timed_child(cmd: list[str]) -> tuple[float, int]:
    """Run ``cmd``; return its wall time and the peak RSS it reports on its last output line."""
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed:\n{out.stderr}")
    return wall, int(out.stdout.split()[-1])


def wait_for_io(limit_s: float) -> None:
    """Wait until ``emgspasm.io`` offers BdfWriter and open_recording (checked in a subprocess)."""
    check = [sys.executable, "-c", "from emgspasm.io import BdfWriter, open_recording"]
    deadline = time.monotonic() + limit_s
    while subprocess.run(check, cwd=REPO, capture_output=True).returncode:
        if time.monotonic() > deadline:
            raise RuntimeError("emgspasm.io does not offer BdfWriter and open_recording yet")
        log("waiting for emgspasm.io.BdfWriter ...")
        time.sleep(20)


def full_night_table(hours: float = 8.0, channels: int = 8) -> list[str]:
    """Write an 8 h, 8 channel, 2 kHz BDF+ file, time ``emgspasm detect`` on it, delete it."""
    wait_for_io(limit_s=1800)
    samples = hours * 3600 * FS * channels
    lines = [
        "| step | wall (s) | M ch-samples/s | peak RSS | output |",
        "|---|---:|---:|---:|---:|",
    ]

    def row(step: str, wall: float, rss: int, output: str) -> None:
        rate = samples / wall / 1e6
        lines.append(f"| {step} | {wall:.1f} | {rate:.3g} | {rss / 1e6:.0f} MB | {output} |")

    tmp = Path(tempfile.mkdtemp(prefix="emgspasm-night-"))
    try:
        bdf, log_csv = tmp / "night.bdf", tmp / "x.csv"
        log(f"writing {hours:g} h x {channels} ch to {bdf}")
        cmd = [sys.executable, __file__, "--write-bdf", str(bdf), str(hours), str(channels)]
        wall, rss = timed_child(cmd)
        row("write with `BdfWriter`", wall, rss, f"{bdf.stat().st_size / 1e9:.2f} GB")
        log("reading it back")
        cmd = [sys.executable, __file__, "--read-bdf", str(bdf)]
        wall, rss = timed_child(cmd)
        row("read with `open_recording(FILE).frames(20000)`", wall, rss, "")
        log("emgspasm detect")
        cmd = [sys.executable, "-c", CLI, "detect", str(bdf), "--out", str(log_csv), "--quiet"]
        wall, rss = timed_child(cmd)
        episodes = len(log_csv.read_text().splitlines()) - 1  # one header line
        row("`emgspasm detect FILE --out x.csv --quiet`", wall, rss, f"{episodes} episodes")
    finally:
        shutil.rmtree(tmp)
    return lines


def header(quick: bool) -> list[str]:
    import numba
    import scipy

    try:
        import neurokit2

        nk_version = neurokit2.__version__
    except ImportError:
        nk_version = "not installed"
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return [
        f"# emgspasm benchmarks ({'quick' if quick else 'full'})",
        "",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores{load} at start",
        f"- Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"numba {numba.__version__} ({numba.get_num_threads()} threads), neurokit2 {nk_version}",
        f"- Signal: synthetic surface EMG at {FS:g} Hz (2 µV noise, 50 Hz hum, bursts, single "
        f"potentials), fed in {BLOCK_S:g} s blocks; best of {REPEATS} runs after a warm-up",
        "",
    ]


def fmt_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2g} h"
    if seconds >= 120:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument(
        "--full-night", action="store_true", help="also time `emgspasm detect` on 8 h x 8 ch"
    )
    parser.add_argument("--traced-peak", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--write-bdf", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--read-bdf", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.traced_peak:
        pipeline, channels, seconds = args.traced_peak
        print(traced_peak(pipeline, int(channels), float(seconds)))
        return 0
    if args.read_bdf:
        read_bdf(args.read_bdf)
        print(peak_rss())
        return 0
    if args.write_bdf:
        path, hours, channels = args.write_bdf
        write_bdf(path, float(hours), int(channels))
        print(peak_rss())
        return 0

    out = header(args.quick)
    out += ["## Throughput and memory", ""] + throughput_table(args.quick)
    out += ["", "## Kernels alone (one thread)", ""] + kernel_table(args.quick)
    out += ["", "## Start-up (fresh interpreter, detector over 1 s of signal)", ""]
    out += startup_table()
    if args.full_night:
        out += ["", "## Full night: 8 h x 8 channels x 2 kHz BDF+", ""] + full_night_table()
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
