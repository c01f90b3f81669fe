"""The ``emgspasm`` command: parse arguments, call the library, print. No logic lives here."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import ConfigError, EmgSpasmError

if TYPE_CHECKING:
    from .recording import RecordingReader


def _config(args: argparse.Namespace):
    from .config import DetectorConfig, profile

    if getattr(args, "config", None):
        cfg = DetectorConfig.from_toml(args.config)
        return cfg if args.profile is None else cfg.replace(profile=args.profile)
    return profile(args.profile or "night")


def cmd_info(args: argparse.Namespace) -> int:
    from .io import describe, open_recording

    reader = open_recording(args.file, args.format, fs=args.fs, skip_bad_lines=args.skip_bad_lines)
    print(describe(reader.header))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from .io import write_bdf
    from .sources.simulator import simulate, write_truth_json

    rec = simulate(
        args.scenario,
        args.duration,
        fs=args.fs,
        seed=args.seed,
        channels=args.channels,
        mains_hz=args.mains,
    )
    out = Path(args.out)
    write_bdf(rec, out)
    truth = out.with_suffix(".truth.json")
    write_truth_json(rec, truth, scenario=args.scenario, seed=args.seed, mains_hz=args.mains)
    kinds: dict[str, int] = {}
    for a in rec.annotations:
        kinds[a.description] = kinds.get(a.description, 0) + 1
    counts = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "no events"
    print(
        f"wrote {out} ({rec.duration_s:.0f} s, {rec.fs:g} Hz, {len(rec.channels)} ch) "
        f"and {truth}: {counts}"
    )
    return 0


def _open_input(args: argparse.Namespace) -> RecordingReader:
    """The recording a command reads, with the reading options it was given."""
    from .io import open_recording

    return open_recording(
        args.recording, args.input_format, fs=args.fs, skip_bad_lines=args.skip_bad_lines
    )


def cmd_detect(args: argparse.Namespace) -> int:
    from .pipeline import detect_stream
    from .sinks.episode_log import EpisodeLogWriter

    cfg = _config(args)
    reader = _open_input(args)
    bar = _progress(reader.header.n_samples, reader.header.duration_s, args.quiet)
    with EpisodeLogWriter(args.out, args.format) as log:
        result = detect_stream(
            reader, cfg, on_episodes=log.write, on_progress=bar.update if bar else None
        )
    if bar:
        bar.close()
    if not args.quiet:
        hours = result.duration_s / 3600.0
        mains = f"{result.mains_hz:g} Hz" if result.mains_hz else "none"
        print(
            f"{Path(args.recording).name}: {result.duration_s:.1f} s, "
            f"{len(result.channels)} channel(s), profile {cfg.profile}, mains {mains}"
        )
        for kind, per, unit in (("spasm", 1.0, "h"), ("fasciculation", 60.0, "min")):
            n = result.count(kind)
            rate = f" ({n / hours / per:.1f}/{unit})" if hours > 0 else ""
            print(f"  {kind}: {n}{rate}")
        if result.gap_samples:
            print(f"  gaps: {result.gap_samples} samples lost")
        flat = [q for q in result.quality if q.kind == "flat"]
        if flat:
            print(f"  flat line: {len(flat)} segment(s)")
        print(f"  episodes written to {args.out}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import ReadOptions, run_batch

    report = run_batch(
        args.recordings,
        args.out,
        _config(args),
        reading=ReadOptions(args.input_format, args.fs, args.skip_bad_lines),
        log_format=args.format,
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        progress=not args.quiet,
        stream=sys.stderr,
    )
    if not args.quiet:
        print("\n".join(report.lines()))
    return report.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from .report import make_report

    cfg = _config(args)
    reader = _open_input(args)
    bar = _progress(reader.header.n_samples, reader.header.duration_s, args.quiet)
    report = make_report(
        reader,
        args.out,
        episodes_log=args.episodes,
        config=cfg,
        on_progress=bar.update if bar else None,
    )
    if bar:
        bar.close()
    if not args.quiet:
        totals = report.summary["totals"]
        print(
            f"{Path(args.recording).name}: {totals['spasm']['count']} spasm(s), "
            f"{totals['fasciculation']['count']} fasciculation(s), "
            f"{len(report.summary['markers'])} marker(s)"
        )
        print(f"  report: {report.html}")
        print(f"  numbers: {report.summary_json}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from .record import record, sensor_spec

    spec = sensor_spec(
        args.device,
        replay=args.replay,
        simulate=args.simulate,
        speed=args.speed,
        drop=args.drop,
        disconnect_at_s=args.disconnect_at or (),
        outage_s=args.outage,
        garbage=args.garbage,
        fs=args.fs,
        channels=args.channels,
        seed=args.seed,
    )
    summary = record(
        spec,
        args.out,
        config=_config(args),
        episodes=args.episodes,
        duration_s=args.duration,
        on_event=lambda line: print(line, file=sys.stderr, flush=True),
        lsl=args.lsl,
    )
    print("\n".join(summary.lines()))
    if summary.error is not None:
        raise summary.error
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_recordings, markdown_table

    chosen = None if args.profile == "auto" else args.profile
    cfg = None  # auto: each recording's truth scenario picks its profile
    if args.config or chosen:
        cfg = _config(argparse.Namespace(config=args.config, profile=chosen))
    if args.episodes and len(args.recordings) != 1:
        raise ConfigError("--episodes scores one recording; give exactly one")
    table, total = evaluate_recordings(args.recordings, cfg, episodes_log=args.episodes)
    if args.json:
        print(json.dumps({"recordings": table, "total": total}, indent=2))
    else:
        print(markdown_table(table, total))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(duration_s=args.duration, fs=args.fs, seed=args.seed)


def cmd_live(args: argparse.Namespace) -> int:
    from .live.app import make_source, run_live

    cfg = _config(args)
    source, name = make_source(args.device, args.replay, args.speed)
    rc = run_live(
        source,
        cfg,
        name=name,
        window_s=args.window,
        duration_s=args.duration,
        screenshot=args.screenshot,
        log=args.log,
        lsl=args.lsl,
    )
    if args.screenshot:
        print(f"screenshot written to {args.screenshot}")
    return rc


def cmd_repair(args: argparse.Namespace) -> int:
    from .io.repair import repair

    report = repair(args.file, args.out)
    print("\n".join(report.lines()))
    return 0


def _progress(n_samples: int, duration_s: float, quiet: bool):
    """A progress bar on stderr for recordings longer than ten minutes."""
    if quiet or duration_s < 600:
        return None
    from tqdm import tqdm

    return tqdm(
        total=n_samples,
        unit="sample",
        unit_scale=True,
        file=sys.stderr,
        desc="detecting",
        leave=False,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="emgspasm",
        description="Detect muscle cramps (sustained involuntary contractions) and fasciculations "
        "in surface EMG.",
    )
    p.add_argument("--version", action="version", version=f"emgspasm {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def reading(sp: argparse.ArgumentParser, format_flag: str) -> None:
        from .io import FORMATS

        sp.add_argument(
            format_flag,
            dest="input_format" if format_flag != "--format" else "format",
            choices=FORMATS,
            help="file format (default: from extension and content)",
        )
        sp.add_argument("--fs", type=float, help="sample rate in Hz when the file does not say")
        sp.add_argument(
            "--skip-bad-lines",
            action="store_true",
            help="read past corrupt lines, marking their samples as gaps",
        )

    def detecting(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--profile",
            choices=("night", "training"),
            default=None,
            help="detector profile (default: night)",
        )
        sp.add_argument("--config", help="detector configuration (TOML)")

    sp = sub.add_parser("demo", help="simulate a sensor and detect episodes as they happen")
    sp.add_argument("--duration", type=float, default=180.0, help="seconds of signal (180)")
    sp.add_argument("--fs", type=float, default=2000.0, help="sample rate in Hz (2000)")
    sp.add_argument("--seed", type=int, default=7)
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("info", help="describe a recording")
    sp.add_argument("file")
    reading(sp, "--format")
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("simulate", help="write a simulated recording with its ground truth")
    sp.add_argument(
        "--scenario", choices=("night", "training", "fasciculation", "quiet"), default="night"
    )
    sp.add_argument("--duration", type=float, default=600.0, help="seconds (600)")
    sp.add_argument("--fs", type=float, default=2000.0, help="sample rate in Hz (2000)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--channels", type=int, default=1)
    sp.add_argument("--mains", type=float, default=50.0, help="mains frequency in Hz (50)")
    sp.add_argument("--out", required=True, help="output BDF+ file; truth goes to .truth.json")
    sp.set_defaults(func=cmd_simulate)

    sp = sub.add_parser("detect", help="find episodes in a recording and write the episode log")
    sp.add_argument("recording")
    sp.add_argument("--out", required=True, help="episode log (.csv or .jsonl)")
    sp.add_argument("--format", choices=("csv", "jsonl"), help="episode log format")
    sp.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    reading(sp, "--input-format")
    detecting(sp)
    sp.set_defaults(func=cmd_detect)

    sp = sub.add_parser(
        "batch",
        help="detect episodes in many recordings (local processes or a Dask cluster)",
        description="Process many recordings into one folder: per recording its episode log "
        "(as `detect` writes it) and a JSON summary, plus cohort.csv and batch.log. Recordings "
        "already done with the same file and configuration are skipped unless --force.",
        epilog="exit codes: 0 every recording has a result; 2 at least one failed (see "
        "cohort.csv); 1 the batch could not run; 3 configuration error; 130 interrupted "
        "(re-run to finish)",
    )
    sp.add_argument("recordings", nargs="+", metavar="FILE_OR_GLOB", help="recordings or globs")
    sp.add_argument("--out", required=True, help="output folder (created owner-only)")
    sp.add_argument(
        "--format", choices=("csv", "jsonl"), default="csv", help="episode log format (csv)"
    )
    where = sp.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=int, help="local worker processes (default: one per core)"
    )
    where.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask distributed cluster"
    )
    sp.add_argument("--force", action="store_true", help="process recordings already done")
    sp.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    reading(sp, "--input-format")
    detecting(sp)
    sp.set_defaults(func=cmd_batch)

    sp = sub.add_parser(
        "report", help="night report: HTML page with figures, and a JSON summary of the numbers"
    )
    sp.add_argument("recording")
    sp.add_argument(
        "--episodes",
        metavar="LOG",
        help="episode log (.csv or .jsonl, marker rows included); without it the detector runs",
    )
    sp.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    sp.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    reading(sp, "--input-format")
    detecting(sp)
    sp.set_defaults(func=cmd_report)

    sp = sub.add_parser(
        "record",
        help="record a Bluetooth sensor to BDF+ while detecting episodes (Ctrl-C stops)",
    )
    sp.add_argument(
        "--device",
        help="sensor address or name, or virtual:bridge|virtual:myo|virtual:ganglion "
        "(default with --replay/--simulate: virtual:bridge)",
    )
    feed = sp.add_mutually_exclusive_group()
    feed.add_argument("--replay", metavar="FILE", help="recording a virtual sensor plays")
    feed.add_argument(
        "--simulate",
        metavar="SCENARIO",
        choices=("night", "training", "fasciculation", "quiet"),
        help="simulated scenario a virtual sensor plays (default: night)",
    )
    sp.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="virtual sensor pace (1: real time; 0: as fast as possible)",
    )
    sp.add_argument(
        "--drop", type=float, default=0.0, help="fraction of notifications a virtual sensor loses"
    )
    sp.add_argument(
        "--disconnect-at",
        type=float,
        nargs="+",
        action="extend",
        metavar="S",
        help="seconds of signal at which a virtual sensor drops the link",
    )
    sp.add_argument(
        "--outage", type=float, default=0.5, help="seconds a virtual sensor stays away (0.5)"
    )
    sp.add_argument(
        "--garbage",
        type=float,
        default=0.0,
        help="fraction of notifications a virtual sensor follows with a malformed one",
    )
    sp.add_argument("--fs", type=float, help="sample rate of a simulated feed")
    sp.add_argument("--channels", type=int, help="channels of a simulated feed")
    sp.add_argument("--seed", type=int, default=0, help="seed of the simulation and the faults")
    sp.add_argument(
        "--duration",
        type=float,
        help="stop after this many seconds of signal (also the length of a simulated feed, "
        "600 s without it); otherwise Ctrl-C stops",
    )
    sp.add_argument("--out", required=True, help="output BDF+ file")
    sp.add_argument("--episodes", metavar="LOG", help="episode log (.csv or .jsonl)")
    sp.add_argument(
        "--lsl",
        action="store_true",
        help="also publish samples and episodes as Lab Streaming Layer streams (off: no network)",
    )
    detecting(sp)
    sp.set_defaults(func=cmd_record)

    sp = sub.add_parser(
        "repair",
        help="make a damaged EDF/BDF file readable again (wrong record count, cut short, "
        "trailing bytes)",
        description="Keep the whole data records a damaged EDF/BDF file holds and fix its header "
        "to count them: a record cut short or bytes after the last record are dropped (and "
        "reported), nothing is filled in. EDF+/BDF+ records are checked by their time stamps.",
        epilog="exit codes: 0 repaired or nothing to repair; 2 the file cannot be repaired",
    )
    sp.add_argument("file", help="the damaged recording")
    sp.add_argument(
        "--out", metavar="FIXED", help="write the repaired copy here (default: repair in place)"
    )
    sp.set_defaults(func=cmd_repair)

    sp = sub.add_parser("evaluate", help="score detections against ground truth")
    sp.add_argument(
        "recordings",
        nargs="+",
        help="recordings with truth (a .truth.json beside them, or annotations)",
    )
    sp.add_argument("--episodes", help="score this episode log instead of running the detector")
    sp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sp.add_argument(
        "--profile",
        choices=("auto", "night", "training"),
        default="auto",
        help="detector profile for every recording (default: auto, from each recording's truth "
        "scenario: training for training, night otherwise)",
    )
    sp.add_argument("--config", help="detector configuration (TOML) for every recording")
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser(
        "live",
        help="live view: EMG traces, envelopes, thresholds and episodes as they happen",
    )
    source = sp.add_mutually_exclusive_group()
    source.add_argument("--device", help="Bluetooth sensor name or address")
    source.add_argument("--replay", metavar="FILE", help="replay a recording")
    sp.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay speed (1: real time; 0: as fast as possible)",
    )
    sp.add_argument("--window", type=float, default=30.0, help="seconds shown, 5-60 (30)")
    sp.add_argument("--log", metavar="EPISODES.csv", help="episode log with markers (.csv/.jsonl)")
    sp.add_argument(
        "--duration", type=float, help="run this many seconds of wall-clock time, then exit"
    )
    sp.add_argument(
        "--screenshot", metavar="PNG", help="save a picture of the window at the end (--duration)"
    )
    sp.add_argument(
        "--lsl",
        action="store_true",
        help="also publish samples and episodes as Lab Streaming Layer streams (off: no network)",
    )
    detecting(sp)
    sp.set_defaults(func=cmd_live)
    return p


def _configure_logging() -> None:
    """Commands tell the user what happens themselves (progress, summaries, the live status
    bar); log records of emgspasm and its libraries would repeat it, so only errors pass,
    unless ``EMGSPASM_DEBUG`` is set."""
    debug = bool(os.environ.get("EMGSPASM_DEBUG"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.ERROR, format="emgspasm: %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure a user can cause becomes one line on stderr and the exit
    code of its kind (see :mod:`emgspasm.errors`). Set ``EMGSPASM_DEBUG=1`` to get the traceback
    of an unexpected error instead of its one line."""
    _configure_logging()
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except EmgSpasmError as exc:
        print(f"emgspasm: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("emgspasm: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"emgspasm: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("EMGSPASM_DEBUG"):
            raise
        print(
            f"emgspasm: internal error: {type(exc).__name__}: {exc}; please report it (run again "
            "with EMGSPASM_DEBUG=1 for the details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
