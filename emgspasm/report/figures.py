"""The report's figures: PNG files drawn with matplotlib's Agg canvas (no display needed).

Each function draws one figure from a :class:`~.summary.Night` and its summary and writes it to
a path. Figures use the figure/canvas objects directly rather than pyplot, so nothing global
(the backend of a Qt application in the same process, say) is touched.

Readability for any length: time axes get round clock or elapsed ticks (:mod:`.timeaxis`); the
level trace is reduced to at most :data:`TRACE_POINTS` maxima; episodes too short to see at the
scale of a night are widened to :data:`MIN_SPAN_FRACTION` of the axis and marked at the top;
labels that would overlap are left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..private_files import open_private
from .summary import Night, recorded_in, sustained
from .timeaxis import bin_edges, label_step, step_for

SPASM_C = "#c0392b"
FASC_C = "#2c7fb8"
ACTIVITY_C = "#e08e0b"
LEVEL_C = "#9aa5b1"
MARKER_C = "#1e8449"
GAP_C = "#555555"
FLAT_C = "#8e44ad"
CLIP_C = "#e67e22"
CHANNEL_CS = (
    "#2c3e50",
    "#16a085",
    "#d35400",
    "#8e44ad",
    "#7f8c8d",
    "#b7950b",
    "#27ae60",
    "#c71585",
)
"""Line colours of channels (kept apart from the spasm red and fasciculation blue)."""
WIDTH_IN = 11.0
DPI = 110
TRACE_POINTS = 1500
MIN_SPAN_FRACTION = 1 / 700
MAX_MARKER_LABELS = 25
MAX_FASC_TICKS = 300
"""Above this many fasciculations on a channel the timeline shows their rate, not ticks."""
FASC_STRIP_BINS = 120
MAX_SWIMMER_ROWS = 40


def _figure(height_in: float) -> Figure:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    with open_private(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=DPI, facecolor="white")
    return path


def _time_axis(ax: Any, night: Night) -> None:
    positions, labels = night.axis.ticks()
    ax.set_xlim(0, night.scan.duration_s)
    ax.set_xticks(positions, labels)
    ax.set_xlabel(night.axis.title)


def _plain_log(ax: Any, axis: str = "y") -> None:
    """Log axis with plain labels (0.5, 1, 10, 100) rather than powers of ten."""
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(fmt)
    target.set_minor_formatter(NullFormatter())


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _shades(base: str, count: int) -> list[tuple[float, float, float]]:
    """``count`` shades of one colour, dark to light, for bars stacked by channel."""
    rgb = np.asarray(to_rgb(base))
    if count == 1:
        return [tuple(rgb)]
    out = []
    for k in range(count):
        mix = -0.35 + 0.95 * k / (count - 1)  # below 0: towards black, above: towards white
        shade = rgb * (1 + mix) if mix < 0 else rgb + (1 - rgb) * mix
        out.append(tuple(np.clip(shade, 0, 1)))
    return out


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _reduce_max(values: np.ndarray, step_s: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` maxima of ``values`` (window step ``step_s``): times and values."""
    n = values.size
    group = max(1, math.ceil(n / points))
    count = math.ceil(n / group)
    padded = np.full(count * group, np.nan, dtype=np.float64)
    padded[:n] = values
    blocks = padded.reshape(count, group)
    with np.errstate(all="ignore"):
        finite = np.isfinite(blocks).any(axis=1)
        top = np.full(count, np.nan)
        top[finite] = np.nanmax(blocks[finite], axis=1)
    t = (np.arange(count) * group + group / 2) * step_s
    return t, top


def _spread_labels(times: Sequence[float], min_gap: float) -> list[bool]:
    """Which of the sorted ``times`` get a label so that no two labels are closer than
    ``min_gap``."""
    keep, last = [], -math.inf
    for t in times:
        ok = t - last >= min_gap
        keep.append(ok)
        if ok:
            last = t
    return keep


# -- the whole night ----------------------------------------------------------------------------


def timeline(night: Night, path: Path) -> Path:
    """Per channel: the muscle's activity level over the night (x resting level, log scale),
    spasms as red bands with a mark on top, and below it a strip of fasciculations (ticks when
    few, their rate per minute when many); gaps hatched and markers as green lines."""
    scan = night.scan
    channels = scan.channels
    duration = scan.duration_s
    with_strips = bool(night.fasciculations)  # no fasciculation at all: no empty strips
    rows = 2 if with_strips else 1
    fig = _figure(1.3 + (1.55 if with_strips else 1.3) * len(channels))
    grid = fig.add_gridspec(
        rows * len(channels), 1, height_ratios=[4, 0.7][:rows] * len(channels), hspace=0.0
    )
    first = None
    levels, strips = [], []
    for c in range(len(channels)):
        ax = fig.add_subplot(grid[rows * c], sharex=first)
        first = first or ax
        levels.append(ax)
        strips.append(fig.add_subplot(grid[rows * c + 1], sharex=first) if with_strips else None)
    min_w = duration * MIN_SPAN_FRACTION
    top_level = 10.0
    fasc_step = step_for(duration, FASC_STRIP_BINS, 1.0)
    fasc_edges = np.asarray(bin_edges(duration, fasc_step))
    fasc_recorded = np.asarray(recorded_in(list(fasc_edges), scan.gaps))
    dense = any(
        sum(1 for e in night.fasciculations if e.channel == ch) > MAX_FASC_TICKS for ch in channels
    )
    top_rate = 1.0
    rates = []
    for channel in channels:
        counts, _ = np.histogram(
            [e.onset_s for e in night.fasciculations if e.channel == channel], bins=fasc_edges
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(fasc_recorded > 0, counts * 60.0 / fasc_recorded, np.nan)
        rates.append(rate)
        if np.isfinite(rate).any():
            top_rate = max(top_rate, float(np.nanmax(rate)))
    for c, (ax, strip, channel) in enumerate(zip(levels, strips, channels, strict=True)):
        level = sustained(scan, c)
        if level.size and np.isfinite(level).any():
            t, top = _reduce_max(level, scan.window_s, TRACE_POINTS)
            ax.fill_between(t, 0.1, top, step="mid", color=LEVEL_C, lw=0)
            top_level = max(top_level, float(np.nanmax(top)))
        ax.set_yscale("log")
        ax.axhline(scan.on_ratio, color="#666666", lw=0.7, ls=":")
        spasms = [e for e in night.spasms if e.channel == channel]
        for e in spasms:
            ax.axvspan(
                e.onset_s, e.onset_s + max(e.duration_s, min_w), color=SPASM_C, alpha=0.5, lw=0
            )
        if spasms:
            ax.plot(
                [e.onset_s for e in spasms],
                [0.94] * len(spasms),
                "v",
                color=SPASM_C,
                ms=5,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
            )
        fasc = [e.onset_s for e in night.fasciculations if e.channel == channel]
        if strip is None:
            pass
        elif dense:
            strip.pcolormesh(
                fasc_edges,
                [0, 1],
                rates[c][None, :],
                cmap="Blues",
                vmin=0,
                vmax=top_rate,
                shading="flat",
            )
        elif fasc:
            strip.vlines(fasc, 0.1, 0.9, color=FASC_C, lw=0.8)
        if strip is not None:
            strip.set_ylim(0, 1)
            strip.set_yticks([])
            strip.set_ylabel("fasc.", rotation=0, ha="right", va="center", fontsize=8)
            strip.tick_params(labelbottom=False)
        for target in (ax, strip) if strip is not None else (ax,):
            for g in scan.gaps:
                target.axvspan(
                    g.start_s,
                    g.start_s + max(g.duration_s, min_w),
                    facecolor="white",
                    edgecolor=GAP_C,
                    hatch="////",
                    lw=0,
                    zorder=3,
                )
            for m in night.markers:
                target.axvline(m.time_s, color=MARKER_C, lw=0.9, ls="--", alpha=0.8)
        ax.set_ylabel(f"{channel}\nx rest")
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.tick_params(labelbottom=False)
    for ax in levels:
        ax.set_ylim(0.5, top_level * 2.0)
        _plain_log(ax)
    if night.markers:
        shown = night.markers if len(night.markers) <= MAX_MARKER_LABELS else []
        keep = _spread_labels([m.time_s for m in shown], duration / 40)
        for m, ok in zip(shown, keep, strict=True):
            if ok:
                levels[0].text(
                    m.time_s,
                    1.02,
                    m.label,
                    rotation=45,
                    fontsize=7,
                    color=MARKER_C,
                    transform=levels[0].get_xaxis_transform(),
                    ha="left",
                    va="bottom",
                )
    bottom = strips[-1] if strips[-1] is not None else levels[-1]
    bottom.tick_params(labelbottom=True)
    _time_axis(bottom, night)
    fasc_label = (
        f"fasciculations ({len(night.fasciculations)}): rate per {label_step(fasc_step)} bin, "
        f"0-{top_rate:.0f}/min"
        if dense
        else f"fasciculation ({len(night.fasciculations)})"
    )
    handles = [
        Patch(color=LEVEL_C, label="activity level held 0.2 s"),
        Line2D(
            [],
            [],
            color="#666666",
            lw=0.8,
            ls=":",
            label=f"activity threshold ({scan.on_ratio:g}x rest)",
        ),
        Patch(color=SPASM_C, alpha=0.5, label=f"spasm ({len(night.spasms)})"),
        Patch(color="#6baed6", label=fasc_label)
        if dense
        else Line2D([], [], color=FASC_C, lw=1.2, label=fasc_label),
    ]
    if night.markers:
        handles.append(
            Line2D([], [], color=MARKER_C, ls="--", label=f"marker ({len(night.markers)})")
        )
    if scan.gaps:
        handles.append(Patch(facecolor="white", edgecolor=GAP_C, hatch="////", label="gap"))
    fig.legend(
        handles=handles,
        loc="outside upper center",
        ncol=min(len(handles), 6),
        fontsize=8,
        frameon=False,
    )
    return _save(fig, path)


# -- counts per period --------------------------------------------------------------------------


def _edge_ticks(
    ax: Any, edges: Sequence[float], night: Night, step_s: float, most: int = 12
) -> None:
    """Bins drawn at ``k .. k + 1``: ticks at their edges, labelled with the edges' times."""
    every = max(1, math.ceil((len(edges) - 1) / most))
    positions = list(range(0, len(edges), every))
    ax.set_xticks(positions, [night.axis.label(edges[k], step_s) for k in positions])
    ax.set_xlim(0, len(edges) - 1)


def _stacked(ax: Any, series: dict[str, Sequence[float]], base: str) -> np.ndarray:
    """Bars stacked by channel in shades of ``base``; returns the totals."""
    names = list(series)
    bottom = np.zeros(len(next(iter(series.values()))) if series else 0)
    for name, colour in zip(names, _shades(base, len(names)), strict=True):
        values = np.asarray(series[name], dtype=np.float64)
        ax.bar(
            np.arange(values.size) + 0.5,
            values,
            bottom=bottom,
            width=0.88,
            color=colour,
            label=name,
            lw=0,
        )
        bottom = bottom + values
    return bottom


def periods(night: Night, summary: dict[str, Any], path: Path) -> Path:
    """Spasms, time in spasm and fasciculations per period (an hour for a night, a minute for a
    short test), stacked by channel; periods with gaps say how much was recorded."""
    p = summary["periods"]
    fig = _figure(6.4)
    axes = fig.subplots(3, 1, sharex=True)
    labels = p["start_s"]
    spasm = _stacked(axes[0], p["counts"]["spasm"], SPASM_C)
    minutes = _stacked(axes[1], {c: [x / 60 for x in v] for c, v in p["spasm_s"].items()}, SPASM_C)
    fasc = _stacked(axes[2], p["counts"]["fasciculation"], FASC_C)
    for ax, totals, fmt in (
        (axes[0], spasm, "{:.0f}"),
        (axes[1], minutes, "{:.1f}"),
        (axes[2], fasc, "{:.0f}"),
    ):
        top = float(totals.max()) if totals.size else 0.0
        ax.set_ylim(0, max(top * 1.25, 1.0))
        if len(labels) <= 16:
            for k, v in enumerate(totals):
                if v > 0:
                    ax.text(k + 0.5, v, fmt.format(v), ha="center", va="bottom", fontsize=8)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        ax.set_axisbelow(True)
    for k, (start, recorded) in enumerate(zip(p["start_s"], p["recorded_s"], strict=True)):
        length = (
            p["start_s"][k + 1] if k + 1 < len(p["start_s"]) else summary["recording"]["duration_s"]
        ) - start
        if length > 0 and recorded / length < 0.95:
            axes[0].text(
                k + 0.5,
                axes[0].get_ylim()[1] * 0.97,
                f"{100 * recorded / length:.0f}% rec.",
                ha="center",
                va="top",
                fontsize=7,
                color=GAP_C,
            )
    for ax in (axes[0], axes[2]):
        ax.yaxis.get_major_locator().set_params(integer=True)
    axes[0].set_ylabel("spasms")
    axes[1].set_ylabel("min in spasm")
    axes[2].set_ylabel("fasciculations")
    edges = [*p["start_s"], summary["recording"]["duration_s"]]
    _edge_ticks(axes[2], edges, night, p["bin_s"])
    axes[2].set_xlabel(f"{night.axis.title.split(' (')[0]} ({p['bin_label']} periods)")
    rate = summary["totals"]["spasm"]["per_hour"]
    axes[0].set_title(
        f"Per {p['bin_label']}: {_plural(summary['totals']['spasm']['count'], 'spasm')} "
        f"({'-' if rate is None else f'{rate:.1f}'} per hour recorded), "
        f"{_plural(summary['totals']['fasciculation']['count'], 'fasciculation')}",
        fontsize=10,
    )
    if len(night.scan.channels) > 1:
        for ax in axes:
            ax.legend(fontsize=8, ncol=len(night.scan.channels), frameon=False, loc="upper right")
    return _save(fig, path)


# -- distributions ------------------------------------------------------------------------------


def _distribution(
    ax: Any, values: Sequence[float], edges: Sequence[float], colour: str, xlabel: str, title: str
) -> None:
    v = np.asarray([x for x in values if math.isfinite(x) and x > 0])
    if v.size == 0:
        _empty(ax, f"no {title.split(' ')[0].lower()}")
        ax.set_title(title, fontsize=10)
        return
    if v.size < 15:  # a few points read better as points than as a histogram
        rng = np.random.default_rng(0)
        ax.scatter(v, rng.uniform(-0.3, 0.3, v.size), color=colour, s=28, alpha=0.8, lw=0)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
    else:
        ax.hist(v, bins=np.asarray(edges), color=colour, alpha=0.85, lw=0.4, edgecolor="white")
        ax.set_ylabel("count")
    median = float(np.median(v))
    ax.axvline(median, color="#222222", lw=1.0, ls="--")
    ax.text(
        median,
        0.97,
        f" median {median:.3g}",
        transform=ax.get_xaxis_transform(),
        fontsize=8,
        va="top",
    )
    ax.set_xscale("log")
    if edges:
        ax.set_xlim(edges[0], edges[-1])
    _plain_log(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_title(f"{title} (n = {v.size})", fontsize=10)


def distributions(night: Night, summary: dict[str, Any], path: Path) -> Path:
    """Spasm durations, spasm intensity (RMS x resting level) and fasciculation size."""
    fig = _figure(3.3)
    axes = fig.subplots(1, 3)
    spasms = night.spasms
    _distribution(
        axes[0],
        [e.duration_s for e in spasms],
        summary["durations"]["spasm_s"]["histogram"]["edges"],
        SPASM_C,
        "duration (s)",
        "Spasm duration",
    )
    _distribution(
        axes[1],
        [e.relative_rms for e in spasms],
        summary["intensity"]["spasm_relative_rms"]["histogram"]["edges"],
        SPASM_C,
        "RMS (x resting level)",
        "Spasm intensity",
    )
    _distribution(
        axes[2],
        [e.relative_rms for e in night.fasciculations],
        summary["intensity"]["fasciculation_relative_peak"]["histogram"]["edges"],
        FASC_C,
        "peak (x resting RMS)",
        "Fasciculation size",
    )
    return _save(fig, path)


# -- time of night ------------------------------------------------------------------------------


def time_of_night(night: Night, summary: dict[str, Any], path: Path) -> Path:
    """Spasm onsets by clock time (or time since start), at rest and during activity."""
    t = summary["time_of_night"]
    fig = _figure(3.0)
    ax = fig.subplots()
    rest = np.asarray(t["spasm_rest"], dtype=float)
    active = np.asarray(t["spasm_activity"], dtype=float)
    if rest.sum() + active.sum() == 0:
        _empty(ax, "no spasms")
    else:
        x = np.arange(rest.size) + 0.5
        ax.bar(x, rest, width=0.88, color=SPASM_C, label="at rest", lw=0)
        ax.bar(x, active, bottom=rest, width=0.88, color=ACTIVITY_C, label="during activity", lw=0)
        ax.set_ylim(0, max(1.0, float((rest + active).max()) * 1.2))
        ax.yaxis.get_major_locator().set_params(integer=True)
        _edge_ticks(ax, [*t["start_s"], t["start_s"][-1] + t["bin_s"]], night, t["bin_s"])
        ax.legend(fontsize=8, frameon=False)
        ax.grid(axis="y", color="#e5e5e5", lw=0.6)
        ax.set_axisbelow(True)
        ax.set_ylabel("spasm onsets")
    what = "clock time" if t["clock"] else "time since start"
    ax.set_xlabel(f"{what} ({t['bin_label']} bins)")
    ax.set_title("When spasms began", fontsize=10)
    return _save(fig, path)


# -- rest versus activity -----------------------------------------------------------------------


def rest_activity(night: Night, summary: dict[str, Any], path: Path) -> Path:
    """Episodes at rest and during activity: counts per kind, and spasm durations."""
    r = summary["rest_vs_activity"]
    fig = _figure(3.0)
    left, right = fig.subplots(1, 2, width_ratios=(1.1, 1))
    kinds = ("spasm", "fasciculation")
    y = np.arange(len(kinds))
    rest = np.array([r[k]["rest"] for k in kinds], dtype=float)
    active = np.array([r[k]["activity"] for k in kinds], dtype=float)
    totals = np.maximum(rest + active, 1)
    left.barh(y, rest / totals * 100, color=[SPASM_C, FASC_C], height=0.6, label="at rest")
    left.barh(
        y,
        active / totals * 100,
        left=rest / totals * 100,
        color=ACTIVITY_C,
        height=0.6,
        label="during activity",
    )
    left.set_yticks(
        y,
        [
            f"{kind}\n{int(a)} at rest, {int(b)} during activity"
            for kind, a, b in zip(kinds, rest, active, strict=True)
        ],
        fontsize=9,
    )
    left.set_xlim(0, 100)
    left.set_xlabel("% of episodes")
    left.invert_yaxis()
    left.set_title(
        f"At rest or during activity (muscle working or movement marked in the "
        f"{r['lookback_s']:g} s before onset)",
        fontsize=9,
        loc="left",
    )
    rng = np.random.default_rng(1)
    groups = [
        [e.duration_s for e in night.spasms if not night.during_activity(e)],
        [e.duration_s for e in night.spasms if night.during_activity(e)],
    ]
    if not any(groups):
        _empty(right, "no spasms")
    else:
        for k, (values, colour) in enumerate(zip(groups, (SPASM_C, ACTIVITY_C), strict=True)):
            if values:
                right.scatter(
                    rng.uniform(-0.18, 0.18, len(values)) + k,
                    values,
                    s=14,
                    color=colour,
                    alpha=0.7,
                    lw=0,
                )
                right.hlines(np.median(values), k - 0.3, k + 0.3, color="#222222", lw=1.2)
        right.set_yscale("log")
        _plain_log(right)
        right.set_xticks(
            [0, 1], [f"at rest ({len(groups[0])})", f"during activity ({len(groups[1])})"]
        )
        right.set_xlim(-0.6, 1.6)
        right.set_ylabel("spasm duration (s)")
        right.set_title("Spasm durations (line: median)", fontsize=9)
    return _save(fig, path)


# -- fasciculation rate -------------------------------------------------------------------------


def fasciculation_rate(night: Night, summary: dict[str, Any], path: Path) -> Path:
    """Fasciculations per minute over the night, per channel."""
    f = summary["fasciculation_rate"]
    fig = _figure(2.8)
    ax = fig.subplots()
    step = f["bin_s"]
    starts = np.asarray(f["start_s"], dtype=float)
    if not night.fasciculations:
        _empty(ax, "no fasciculations")
    else:
        for k, (channel, values) in enumerate(f["per_min"].items()):
            v = np.array([np.nan if x is None else x for x in values], dtype=float)
            ax.step(
                np.append(starts, starts[-1] + step),
                np.append(v, v[-1]),
                where="post",
                color=CHANNEL_CS[k % len(CHANNEL_CS)],
                lw=1.2,
                label=channel,
            )
        ax.set_ylim(bottom=0)
        ax.set_ylabel("per minute")
        ax.grid(color="#e5e5e5", lw=0.6)
        if len(f["per_min"]) > 1:
            ax.legend(fontsize=8, frameon=False, ncol=len(f["per_min"]))
    for g in night.scan.gaps:
        ax.axvspan(g.start_s, g.stop_s, facecolor="white", edgecolor=GAP_C, hatch="////", lw=0)
    _time_axis(ax, night)
    total = summary["totals"]["fasciculation"]
    per_min = "-" if total["per_min"] is None else f"{total['per_min']:.1f}"
    every = " on all channels together" if len(f["per_min"]) > 1 else ""
    ax.set_title(
        f"Fasciculations per minute of recording, per channel ({f['bin_label']} bins; "
        f"{total['count']} in all, {per_min} per minute{every})",
        fontsize=10,
    )
    return _save(fig, path)


# -- signal quality -----------------------------------------------------------------------------


def quality(night: Night, summary: dict[str, Any], path: Path) -> Path:
    """Per channel: gaps, flat line and clipping over the night; below, the resting noise
    level (median 50 ms RMS at rest per bin), which rises when an electrode loses contact."""
    scan = night.scan
    channels = scan.channels
    q = summary["quality"]
    fig = _figure(1.6 + 0.45 * len(channels) + 2.0)
    lanes, noise = fig.subplots(2, 1, sharex=True, height_ratios=(0.45 * len(channels) + 0.6, 2))
    min_w = scan.duration_s * MIN_SPAN_FRACTION
    for k, channel in enumerate(channels):
        y = len(channels) - 1 - k
        lanes.broken_barh([(0, scan.duration_s)], (y - 0.4, 0.8), color="#eef3ee")
        for g in scan.gaps:
            lanes.broken_barh(
                [(g.start_s, max(g.duration_s, min_w))],
                (y - 0.4, 0.8),
                facecolor="white",
                edgecolor=GAP_C,
                hatch="////",
                lw=0,
            )
        flats = [(s.start_s, max(s.duration_s, min_w)) for s in scan.flat if s.channel == channel]
        if flats:
            lanes.broken_barh(flats, (y - 0.4, 0.8), color=FLAT_C)
        clips = [
            (s.start_s, max(s.duration_s, min_w)) for s in scan.clipped if s.channel == channel
        ]
        if clips:
            lanes.broken_barh(clips, (y - 0.25, 0.5), color=CLIP_C)
    lanes.set_yticks(range(len(channels)), list(reversed(channels)))
    lanes.set_ylim(-0.6, len(channels) - 0.4)
    found = []
    if scan.gaps:
        found.append(f"{_plural(len(scan.gaps), 'gap')}, {scan.gap_s:.1f} s lost")
    if scan.flat:
        found.append(f"flat line {sum(s.duration_s for s in scan.flat):.1f} s")
    if scan.clipped:
        found.append(f"clipping {sum(q['clipped_samples'].values())} samples")
    checked = "" if scan.clip_level is not None else " (clipping: recorder marks only)"
    lanes.set_title(
        ("; ".join(found) if found else "no gaps, flat line or clipping found") + checked,
        fontsize=10,
    )
    handles = [
        Patch(color="#eef3ee", label="signal"),
        Patch(facecolor="white", edgecolor=GAP_C, hatch="////", label="gap"),
        Patch(color=FLAT_C, label="flat line"),
        Patch(color=CLIP_C, label="clipped"),
    ]
    lanes.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
    )
    bins = q["bins"]
    starts = np.asarray(bins["start_s"], dtype=float)
    step = bins["bin_s"]
    for k, (channel, values) in enumerate(bins["resting_noise_rms"].items()):
        v = np.array([np.nan if x is None else x for x in values], dtype=float)
        if np.isfinite(v).any():
            noise.step(
                np.append(starts, starts[-1] + step),
                np.append(v, v[-1]),
                where="post",
                color=CHANNEL_CS[k % len(CHANNEL_CS)],
                lw=1.1,
                label=channel,
            )
    noise.set_yscale("log")
    _plain_log(noise)
    unit = scan.units[0] if len(set(scan.units)) == 1 else "unit"
    noise.set_ylabel(f"resting noise\n({unit} RMS)")
    noise.set_title(
        "Resting noise per channel (median RMS of the filtered signal at rest; it "
        "rises when an electrode loses contact)",
        fontsize=9,
    )
    noise.grid(color="#e5e5e5", lw=0.6)
    noise.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _time_axis(noise, night)
    return _save(fig, path)


# -- markers ------------------------------------------------------------------------------------


def markers(night: Night, summary: dict[str, Any], path: Path) -> Path | None:
    """Each marker that followed a spasm, aligned at the marker: the spasm from its onset to
    its end, and the time to resolution. None when no marker followed a spasm."""
    linked = [m for m in summary["markers"] if m["spasm"] is not None][:MAX_SWIMMER_ROWS]
    if not linked:
        return None
    fig = _figure(1.2 + 0.26 * len(linked))
    ax = fig.subplots()
    for k, m in enumerate(linked):
        onset = -m["onset_to_marker_s"]
        end = m["time_to_resolution_s"]
        ax.barh(k, end - onset, left=onset, height=0.55, color=SPASM_C, alpha=0.55)
        ax.plot([0], [k], "D", color=MARKER_C, ms=6)
        ax.text(max(end, 0), k, f"  {end:+.1f} s", va="center", fontsize=8)
    ax.axvline(0, color=MARKER_C, lw=1)
    ax.set_yticks(
        range(len(linked)),
        [f"{m['clock']} {m['label']} ({m['spasm']['channel']})" for m in linked],
        fontsize=8,
    )
    ax.set_xlabel("seconds from the marker (bar: the spasm from onset to end)")
    low = min(-m["onset_to_marker_s"] for m in linked)
    high = max(max(m["time_to_resolution_s"], 0.0) for m in linked)
    span = max(high - low, 1.0)
    ax.set_xlim(low - 0.03 * span, high + 0.14 * span)
    ax.set_ylim(len(linked) - 0.4, -0.6)
    more = sum(1 for m in summary["markers"] if m["spasm"] is not None) - len(linked)
    ax.set_title(
        "Markers and the spasm each followed: time to resolution = spasm end - marker"
        + (f" (first {len(linked)}; {more} more in the table)" if more > 0 else ""),
        fontsize=10,
    )
    ax.grid(axis="x", color="#e5e5e5", lw=0.6)
    return _save(fig, path)


FIGURES = (
    ("timeline", "The whole night"),
    ("periods", "Counts per period"),
    ("distributions", "Durations and intensity"),
    ("time_of_night", "Time of night"),
    ("rest_activity", "At rest or during activity"),
    ("fasciculation_rate", "Fasciculation rate"),
    ("quality", "Signal quality and gaps"),
    ("markers", "Markers"),
)
"""Figure names (file ``<name>.png``) and titles, in the order of the page."""


def draw_all(night: Night, summary: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Draw every figure into ``folder``; returns name -> path (the markers figure only when a
    marker followed a spasm)."""
    out: dict[str, Path] = {}
    out["timeline"] = timeline(night, folder / "timeline.png")
    out["periods"] = periods(night, summary, folder / "periods.png")
    out["distributions"] = distributions(night, summary, folder / "distributions.png")
    out["time_of_night"] = time_of_night(night, summary, folder / "time_of_night.png")
    out["rest_activity"] = rest_activity(night, summary, folder / "rest_activity.png")
    out["fasciculation_rate"] = fasciculation_rate(
        night, summary, folder / "fasciculation_rate.png"
    )
    out["quality"] = quality(night, summary, folder / "quality.png")
    swimmer = markers(night, summary, folder / "markers.png")
    if swimmer is not None:
        out["markers"] = swimmer
    return out
