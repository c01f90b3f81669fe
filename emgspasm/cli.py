"""The ``emgspasm`` command: parse arguments, call the library, print. No logic lives here."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import ConfigError, EmgSpasmError


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


def cmd_detect(args: argparse.Namespace) -> int:
    from .io import open_recording
    from .pipeline import detect_stream
    from .sinks.episode_log import EpisodeLogWriter

    cfg = _config(args)
    reader = open_recording(
        args.recording, args.input_format, fs=args.fs, skip_bad_lines=args.skip_bad_lines
    )
    header = reader.header
    bar = _progress(header.n_samples, header.duration_s, args.quiet)
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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
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


if __name__ == "__main__":
    sys.exit(main())
