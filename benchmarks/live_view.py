"""The live view under load: frames drawn per second, CPU share, and no sample lost.

    python benchmarks/live_view.py [--channels 8] [--fs 2000] [--window 10] [--seconds 20]

Runs the real window (offscreen unless a display is set) on a simulated 8-channel stream at
2 kHz paced in real time, exactly as ``emgspasm live`` does: the worker thread runs the Detector
and the display tap, the window redraws on its 30 fps timer. The signal is rendered before the
clock starts, so the simulator's own cost is not counted. After a warm-up it measures, over
``--seconds`` of wall-clock time:

- **frames drawn per second**: paints of the plot area that showed a new picture, per second
  (what reached the screen), next to redraws per second (timer ticks that rebuilt the curves);
- **CPU share**: process CPU time (every thread: drawing, detection, pacing) over wall time,
  in % of one core, split into the window's thread (taking data, rebuilding curves, painting)
  and the worker's thread (pacing, Detector, display tap); and the time the window spends
  rebuilding curves per redraw and painting the plots per frame;
- **samples**: samples the source handed out, taken by the worker (each through the Detector
  and the tap), counted by the Detector, and received by the window. They must all be equal:
  drawing never costs a sample.
- **display lag**: the longest time from the worker taking a Frame to the window filing it.

With the default 3 s warm-up the measured seconds start while the stream is still filling the
10 s window; ``--warmup 12`` measures steady scrolling only.

Goal: >= 30 frames/s using <= 50 % of one core. The figures move with the machine and its
load (the load average is printed with them); nothing asserts them. ``--profile N`` prints the
N functions of the window's thread with the most cumulative time over the measured seconds
(cProfile; it slows the window down, so its CPU figures are not the ones to quote).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import threading
import time

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--fs", type=float, default=2000.0)
    ap.add_argument("--window", type=float, default=10.0, help="seconds shown (10)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured wall-clock seconds")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    ap.add_argument("--size", default="1440x860", help="window size in pixels")
    ap.add_argument("--screenshot", help="save the window at the end (PNG)")
    ap.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the window thread's top N"
    )
    args = ap.parse_args(argv)

    import pyqtgraph as pg
    from pyqtgraph.Qt import QtCore

    from emgspasm.config import profile
    from emgspasm.live.app import quiet_qt_messages
    from emgspasm.live.sources import ReplaySource
    from emgspasm.live.window import LiveWindow, configure_pyqtgraph
    from emgspasm.live.worker import LiveWorker
    from emgspasm.sources.simulator import simulate

    total_s = args.warmup + args.seconds + 5.0
    rec = simulate("night", total_s, fs=args.fs, seed=11, channels=args.channels)
    source = ReplaySource("simulated", 1.0, reader=rec)

    configure_pyqtgraph()
    quiet_qt_messages()
    app = pg.mkQApp("emgspasm live benchmark")
    worker = LiveWorker(source, profile("night"), name="simulated sensor")
    window = LiveWindow(worker, args.window)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)

    lag = [0.0]
    ingest = window.ingest

    def timed_ingest(messages):
        now = time.monotonic()
        for m in messages:
            arrived = getattr(m, "arrived", None)
            if arrived is not None:
                lag[0] = max(lag[0], now - arrived)
        ingest(messages)

    window.ingest = timed_ingest  # type: ignore[method-assign]
    marks: dict[str, tuple[float, ...]] = {}
    profiler = cProfile.Profile() if args.profile else None

    def mark(name: str) -> None:
        marks[name] = (
            time.perf_counter(),
            time.process_time(),
            time.thread_time(),
            _thread_cpu(worker._thread),  # noqa: SLF001 - the benchmark looks inside
            window.plots.frames,
            window.redraws,
            window.redraw_seconds,
            window.plots.paint_seconds,
        )

    def begin() -> None:
        lag[0] = 0.0
        mark("begin")
        if profiler is not None:
            profiler.enable()

    def end() -> None:
        if profiler is not None:
            profiler.disable()
        mark("end")
        if args.screenshot:
            window.save_screenshot(args.screenshot)
        window.close()

    window.show()
    worker.start()
    QtCore.QTimer.singleShot(int(args.warmup * 1000), begin)
    QtCore.QTimer.singleShot(int((args.warmup + args.seconds) * 1000), end)
    app.exec()
    worker.stop()
    window.ingest(worker.drain())  # whatever was still queued
    (w0, c0, m0, k0, p0, r0, d0, q0) = marks["begin"]
    (w1, c1, m1, k1, p1, r1, d1, q1) = marks["end"]
    wall = w1 - w0
    fps = (p1 - p0) / wall
    redraws = (r1 - r0) / wall
    cpu = 100.0 * (c1 - c0) / wall
    cpu_window = 100.0 * (m1 - m0) / wall
    cpu_worker = 100.0 * (k1 - k0) / wall
    per_redraw = 1000.0 * (d1 - d0) / max(1, r1 - r0)
    per_paint = 1000.0 * (q1 - q0) / max(1, p1 - p0)
    handed = source.samples_out
    taken = worker.samples_in
    detected = worker.detector.samples_seen
    shown = window.samples_received
    lost = handed - min(taken, detected, shown)
    window.deleteLater()
    app.processEvents()

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; Python {platform.python_version()}, "
        f"Qt platform {os.environ.get('QT_QPA_PLATFORM', 'default')}"
    )
    print(
        f"stream: {args.channels} channels at {args.fs:g} Hz, real time; window "
        f"{args.window:g} s; {width}x{height} px; measured {wall:.1f} s after {args.warmup:g} s "
        "warm-up"
    )
    print()
    print("| figure | value | goal |")
    print("|---|--:|--:|")
    print(f"| frames drawn per second | {fps:.1f} | >= 30 |")
    print(f"| redraws per second (curves rebuilt) | {redraws:.1f} | |")
    print(f"| CPU share of one core (process CPU / wall) | {cpu:.1f} % | <= 50 % |")
    print(f"| - window thread (take data, rebuild curves, paint) | {cpu_window:.1f} % | |")
    print(f"| - worker thread (pacing, Detector, display tap) | {cpu_worker:.1f} % | |")
    print(f"| - other threads | {cpu - cpu_window - cpu_worker:.1f} % | |")
    print(f"| curve rebuild time per redraw | {per_redraw:.2f} ms | |")
    print(f"| plot paint time per frame | {per_paint:.2f} ms | |")
    print(f"| longest worker-to-window lag | {1000 * lag[0]:.0f} ms | |")
    print(f"| samples (per channel) handed out by the source | {handed} | |")
    print(f"| samples taken by the worker / seen by the Detector | {taken} / {detected} | |")
    print(f"| samples received by the window | {shown} | |")
    print(f"| samples lost | {lost} | 0 |")
    if profiler is not None:
        print()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(args.profile)
    return 0 if lost == 0 else 1


def _thread_cpu(thread: threading.Thread | None) -> float:
    """CPU seconds used so far by ``thread`` (NaN where the platform cannot say)."""
    if thread is None or thread.ident is None or not hasattr(time, "pthread_getcpuclockid"):
        return float("nan")
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except OSError:
        return float("nan")


if __name__ == "__main__":
    sys.exit(main())
