"""``emgspasm demo``: a simulated sensor streamed through the Detector, episodes printed live.

No hardware and no files: the simulator plays a short night with cramps and fasciculations, the
stream is cut into the small blocks a sensor would deliver, and every episode is printed the
moment the detector knows it, then compared with the simulator's ground truth.
"""

from __future__ import annotations

from .config import profile
from .detect import Detector
from .evaluation import Event, evaluate, events_from_episodes
from .frames import Episode


def _say(now_s: float, text: str) -> None:
    print(f"[{now_s:8.2f} s] {text}", flush=True)


def run_demo(duration_s: float = 180.0, fs: float = 2000.0, seed: int = 7) -> int:
    """Run the demo; returns the process exit code."""
    from .sources.simulator import simulate, truth_events

    rec = simulate("night", duration_s, fs=fs, seed=seed, channels=2, mains_hz=50.0)
    print(
        f"simulated night: {duration_s:.0f} s, {fs:g} Hz, channels {', '.join(rec.channels)} "
        f"(µV), mains 50 Hz; streaming 50 ms blocks through the detector"
    )
    detector = Detector(profile("night"))
    announced: set[tuple[str, int]] = set()
    episodes: list[Episode] = []
    for frame in rec.frames(max(1, int(0.05 * fs))):
        now = frame.stop / fs
        for ep in detector.process(frame):
            episodes.append(ep)
            _report(now, ep)
        for ep in detector.ongoing:
            if (ep.channel, ep.onset) not in announced:
                announced.add((ep.channel, ep.onset))
                _say(
                    now,
                    f"SPASM on {ep.channel}: started at {ep.onset_s:.2f} s, "
                    f"flagged {ep.detected_s - ep.onset_s:.2f} s after onset",
                )
    for ep in detector.flush():
        episodes.append(ep)
        _report(rec.duration_s, ep)
    truth = [Event(t.kind, t.channel, t.onset_s, t.offset_s) for t in truth_events(rec)]
    score = evaluate(events_from_episodes(episodes), truth, rec.duration_s).summary()
    print()
    print(
        f"spasms: {sum(e.kind == 'spasm' for e in episodes)} detected, "
        f"{score['spasm_true']} in the simulation (F1 {score['spasm_f1']:.2f})"
    )
    print(
        f"fasciculations: {sum(e.kind == 'fasciculation' for e in episodes)} detected, "
        f"{score['fasciculation_true']} in the simulation (F1 {score['fasciculation_f1']:.2f})"
    )
    return 0


def _report(now: float, ep: Episode) -> None:
    if ep.kind == "spasm":
        notes = f" [{'; '.join(ep.quality)}]" if ep.quality else ""
        _say(
            now,
            f"spasm on {ep.channel} ended: {ep.onset_s:.2f}-{ep.offset_s:.2f} s "
            f"({ep.duration_s:.1f} s), RMS {ep.rms:.1f} µV = {ep.relative_rms:.0f}x rest{notes}",
        )
    else:
        _say(now, f"fasciculation on {ep.channel} at {ep.onset_s:.3f} s, peak {ep.peak:.0f} µV")
