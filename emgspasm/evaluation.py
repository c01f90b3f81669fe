"""Scoring an episode log against ground truth.

A detected spasm matches a true one on the same channel when its onset is within 1 s and the two
overlap with an intersection-over-union of at least 0.5; a detected fasciculation matches a true
one within 30 ms. Unmatched detections are attributed to whatever true event they overlap
(a voluntary movement, a running stride, an artifact), which is how false alarms get a cause.

Each recording is scored with the detector profile meant for it: unless a configuration is
given, the scenario named in its truth sidecar chooses (``training`` for a training session,
``night`` for everything else), so running strides are not judged by the night profile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DetectorConfig, profile
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

    def summary(self) -> dict[str, float | int | None | dict[str, int]]:
        """The scores as a flat dict (rounded; a statistic of no values is None, never NaN, so
        the dict is valid JSON)."""
        err = np.abs(self.onset_errors_s)
        lat = np.asarray(self.latencies_s, dtype=float)
        return {
            "hours": round(self.hours, 4),
            "spasm_precision": round(self.spasm.precision, 4),
            "spasm_recall": round(self.spasm.recall, 4),
            "spasm_f1": round(self.spasm.f1, 4),
            "spasm_true": self.spasm.true_positives + self.spasm.false_negatives,
            "spasm_detected": self.spasm.true_positives + self.spasm.false_positives,
            "false_spasms": self.spasm.false_positives,
            "false_spasms_per_hour": round(self.false_spasms_per_hour, 3),
            "onset_error_median_ms": _stat(err, np.median, 1000.0, 1),
            "onset_error_p95_ms": _stat(err, lambda x: np.percentile(x, 95), 1000.0, 1),
            "latency_median_s": _stat(lat, np.median, 1.0, 3),
            "latency_max_s": _stat(lat, np.max, 1.0, 3),
            "fasciculation_precision": round(self.fasciculation.precision, 4),
            "fasciculation_recall": round(self.fasciculation.recall, 4),
            "fasciculation_f1": round(self.fasciculation.f1, 4),
            "fasciculation_true": self.fasciculation.true_positives
            + self.fasciculation.false_negatives,
            "fasciculation_detected": self.fasciculation.true_positives
            + self.fasciculation.false_positives,
            "false_spasm_causes": dict(sorted(self.false_spasm_causes.items())),
        }


def _stat(values: np.ndarray, fn, scale: float, digits: int) -> float | None:
    """``fn(values) * scale`` rounded, or None when there are no values."""
    return round(float(fn(values)) * scale, digits) if np.size(values) else None


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


def profile_for_scenario(scenario: str | None) -> str:
    """The detector profile a recording of ``scenario`` is scored with.

    ``training`` for a training session (strides must stay apart from cramps, which the night
    profile's longer tolerated relaxation would merge); ``night`` for everything else, including
    a recording whose scenario is not known, as night is the detector's default.
    """
    return "training" if scenario == "training" else "night"


@dataclass(frozen=True)
class Truth:
    """The ground truth of one recording and what is known about how it was made.

    ``source`` is ``"sidecar"`` (a ``NAME.truth.json`` beside the recording) or
    ``"annotations"`` (its labelled annotations, which carry no scenario or mains).
    """

    events: list[Event]
    scenario: str | None = None
    mains_hz: float | None = None
    source: str = "annotations"


def read_truth(recording: str | Path, annotations: Sequence = ()) -> Truth:
    """Ground truth of a recording: its JSON sidecar, else its labelled annotations."""
    from .sources.simulator import TRUTH_KINDS, read_truth_file

    sidecar = truth_sidecar(recording)
    if sidecar.exists():
        doc = read_truth_file(sidecar)
        events = [Event(t.kind, t.channel, t.onset_s, t.offset_s) for t in doc.events]
        return Truth(events, doc.scenario, doc.mains_hz, "sidecar")
    events = [
        Event(a.description, a.channel or "", a.onset_s, a.onset_s + a.duration_s)
        for a in annotations
        if a.description in TRUTH_KINDS
    ]
    return Truth(events)


def load_truth(recording: str | Path, annotations: Sequence = ()) -> list[Event]:
    """The ground-truth events of a recording (see :func:`read_truth`)."""
    return read_truth(recording, annotations).events


def events_from_episodes(episodes: Sequence[Episode]) -> list[Event]:
    """Detected episodes as scoring events."""
    return [Event(e.kind, e.channel, e.onset_s, e.offset_s, e.detected_s) for e in episodes]


def events_from_log(path: str | Path) -> list[Event]:
    """The episodes of an episode log (CSV or JSON lines) as scoring events."""
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
    """Detect (or read ``episodes_log``) and score each recording; rows and the pooled total.

    ``config`` is used for every recording when given; when None, each recording gets the
    profile its truth scenario calls for (:func:`profile_for_scenario`). Each row names the
    recording, its scenario, sample rate, mains frequency (from the truth, else as the detector
    found it), number of channels and the profile it was scored with (None when the episodes
    come from a log), followed by :meth:`Evaluation.summary`. The total pools the counts of all
    recordings (precision, recall and F1 from the summed counts; medians over all episodes).
    """
    from .io import open_recording
    from .pipeline import detect_stream

    rows: list[dict] = []
    total = Evaluation()
    for rec in recordings:
        reader = open_recording(rec)
        header = reader.header
        truth = read_truth(rec, header.annotations)
        used: str | None = None
        mains = truth.mains_hz
        if episodes_log:
            detected = events_from_log(episodes_log)
        else:
            cfg = config if config is not None else profile(profile_for_scenario(truth.scenario))
            result = detect_stream(reader, cfg)
            detected = events_from_episodes(result.episodes)
            used = cfg.profile
            mains = mains if mains is not None else result.mains_hz
        ev = evaluate(detected, truth.events, header.duration_s)
        total.add(ev)
        rows.append(
            {
                "recording": Path(rec).name,
                "scenario": truth.scenario,
                "fs": float(header.fs),
                "mains_hz": mains,
                "channels": len(header.channels),
                "profile": used,
                **ev.summary(),
            }
        )
    summary = {
        "recording": "TOTAL",
        "recordings": len(rows),
        "scenario": _joined(r["scenario"] for r in rows),
        "profile": _joined(r["profile"] for r in rows),
        "channels": sum(r["channels"] for r in rows),
        **total.summary(),
    }
    return rows, summary


def _joined(values) -> str | None:
    """The distinct values, sorted and joined with '+' (None if there are none)."""
    distinct = sorted({str(v) for v in values if v is not None})
    return "+".join(distinct) if distinct else None


TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # row key, heading, number format
    ("recording", "recording", ""),
    ("scenario", "scenario", ""),
    ("fs", "fs (Hz)", "g"),
    ("mains_hz", "mains (Hz)", "g"),
    ("channels", "ch", "d"),
    ("profile", "profile", ""),
    ("hours", "hours", ".3f"),
    ("spasm_true", "spasms", "d"),
    ("spasm_precision", "spasm P", ".3f"),
    ("spasm_recall", "spasm R", ".3f"),
    ("spasm_f1", "spasm F1", ".3f"),
    ("false_spasms_per_hour", "false spasms/h", ".2f"),
    ("onset_error_median_ms", "onset error median (ms)", ".0f"),
    ("latency_median_s", "latency median (s)", ".2f"),
    ("latency_max_s", "latency max (s)", ".2f"),
    ("fasciculation_true", "fasc.", "d"),
    ("fasciculation_precision", "fasc. P", ".3f"),
    ("fasciculation_recall", "fasc. R", ".3f"),
    ("fasciculation_f1", "fasc. F1", ".3f"),
    ("false_spasm_causes", "false spasms by cause", ""),
)
"""Columns of :func:`markdown_table`."""

_TEXT_COLUMNS = ("recording", "scenario", "profile", "false_spasm_causes")
_PER_RECORDING = ("fs", "mains_hz")
"""Columns that have no pooled value in the TOTAL row."""


def _cell(value, fmt: str) -> str:
    """One table cell; '-' for a value that does not exist (no matched spasm, no profile)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return format(value, fmt) if fmt else str(value)


def markdown_table(rows: Sequence[dict], total: dict | None = None) -> str:
    """The per-recording rows and the TOTAL row (in bold) as a markdown table: the form in which
    results go into a README."""
    heads = [head for _, head, _ in TABLE_COLUMNS]
    rule = ["---" if key in _TEXT_COLUMNS else "--:" for key, _, _ in TABLE_COLUMNS]
    lines = ["| " + " | ".join(heads) + " |", "|" + "|".join(rule) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(k), f) for k, _, f in TABLE_COLUMNS) + " |")
    if total is not None:
        cells = []
        for key, _, fmt in TABLE_COLUMNS:
            text = "" if key in _PER_RECORDING else _cell(total.get(key), fmt)
            bold = text not in ("", "-") and (key == "recording" or key not in _TEXT_COLUMNS)
            cells.append(f"**{text}**" if bold else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
