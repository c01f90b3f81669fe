"""The numbers of a night report: what the figures show and the JSON summary holds.

Everything is computed once here, from a :class:`~.scan.Scan` of the recording and the episodes
(from an episode log or from the detector during the scan), so the figures, the page and the
JSON cannot disagree.

Definitions:

*At rest or during activity.* An episode counts as *during activity* when, in the
:data:`LOOKBACK_S` seconds before its onset (up to :data:`GUARD_S` before it, so that its own
rise does not count), (a) the muscle was working on any channel: the activity level (the RMS
of the band-passed signal's sample-to-sample change in 50 ms windows, see :mod:`.scan`) stayed
at or above the detector's activity ratio (``on_ratio``, 4x the channel's resting level, a low
percentile of its activity level over the recording, see :meth:`.Scan.rest_level`) for at
least :data:`ACTIVE_RUN_S` without a break (a fasciculation, a heartbeat or the ringing after an
electrode pop is shorter), outside any spasm; or (b) an annotation or marker naming movement
("voluntary", "movement", "stride", "walking", "running", "exercise", "activity", "training",
...) covers part of that span. Otherwise it is *at rest*. Annotations count whatever their
channel, so the ground-truth "voluntary" and "stride" labels of a simulated recording count as
movement too.

*Markers.* Annotations of the recording that concern the whole recording (no channel; the
reader's own marks such as gaps and clipping excluded) and ``marker`` rows of the episode log.
A marker *follows* the spasm (any channel) that was going on when it was made, or that ended at
most :data:`MARKER_LINK_S` seconds before it; the time to resolution is that spasm's end minus
the marker's time (negative when the marker came after the end).

*Rates* divide by recorded time (the length less the gaps), per bin and overall.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..frames import Annotation, Episode
from ..sinks.episode_log import read_episode_log
from .scan import Scan, Span
from .timeaxis import (
    CLOCK_BINS,
    CLOCK_MIN_S,
    COUNT_BINS,
    COUNT_MIN_S,
    RATE_BINS,
    RATE_MIN_S,
    TimeAxis,
    bin_edges,
    label_step,
    step_for,
)

SPASM = "spasm"
FASCICULATION = "fasciculation"
MARKER = "marker"
LOOKBACK_S = 5.0
GUARD_S = 0.25
ACTIVE_RUN_S = 0.2
SPASM_MARGIN_S = 0.5
"""Windows this close to a spasm belong to it, not to other activity."""
MARKER_LINK_S = 60.0
ACTIVITY_WORDS = re.compile(
    r"\b(voluntary|movement|moving|move[sd]?|stride|strides|walk\w*|run|running|exercis\w*|"
    r"activity|active|training|sport\w*|cycling)\b",
    re.IGNORECASE,
)
INTERNAL_MARKS = {"gap", "recording end", "clipped"}
HISTOGRAM_BINS = 12


@dataclass(frozen=True)
class Event:
    """An episode as the report sees it, from the detector or from a log row."""

    kind: str
    channel: str
    onset_s: float
    offset_s: float
    detected_s: float
    peak: float
    rms: float
    relative_rms: float
    quality: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.offset_s - self.onset_s

    @classmethod
    def from_episode(cls, ep: Episode) -> Event:
        return cls(
            ep.kind,
            ep.channel,
            ep.onset_s,
            ep.offset_s,
            ep.detected_s,
            ep.peak,
            ep.rms,
            ep.relative_rms,
            tuple(ep.quality),
        )


@dataclass(frozen=True)
class Marker:
    """A marker: ``time_s`` from the first sample, its text, where it came from."""

    time_s: float
    label: str
    channel: str | None = None
    source: str = "recording"


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def read_log(path: str | Path) -> tuple[list[Event], list[Marker]]:
    """Episodes and markers of an episode log (CSV or JSONL, with or without marker rows)."""
    events: list[Event] = []
    markers: list[Marker] = []
    for row in read_episode_log(path):
        kind = str(row.get("kind", "")).strip()
        channel = str(row.get("channel") or "").strip()
        if kind == MARKER:
            label = str(row.get("label") or "").strip()
            if label:
                markers.append(Marker(_float(row["onset_s"]), label, channel or None, "log"))
            continue
        relative = _float(row.get("relative_rms"))
        if not math.isfinite(relative):
            baseline = _float(row.get("baseline"))
            rms = _float(row["rms"])
            relative = rms / baseline if baseline > 0 else float("nan")
        quality = row.get("quality") or ""
        notes = (
            tuple(quality)
            if isinstance(quality, list)
            else tuple(q for q in str(quality).split(";") if q)
        )
        events.append(
            Event(
                kind,
                channel,
                _float(row["onset_s"]),
                _float(row["offset_s"]),
                _float(row["detected_s"]),
                _float(row["peak"]),
                _float(row["rms"]),
                relative,
                notes,
            )
        )
    return events, markers


def recording_markers(annotations: Iterable[Annotation]) -> list[Marker]:
    """The recording's annotations that are markers (see the module notes)."""
    return [
        Marker(a.onset_s, a.description, None, "recording")
        for a in annotations
        if a.channel is None and a.description not in INTERNAL_MARKS and a.description.strip()
    ]


@dataclass
class Night:
    """The recording's scan with the episodes and markers the report is about."""

    scan: Scan
    events: list[Event]
    markers: list[Marker]
    source: str
    """Where the episodes came from: ``"detector"`` or the log's path."""
    axis: TimeAxis = field(init=False)
    rest: np.ndarray = field(init=False)
    in_spasm: np.ndarray = field(init=False)
    """Per level window: within a spasm (any channel)."""
    active: np.ndarray = field(init=False)
    """Per level window: muscle activity outside spasms on any channel (module notes)."""
    movement: list[Span] = field(init=False)
    """Annotations and markers that name movement."""

    def __post_init__(self) -> None:
        self.events = sorted(self.events, key=lambda e: (e.onset_s, e.channel, e.kind))
        self.markers = sorted(self.markers, key=lambda m: (m.time_s, m.label))
        self.axis = TimeAxis(self.scan.duration_s, self.scan.start_time)
        self.rest = self.scan.rest_level()
        self.in_spasm = spasm_windows(self.scan, self.spasms)
        self.active = activity_windows(self.scan, self.rest, self.in_spasm)
        spans = [
            Span(a.onset_s, a.offset_s, a.channel)
            for a in self.scan.annotations
            if ACTIVITY_WORDS.search(a.description)
        ]
        spans += [
            Span(m.time_s, m.time_s, m.channel)
            for m in self.markers
            if m.source == "log" and ACTIVITY_WORDS.search(m.label)
        ]
        self.movement = sorted(spans, key=lambda s: s.start_s)

    @property
    def spasms(self) -> list[Event]:
        return [e for e in self.events if e.kind == SPASM]

    @property
    def fasciculations(self) -> list[Event]:
        return [e for e in self.events if e.kind == FASCICULATION]

    def during_activity(self, event: Event) -> str | None:
        """Why ``event`` counts as during activity (``"signal"``, ``"annotation"``), or None."""
        start = max(0.0, event.onset_s - LOOKBACK_S)
        stop = event.onset_s - GUARD_S
        if stop > start:
            w = self.scan.window_s
            a, b = int(math.floor(start / w)), int(math.ceil(stop / w))
            if self.active[max(a, 0) : max(b, 0)].any():
                return "signal"
        starts = [s.start_s for s in self.movement]
        k = int(np.searchsorted(starts, event.onset_s, side="right"))
        for span in self.movement[:k]:
            if span.stop_s >= start:
                return "annotation"
        return None


def spasm_windows(scan: Scan, spasms: Sequence[Event]) -> np.ndarray:
    """Per level window: whether it lies within :data:`SPASM_MARGIN_S` of a spasm (any
    channel)."""
    count = scan.levels.shape[0]
    out = np.zeros(count, dtype=bool)
    w = scan.window_s
    for e in spasms:
        a = max(0, int(math.floor((e.onset_s - SPASM_MARGIN_S) / w)))
        b = min(count, int(math.ceil((e.offset_s + SPASM_MARGIN_S) / w)))
        out[a:b] = True
    return out


def activity_windows(scan: Scan, rest: np.ndarray, in_spasm: np.ndarray) -> np.ndarray:
    """Per level window: whether some channel was working outside spasms (module notes)."""
    levels = scan.levels
    count = levels.shape[0]
    if count == 0 or levels.shape[1] == 0:
        return np.zeros(count, dtype=bool)
    with np.errstate(invalid="ignore"):
        above = levels >= scan.on_ratio * rest[None, :]
    run = max(1, int(math.ceil(ACTIVE_RUN_S / scan.window_s - 1e-9)))
    active = np.zeros(count, dtype=bool)
    for c in range(levels.shape[1]):
        active |= _long_runs(above[:, c], run)
    return active & ~in_spasm


def sustained(scan: Scan, channel: int) -> np.ndarray:
    """Per level window: the level held for :data:`ACTIVE_RUN_S` around it (the least level of
    the run of windows starting there), relative to the channel's resting level. A twitch, a
    heartbeat or an electrode pop lifts single windows only and drops out."""
    from scipy.ndimage import minimum_filter1d

    rest = scan.rest_level()[channel]
    column = scan.levels[:, channel].astype(np.float64)
    if column.size == 0 or not (np.isfinite(rest) and rest > 0):
        return np.full(column.shape, np.nan)
    run = max(1, int(math.ceil(ACTIVE_RUN_S / scan.window_s - 1e-9)))
    filled = np.where(np.isfinite(column), column, 0.0)
    held = minimum_filter1d(filled, run, mode="nearest", origin=-(run // 2))
    held[~np.isfinite(column)] = np.nan
    return held / rest


def _long_runs(mask: np.ndarray, run: int) -> np.ndarray:
    """``mask`` keeping only runs of True at least ``run`` long."""
    if run <= 1 or not mask.any():
        return mask.copy()
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    out = np.zeros_like(mask)
    for a, b in zip(starts, stops, strict=True):
        if b - a >= run:
            out[a:b] = True
    return out


# -- helpers for numbers ------------------------------------------------------------------------


def _r(value: float, digits: int = 3) -> float | None:
    """Rounded for JSON; NaN and infinities become None."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"n": 0, "median": None, "p10": None, "p90": None, "min": None, "max": None}
    return {
        "n": int(v.size),
        "median": _r(np.median(v)),
        "p10": _r(np.percentile(v, 10)),
        "p90": _r(np.percentile(v, 90)),
        "min": _r(v.min()),
        "max": _r(v.max()),
    }


def log_edges(values: Sequence[float], bins: int = HISTOGRAM_BINS) -> list[float]:
    """Histogram edges evenly spaced in log scale over the positive ``values`` (round ends)."""
    v = np.asarray([x for x in values if math.isfinite(x) and x > 0], dtype=np.float64)
    if v.size == 0:
        return []
    low = 10 ** (math.floor(2 * math.log10(v.min())) / 2)
    high = 10 ** (math.ceil(2 * math.log10(v.max() * 1.0001)) / 2)
    if high <= low:
        high = low * 10
    return [float(x) for x in np.geomspace(low, high, bins + 1)]


def _histogram(values: Sequence[float]) -> dict[str, Any]:
    edges = log_edges(values)
    if not edges:
        return {"edges": [], "counts": []}
    v = np.asarray([x for x in values if math.isfinite(x) and x > 0])
    counts, _ = np.histogram(v, bins=edges)
    return {"edges": [_r(e, 4) for e in edges], "counts": [int(c) for c in counts]}


def recorded_in(edges: Sequence[float], gaps: Sequence[Span]) -> list[float]:
    """Seconds with samples in each bin ``[edges[k], edges[k + 1])``."""
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        lost = sum(max(0.0, min(b, g.stop_s) - max(a, g.start_s)) for g in gaps)
        out.append(max(0.0, (b - a) - lost))
    return out


def _bin_counts(times: Sequence[float], edges: Sequence[float]) -> list[int]:
    if len(edges) < 2:
        return []
    counts, _ = np.histogram(np.asarray(times, dtype=np.float64), bins=np.asarray(edges))
    return [int(c) for c in counts]


def _overlap(spans: Iterable[Span], edges: Sequence[float]) -> list[float]:
    """Seconds of ``spans`` inside each bin."""
    out = [0.0] * (len(edges) - 1)
    for s in spans:
        for k, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            if s.stop_s > a and s.start_s < b:
                out[k] += min(b, s.stop_s) - max(a, s.start_s)
    return out


# -- the summary ------------------------------------------------------------------------------


def link_markers(night: Night) -> list[dict[str, Any]]:
    """Each marker with the spasm it followed and the time to resolution (module notes)."""
    spasms = night.spasms
    onsets = [e.onset_s for e in spasms]
    out = []
    for m in night.markers:
        k = int(np.searchsorted(onsets, m.time_s, side="right"))
        found: Event | None = None
        for e in reversed(spasms[:k]):
            if e.offset_s + MARKER_LINK_S >= m.time_s and (
                found is None or e.offset_s > found.offset_s
            ):
                found = e
            if e.onset_s < m.time_s - 3600:
                break
        entry: dict[str, Any] = {
            "time_s": _r(m.time_s),
            "clock": night.axis.stamp(m.time_s),
            "label": m.label,
            "channel": m.channel,
            "source": m.source,
            "spasm": None,
            "onset_to_marker_s": None,
            "time_to_resolution_s": None,
        }
        if found is not None:
            entry["spasm"] = {
                "channel": found.channel,
                "onset_s": _r(found.onset_s),
                "offset_s": _r(found.offset_s),
                "duration_s": _r(found.duration_s),
            }
            entry["onset_to_marker_s"] = _r(m.time_s - found.onset_s)
            entry["time_to_resolution_s"] = _r(found.offset_s - m.time_s)
        out.append(entry)
    return out


def summarize(night: Night) -> dict[str, Any]:
    """Every number of the report, JSON-ready (see the module notes for the definitions)."""
    scan, axis = night.scan, night.axis
    channels = list(scan.channels)
    duration = scan.duration_s
    recorded_h = scan.recorded_s / 3600.0
    kinds = sorted({e.kind for e in night.events} | {SPASM, FASCICULATION})

    def by_channel(events: Sequence[Event]) -> dict[str, int]:
        out = {c: 0 for c in channels}
        for e in events:
            out[e.channel] = out.get(e.channel, 0) + 1
        return out

    totals: dict[str, Any] = {}
    for kind in kinds:
        events = [e for e in night.events if e.kind == kind]
        totals[kind] = {
            "count": len(events),
            "per_hour": _r(len(events) / recorded_h) if recorded_h > 0 else None,
            "by_channel": by_channel(events),
        }
    spasms = night.spasms
    totals[SPASM]["time_in_spasm_s"] = _r(sum(e.duration_s for e in spasms))
    totals[FASCICULATION]["per_min"] = (
        _r(totals[FASCICULATION]["count"] / (recorded_h * 60)) if recorded_h > 0 else None
    )

    # counts per period
    step = step_for(duration, COUNT_BINS, COUNT_MIN_S)
    edges = bin_edges(duration, step)
    recorded = recorded_in(edges, scan.gaps)
    periods: dict[str, Any] = {
        "bin_s": step,
        "bin_label": label_step(step),
        "start_s": [_r(e) for e in edges[:-1]],
        "label": [axis.label(e, step) for e in edges[:-1]],
        "recorded_s": [_r(r) for r in recorded],
        "counts": {},
        "per_hour": {},
        "spasm_s": {},
    }
    for kind in (SPASM, FASCICULATION):
        periods["counts"][kind] = {}
        periods["per_hour"][kind] = {}
        for c in channels:
            counts = _bin_counts(
                [e.onset_s for e in night.events if e.kind == kind and e.channel == c], edges
            )
            periods["counts"][kind][c] = counts
            periods["per_hour"][kind][c] = [
                _r(n * 3600.0 / r, 2) if r > 0 else None
                for n, r in zip(counts, recorded, strict=True)
            ]
    for c in channels:
        periods["spasm_s"][c] = [
            _r(x, 1)
            for x in _overlap(
                [Span(e.onset_s, e.offset_s) for e in spasms if e.channel == c], edges
            )
        ]

    # activity
    labels = {id(e): night.during_activity(e) for e in night.events}
    rest_activity: dict[str, Any] = {
        "lookback_s": LOOKBACK_S,
        "guard_s": GUARD_S,
        "active_run_s": ACTIVE_RUN_S,
        "level_ratio": scan.on_ratio,
        "active_fraction": _r(float(night.active.sum()) * scan.window_s / scan.recorded_s, 4)
        if scan.recorded_s > 0
        else None,
    }
    for kind in (SPASM, FASCICULATION):
        events = [e for e in night.events if e.kind == kind]
        during = [e for e in events if labels[id(e)]]
        rest_activity[kind] = {
            "rest": len(events) - len(during),
            "activity": len(during),
            "activity_by_signal": sum(1 for e in during if labels[id(e)] == "signal"),
            "activity_by_annotation": sum(1 for e in during if labels[id(e)] == "annotation"),
            "rest_by_channel": by_channel([e for e in events if not labels[id(e)]]),
            "activity_by_channel": by_channel(during),
        }
    rest_activity["spasm"]["duration_rest_s"] = _stats(
        [e.duration_s for e in spasms if not labels[id(e)]]
    )
    rest_activity["spasm"]["duration_activity_s"] = _stats(
        [e.duration_s for e in spasms if labels[id(e)]]
    )

    # time of night
    clock_step = step_for(duration, CLOCK_BINS, CLOCK_MIN_S)
    clock_edges = axis.clock_bins(clock_step)
    time_of_night = {
        "clock": axis.clock,
        "bin_s": clock_step,
        "bin_label": label_step(clock_step),
        "start_s": [_r(e) for e in clock_edges[:-1]],
        "label": [
            axis.label(max(e, 0.0) if not axis.clock else e, clock_step) for e in clock_edges[:-1]
        ],
        "spasm_rest": _bin_counts([e.onset_s for e in spasms if not labels[id(e)]], clock_edges),
        "spasm_activity": _bin_counts([e.onset_s for e in spasms if labels[id(e)]], clock_edges),
    }

    # fasciculation rate and signal quality over the night
    fine = step_for(duration, RATE_BINS, RATE_MIN_S)
    fine_edges = bin_edges(duration, fine)
    fine_recorded = recorded_in(fine_edges, scan.gaps)
    fasc_rate: dict[str, Any] = {
        "bin_s": fine,
        "bin_label": label_step(fine),
        "start_s": [_r(e) for e in fine_edges[:-1]],
        "per_min": {},
    }
    for c in channels:
        counts = _bin_counts(
            [e.onset_s for e in night.fasciculations if e.channel == c], fine_edges
        )
        fasc_rate["per_min"][c] = [
            _r(n * 60.0 / r, 2) if r > 0 else None
            for n, r in zip(counts, fine_recorded, strict=True)
        ]
    quality: dict[str, Any] = {
        "gaps": [{"start_s": _r(g.start_s), "stop_s": _r(g.stop_s)} for g in scan.gaps],
        "gap_s": _r(scan.gap_s),
        "flat": [
            {"channel": s.channel, "start_s": _r(s.start_s), "stop_s": _r(s.stop_s)}
            for s in scan.flat
        ],
        "flat_s": {c: _r(sum(s.duration_s for s in scan.flat if s.channel == c)) for c in channels},
        "clipped": [
            {
                "channel": s.channel,
                "start_s": _r(s.start_s),
                "stop_s": _r(s.stop_s),
                "samples": s.count,
            }
            for s in scan.clipped
        ],
        "clipped_samples": {
            c: int(sum(s.count for s in scan.clipped if s.channel == c)) for c in channels
        },
        "clip_level": scan.clip_level,
        "resting_noise_rms": {c: _noise(night, k, 0.0, duration) for k, c in enumerate(channels)},
        "bins": {
            "bin_s": fine,
            "start_s": [_r(e) for e in fine_edges[:-1]],
            "gap_fraction": [
                _r(1 - r / (b - a), 4) if b > a else None
                for a, b, r in zip(fine_edges[:-1], fine_edges[1:], fine_recorded, strict=True)
            ],
            "flat_fraction": {
                c: [
                    _r(x / (b - a), 4) if b > a else None
                    for x, a, b in zip(
                        _overlap([s for s in scan.flat if s.channel == c], fine_edges),
                        fine_edges[:-1],
                        fine_edges[1:],
                        strict=True,
                    )
                ]
                for c in channels
            },
            "clipped_samples": {
                c: _clipped_per_bin([s for s in scan.clipped if s.channel == c], fine_edges)
                for c in channels
            },
            "resting_noise_rms": {
                c: [
                    _noise(night, k, a, b)
                    for a, b in zip(fine_edges[:-1], fine_edges[1:], strict=True)
                ]
                for k, c in enumerate(channels)
            },
        },
    }

    durations = [e.duration_s for e in spasms]
    intensity = [e.relative_rms for e in spasms]
    fasc_peak = [e.relative_rms for e in night.fasciculations]
    unknown = sorted({e.channel for e in night.events} - set(channels))
    return {
        "recording": {
            "path": scan.path,
            "name": Path(scan.path).name if scan.path else "",
            "format": scan.format,
            "fs": scan.fs,
            "channels": channels,
            "units": list(scan.units),
            "duration_s": _r(duration),
            "recorded_s": _r(scan.recorded_s),
            "start_time": scan.start_time.isoformat() if scan.start_time else None,
            "mains_hz": scan.mains_hz,
            "notes": list(scan.notes),
        },
        "episodes_source": night.source,
        "profile": scan.profile,
        "channels_not_in_recording": unknown,
        "totals": totals,
        "periods": periods,
        "durations": {"spasm_s": {**_stats(durations), "histogram": _histogram(durations)}},
        "intensity": {
            "spasm_relative_rms": {**_stats(intensity), "histogram": _histogram(intensity)},
            "fasciculation_relative_peak": {
                **_stats(fasc_peak),
                "histogram": _histogram(fasc_peak),
            },
        },
        "time_of_night": time_of_night,
        "rest_vs_activity": rest_activity,
        "fasciculation_rate": fasc_rate,
        "quality": quality,
        "markers": link_markers(night),
        "spasms": [
            {
                "channel": e.channel,
                "onset_s": _r(e.onset_s),
                "offset_s": _r(e.offset_s),
                "duration_s": _r(e.duration_s),
                "clock": axis.stamp(e.onset_s),
                "relative_rms": _r(e.relative_rms, 2),
                "during_activity": labels[id(e)] is not None,
                "quality": list(e.quality),
            }
            for e in spasms
        ],
    }


def _clipped_per_bin(spans: Sequence[Span], edges: Sequence[float]) -> list[int]:
    """Clipped samples per bin, each span's count shared in proportion to its overlap."""
    out = [0.0] * (len(edges) - 1)
    for s in spans:
        length = max(s.duration_s, 1e-9)
        for k, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            part = min(b, s.stop_s) - max(a, s.start_s)
            if part > 0 or (s.duration_s == 0 and a <= s.start_s < b):
                out[k] += s.count * (part / length if s.duration_s > 0 else 1.0)
    return [int(round(x)) for x in out]


def _noise(night: Night, channel: int, start_s: float, stop_s: float) -> float | None:
    """Resting noise of a channel between two times: the median RMS of the band-passed signal
    over the 50 ms windows that are neither in a spasm nor in other activity."""
    scan = night.scan
    if scan.rms.size == 0:
        return None
    w = scan.window_s
    a, b = int(start_s / w), int(math.ceil(stop_s / w))
    part = scan.rms[a:b, channel]
    quiet = ~(night.active[a:b] | night.in_spasm[a:b]) & np.isfinite(part)
    return _r(float(np.median(part[quiet])), 4) if quiet.any() else None
