"""Scoring an episode log against ground truth.

A detected spasm matches a true one on the same channel when its onset is within 1 s and the two
overlap with an intersection-over-union of at least 0.5; a detected fasciculation matches a true
one within 30 ms. Unmatched detections are attributed to whatever true event they overlap
(a voluntary movement, a running stride, an artifact), which is how false alarms get a cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DetectorConfig
from .frames import Episode

SPASM_ONSET_TOL_S = 1.0
SPASM_MIN_IOU = 0.5
FASC_TOL_S = 0.030


@dataclass(frozen=True)
class Event:
    """A span on one channel (detected or true)."""

    kind: str
    channel: str
    onset_s: float
    offset_s: float
    detected_s: float = float("nan")


@dataclass
class Score:
    """Counts and derived rates for one kind of episode."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        d = self.true_positives + self.false_positives
        return self.true_positives / d if d else 1.0

    @property
    def recall(self) -> float:
        d = self.true_positives + self.false_negatives
        return self.true_positives / d if d else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    """The result of scoring one or more recordings."""

    hours: float = 0.0
    spasm: Score = field(default_factory=Score)
    fasciculation: Score = field(default_factory=Score)
    onset_errors_s: list[float] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    false_spasm_causes: Counter = field(default_factory=Counter)

    def add(self, other: Evaluation) -> None:
        self.hours += other.hours
        for kind in ("spasm", "fasciculation"):
            mine, theirs = getattr(self, kind), getattr(other, kind)
            mine.true_positives += theirs.true_positives
            mine.false_positives += theirs.false_positives
            mine.false_negatives += theirs.false_negatives
        self.onset_errors_s += other.onset_errors_s
        self.latencies_s += other.latencies_s
        self.false_spasm_causes.update(other.false_spasm_causes)

    @property
    def false_spasms_per_hour(self) -> float:
        return self.spasm.false_positives / self.hours if self.hours else 0.0

    def summary(self) -> dict[str, float | dict[str, int]]:
        err = np.abs(self.onset_errors_s) if self.onset_errors_s else np.array([np.nan])
        lat = np.array(self.latencies_s) if self.latencies_s else np.array([np.nan])
        return {
            "hours": round(self.hours, 4),
            "spasm_precision": round(self.spasm.precision, 4),
            "spasm_recall": round(self.spasm.recall, 4),
            "spasm_f1": round(self.spasm.f1, 4),
            "spasm_true": self.spasm.true_positives + self.spasm.false_negatives,
            "false_spasms_per_hour": round(self.false_spasms_per_hour, 3),
            "onset_error_median_ms": round(float(np.median(err)) * 1000, 1),
            "onset_error_p95_ms": round(float(np.percentile(err, 95)) * 1000, 1),
            "latency_median_s": round(float(np.median(lat)), 3),
            "latency_max_s": round(float(np.max(lat)), 3),
            "fasciculation_precision": round(self.fasciculation.precision, 4),
            "fasciculation_recall": round(self.fasciculation.recall, 4),
            "fasciculation_f1": round(self.fasciculation.f1, 4),
            "fasciculation_true": self.fasciculation.true_positives
            + self.fasciculation.false_negatives,
            "false_spasm_causes": dict(self.false_spasm_causes),
        }


def _iou(a: Event, b: Event) -> float:
    inter = min(a.offset_s, b.offset_s) - max(a.onset_s, b.onset_s)
    union = max(a.offset_s, b.offset_s) - min(a.onset_s, b.onset_s)
    return max(0.0, inter) / union if union > 0 else 0.0


def _match(detected: list[Event], truth: list[Event], ok, cost) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by increasing cost among acceptable pairs."""
    pairs = [
        (cost(d, t), i, j)
        for i, d in enumerate(detected)
        for j, t in enumerate(truth)
        if d.channel == t.channel and ok(d, t)
    ]
    pairs.sort()
    used_d: set[int] = set()
    used_t: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_d and j not in used_t:
            used_d.add(i)
            used_t.add(j)
            out.append((i, j))
    return out


def evaluate(detected: Sequence[Event], truth: Sequence[Event], duration_s: float) -> Evaluation:
    """Score the detections of one recording against its ground truth."""
    result = Evaluation(hours=duration_s / 3600.0)
    d_sp = [e for e in detected if e.kind == "spasm"]
    t_sp = [e for e in truth if e.kind == "spasm"]
    pairs = _match(
        d_sp,
        t_sp,
        lambda d, t: (
            abs(d.onset_s - t.onset_s) <= SPASM_ONSET_TOL_S and _iou(d, t) >= SPASM_MIN_IOU
        ),
        lambda d, t: abs(d.onset_s - t.onset_s),
    )
    result.spasm.true_positives = len(pairs)
    result.spasm.false_positives = len(d_sp) - len(pairs)
    result.spasm.false_negatives = len(t_sp) - len(pairs)
    for i, j in pairs:
        result.onset_errors_s.append(d_sp[i].onset_s - t_sp[j].onset_s)
        if np.isfinite(d_sp[i].detected_s):
            result.latencies_s.append(d_sp[i].detected_s - t_sp[j].onset_s)
    matched = {i for i, _ in pairs}
    for i, d in enumerate(d_sp):
        if i not in matched:
            result.false_spasm_causes[_cause(d, truth)] += 1
    d_fa = [e for e in detected if e.kind == "fasciculation"]
    t_fa = [e for e in truth if e.kind == "fasciculation"]
    pairs = _match(
        d_fa,
        t_fa,
        lambda d, t: abs(d.onset_s - t.onset_s) <= FASC_TOL_S,
        lambda d, t: abs(d.onset_s - t.onset_s),
    )
    result.fasciculation.true_positives = len(pairs)
    result.fasciculation.false_positives = len(d_fa) - len(pairs)
    result.fasciculation.false_negatives = len(t_fa) - len(pairs)
    return result


def _cause(d: Event, truth: Sequence[Event]) -> str:
    """The true event a false detection overlaps most (any channel if none on its own)."""
    best, best_overlap = "unexplained", 0.0
    for same_channel in (True, False):
        for t in truth:
            if same_channel != (t.channel == d.channel):
                continue
            overlap = min(d.offset_s, t.offset_s) - max(d.onset_s, t.onset_s)
            if overlap > best_overlap:
                best, best_overlap = t.kind, overlap
        if best_overlap > 0:
            break
    return best


def truth_sidecar(recording: str | Path) -> Path:
    """Where a recording's ground-truth JSON lives: ``NAME.truth.json`` beside it."""
    p = Path(recording)
    return p.with_name(p.name.rsplit(".", 1)[0] + ".truth.json")


def load_truth(recording: str | Path, annotations: Sequence = ()) -> list[Event]:
    """Ground truth of a recording: its JSON sidecar, else its labelled annotations."""
    from .sources.simulator import TRUTH_KINDS, read_truth_json

    sidecar = truth_sidecar(recording)
    if sidecar.exists():
        return [Event(t.kind, t.channel, t.onset_s, t.offset_s) for t in read_truth_json(sidecar)]
    return [
        Event(a.description, a.channel or "", a.onset_s, a.onset_s + a.duration_s)
        for a in annotations
        if a.description in TRUTH_KINDS
    ]


def events_from_episodes(episodes: Sequence[Episode]) -> list[Event]:
    return [Event(e.kind, e.channel, e.onset_s, e.offset_s, e.detected_s) for e in episodes]


def events_from_log(path: str | Path) -> list[Event]:
    from .sinks.episode_log import read_episode_log

    return [
        Event(
            str(r["kind"]),
            str(r["channel"]),
            float(r["onset_s"]),
            float(r["offset_s"]),
            float(r["detected_s"]),
        )
        for r in read_episode_log(path)
    ]


def evaluate_recordings(
    recordings: Sequence[str | Path],
    config: DetectorConfig | None = None,
    *,
    episodes_log: str | Path | None = None,
) -> tuple[list[dict], dict]:
    """Detect (or read ``episodes_log``) and score each recording; rows and the pooled total."""
    from .io import open_recording
    from .pipeline import detect_stream

    rows: list[dict] = []
    total = Evaluation()
    for rec in recordings:
        reader = open_recording(rec)
        header = reader.header
        truth = load_truth(rec, header.annotations)
        if episodes_log:
            detected = events_from_log(episodes_log)
        else:
            detected = events_from_episodes(detect_stream(reader, config).episodes)
        ev = evaluate(detected, truth, header.duration_s)
        total.add(ev)
        rows.append(dict(ev.summary(), recording=Path(rec).name))
    return rows, total.summary()
