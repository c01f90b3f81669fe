"""The report page: one HTML file beside its PNG figures, readable offline.

No script, font or style sheet is fetched from anywhere: the style is in the page and the
figures are files in the same folder, so the folder can be copied, mailed or archived as it is.
Every number on the page comes from the summary that is also written as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from .. import __version__
from .figures import FIGURES
from .summary import ACTIVE_RUN_S, GUARD_S, LOOKBACK_S, MARKER_LINK_S, Night

MAX_TABLE_ROWS = 500
NIGHT_S = 2 * 3600
"""A recording this long or longer is called a night; shorter ones a session."""

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       background: #f6f7f8; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; background: white; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 8px; border-bottom: 1px solid #e3e3e3; padding-bottom: 4px; }
.sub { color: #555; margin: 0 0 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; }
.card { border: 1px solid #e3e3e3; border-radius: 6px; padding: 10px 12px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .label { color: #555; font-size: 13px; }
.card.spasm .value { color: #c0392b; } .card.fasc .value { color: #2c7fb8; }
img { max-width: 100%; height: auto; display: block; margin: 6px 0; }
.caption { color: #444; font-size: 14px; margin: 2px 0 0; }
table { border-collapse: collapse; font-size: 13.5px; margin: 8px 0; }
th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: left; }
th { background: #fafafa; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: 13px; }
details summary { cursor: pointer; color: #2c7fb8; margin: 6px 0; }
dl dt { font-weight: 600; margin-top: 8px; } dl dd { margin: 2px 0 0 18px; color: #333; }
footer { margin-top: 36px; color: #777; font-size: 12.5px; }
"""


def _duration(seconds: float | None) -> str:
    """``29000`` -> ``"8 h 03 min"``; ``75`` -> ``"1 min 15 s"``; ``4.2`` -> ``"4.2 s"``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _card(value: str, label: str, kind: str = "") -> str:
    return (
        f'<div class="card {kind}"><div class="value">{escape(value)}</div>'
        f'<div class="label">{escape(label)}</div></div>'
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    out = ["<table><thead><tr>"]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows[:MAX_TABLE_ROWS]:
        out.append("<tr>")
        for k, cell in enumerate(row):
            cls = ' class="num"' if k in numeric else ""
            out.append(f"<td{cls}>{escape(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    if len(rows) > MAX_TABLE_ROWS:
        out.append(
            f'<p class="note">First {MAX_TABLE_ROWS} of {len(rows)} rows; all are in '
            "summary.json.</p>"
        )
    return "".join(out)


def _captions(summary: dict[str, Any]) -> dict[str, str]:
    totals = summary["totals"]
    r = summary["rest_vs_activity"]
    q = summary["quality"]
    p = summary["periods"]
    d = summary["durations"]["spasm_s"]
    i = summary["intensity"]["spasm_relative_rms"]
    f = summary["intensity"]["fasciculation_relative_peak"]
    return {
        "timeline": (
            "Each channel has two rows. Above: how hard the muscle was working, as a multiple "
            "of that channel's resting level (log scale): the activity level - the RMS of the "
            "filtered signal's sample-to-sample change in 50 ms windows - held for 0.2 s, the "
            "highest in each pixel, so single twitches and heartbeats drop out. Red bands with "
            "a mark on top: spasms (short ones widened so they stay visible). Below: "
            "fasciculations, as ticks, or as their rate per minute (darker: more) when there "
            "are too many to draw one by one. Green dashed lines: markers. Hatched: gaps, "
            "where samples were lost."
        ),
        "periods": (
            f"Counts per {p['bin_label']} of recording, by channel. Rates divide by the time "
            "actually recorded in each period (periods with gaps say how much was recorded)."
        ),
        "distributions": (
            f"Spasm durations (median {_num(d['median'])} s, 10-90 % "
            f"{_num(d['p10'])}-{_num(d['p90'])} s), spasm intensity as RMS over the resting "
            f"level (median {_num(i['median'])}x) and fasciculation size as peak over the "
            f"resting RMS (median {_num(f['median'])}x). Few values are shown as points."
        ),
        "time_of_night": (
            "When spasms began, by "
            + ("clock time" if summary["time_of_night"]["clock"] else "time since start")
            + f", in {summary['time_of_night']['bin_label']} bins; orange: during activity."
        ),
        "rest_activity": (
            f"Spasms: {r['spasm']['rest']} at rest, {r['spasm']['activity']} during activity; "
            f"fasciculations: {r['fasciculation']['rest']} at rest, "
            f"{r['fasciculation']['activity']} during activity. The muscle was working "
            f"{_num(None if r['active_fraction'] is None else 100 * r['active_fraction'])} % "
            "of the recorded time (outside spasms). See the definitions below."
        ),
        "fasciculation_rate": (
            f"{totals['fasciculation']['count']} fasciculations, "
            f"{_num(totals['fasciculation']['per_min'], 2)} per minute recorded (all channels "
            f"together); the lines show each channel in "
            f"{summary['fasciculation_rate']['bin_label']} bins. Fasciculations are only "
            "counted at rest, so a period with a long spasm has fewer."
        ),
        "quality": (
            f"Gaps: {len(q['gaps'])} ({_duration(q['gap_s'])} lost). Flat line: "
            + ", ".join(f"{c} {_duration(s)}" for c, s in q["flat_s"].items())
            + ". Clipped samples: "
            + ", ".join(f"{c} {n}" for c, n in q["clipped_samples"].items())
            + ". Lower panel: the resting noise per channel (median RMS of the filtered signal "
            "in 50 ms windows outside spasms and activity), which rises when an electrode "
            "loses contact and drops to nothing on a flat line."
        ),
        "markers": (
            "Each marker that followed a spasm, placed at 0 s: the bar runs from the spasm's "
            "onset to its end; the number is the time to resolution (spasm end minus marker)."
        ),
    }


def render_html(night: Night, summary: dict[str, Any], figures: dict[str, Path]) -> str:
    """The page (see the module notes); figures are linked by file name."""
    rec = summary["recording"]
    totals = summary["totals"]
    r = summary["rest_vs_activity"]
    name = rec["name"] or "recording"
    start = f"started {rec['start_time'].replace('T', ' ')}" if rec["start_time"] else ""
    source = (
        f"episodes from the detector (profile {summary['profile']})"
        if summary["episodes_source"] == "detector"
        else f"episodes from {Path(summary['episodes_source']).name}"
    )
    channels = ", ".join(f"{c} [{u}]" for c, u in zip(rec["channels"], rec["units"], strict=True))
    sub = " · ".join(
        x
        for x in (
            name,
            start,
            _duration(rec["duration_s"]),
            f"{len(rec['channels'])} channel(s): {channels} at {rec['fs']:g} Hz",
            source,
        )
        if x
    )
    recorded = rec["recorded_s"] / rec["duration_s"] * 100 if rec["duration_s"] else 0.0
    gaps = summary["quality"]["gaps"]
    cards = [
        _card(
            str(totals["spasm"]["count"]),
            f"spasms ({_num(totals['spasm']['per_hour'])} per hour)",
            "spasm",
        ),
        _card(_duration(totals["spasm"]["time_in_spasm_s"]), "time in spasm", "spasm"),
        _card(
            _num(summary["durations"]["spasm_s"]["median"]) + " s",
            "median spasm duration",
            "spasm",
        ),
        _card(
            f"{r['spasm']['rest']} / {r['spasm']['activity']}",
            "spasms at rest / during activity",
            "spasm",
        ),
        _card(
            str(totals["fasciculation"]["count"]),
            f"fasciculations ({_num(totals['fasciculation']['per_min'], 2)} per minute)",
            "fasc",
        ),
        _card(
            f"{recorded:.1f} %",
            f"recorded ({len(gaps)} gap{'' if len(gaps) == 1 else 's'})",
        ),
        _card(str(len(summary["markers"])), "markers"),
    ]
    captions = _captions(summary)
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{'Night' if rec['duration_s'] >= NIGHT_S else 'Session'} report: "
        f"{escape(name)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<h1>{'Night' if rec['duration_s'] >= NIGHT_S else 'Session'} report</h1>",
        f'<p class="sub">{escape(sub)}</p>',
        f'<div class="cards">{"".join(cards)}</div>',
    ]
    if summary["channels_not_in_recording"]:
        parts.append(
            '<p class="note">The episode log names channels the recording does not have: '
            f"{escape(', '.join(summary['channels_not_in_recording']))}; their episodes are "
            "counted but not drawn.</p>"
        )
    for key, title in FIGURES:
        if key == "markers":
            continue
        if key in figures:
            parts.append(f"<h2>{escape(title)}</h2>")
            parts.append(
                f'<img src="{escape(figures[key].name)}" alt="{escape(title)}">'
                f'<p class="caption">{escape(captions[key])}</p>'
            )
    parts.append("<h2>Markers</h2>")
    parts.append(_markers(summary, figures, captions["markers"]))
    parts.append("<h2>Spasms</h2>")
    parts.append(_spasms(summary, night))
    parts.append("<h2>How to read this report</h2>")
    parts.append(_definitions(summary))
    if rec["notes"]:
        parts.append("<h2>Notes on the recording</h2><ul>")
        parts += [f"<li>{escape(n)}</li>" for n in rec["notes"]]
        parts.append("</ul>")
    parts.append(
        f"<footer>emgspasm {escape(__version__)} · the same numbers for scripts: "
        '<a href="summary.json">summary.json</a></footer>'
    )
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _markers(summary: dict[str, Any], figures: dict[str, Path], caption: str) -> str:
    markers = summary["markers"]
    if not markers:
        return (
            '<p class="note">No markers: none in the recording\'s annotations and none in the '
            "episode log.</p>"
        )
    out = []
    if "markers" in figures:
        out.append(
            f'<img src="{escape(figures["markers"].name)}" alt="markers">'
            f'<p class="caption">{escape(caption)}</p>'
        )
    rows = []
    for m in markers:
        s = m["spasm"]
        rows.append(
            [
                m["clock"],
                m["label"],
                m["source"],
                "-" if s is None else s["channel"],
                "-" if s is None else f"{s['duration_s']:.1f} s",
                "-" if m["onset_to_marker_s"] is None else f"{m['onset_to_marker_s']:.1f} s",
                "-" if m["time_to_resolution_s"] is None else f"{m['time_to_resolution_s']:+.1f} s",
            ]
        )
    out.append(
        _table(
            [
                "time",
                "marker",
                "from",
                "spasm on",
                "spasm duration",
                "onset to marker",
                "time to resolution",
            ],
            rows,
            {4, 5, 6},
        )
    )
    return "".join(out)


def _spasms(summary: dict[str, Any], night: Night) -> str:
    spasms = summary["spasms"]
    if not spasms:
        return '<p class="note">No spasms.</p>'
    rows = [
        [
            s["clock"],
            s["channel"],
            f"{s['duration_s']:.1f} s",
            _num(s["relative_rms"]) + "x",
            "activity" if s["during_activity"] else "rest",
            "; ".join(s["quality"]),
        ]
        for s in spasms
    ]
    table = _table(
        ["onset", "channel", "duration", "RMS x rest", "at", "quality notes"], rows, {2, 3}
    )
    return f"<details><summary>All {len(spasms)} spasms</summary>{table}</details>"


def _definitions(summary: dict[str, Any]) -> str:
    r = summary["rest_vs_activity"]
    q = summary["quality"]
    clip = (
        f"samples at or beyond {q['clip_level']:g} (the configured clip level) and "
        if q["clip_level"] is not None
        else ""
    )
    items = [
        (
            "Episodes",
            "A spasm is a sustained involuntary contraction (seconds to minutes); a "
            "fasciculation is a single isolated motor-unit twitch. Times are counted from the "
            "first sample of the recording"
            + (", shown as clock times." if summary["time_of_night"]["clock"] else "."),
        ),
        (
            "At rest or during activity",
            f"An episode is during activity when, in the {LOOKBACK_S:g} s before its onset (up "
            f"to {GUARD_S:g} s before it), the muscle was working on any channel - the activity "
            "level (the RMS of the filtered signal's sample-to-sample change in 50 ms windows, "
            "the quantity the detector's envelope is made of) stayed at or above "
            f"{r['level_ratio']:g}x that channel's resting level for at least {ACTIVE_RUN_S:g} s "
            "without a break, outside "
            "any spasm - or an annotation or marker naming movement (voluntary, movement, "
            "stride, walking, running, exercise, activity, training) covers part of that "
            "span. Otherwise it is at rest. A twitch or a heartbeat is too short to count.",
        ),
        (
            "Resting level",
            "For each channel, the 20th percentile of the activity level over the whole "
            "recording: a quiet moment, whether the recording is a night (mostly rest) or a "
            "session that is half movement. Spasm intensity is the spasm's RMS over the "
            "detector's resting RMS, fasciculation size its peak over the same.",
        ),
        (
            "Markers",
            "Annotations of the recording for the whole recording (not for one channel) and "
            "marker rows of the episode log. A marker follows the spasm that was going on when "
            f"it was made, or that had ended at most {MARKER_LINK_S:g} s before; the time to "
            "resolution is that spasm's end minus the marker's time.",
        ),
        (
            "Rates",
            "Counts divided by the recorded time (the recording's length less its gaps), "
            "overall and in each period.",
        ),
        (
            "Signal quality",
            "Gaps are samples the recording lost (marked by the recorder or found in time "
            "stamps; never filled in). Flat line is signal far below the resting level for a "
            f"second or more. Clipping counts {clip}the clipping marks the recorder wrote.",
        ),
    ]
    body = "".join(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in items)
    return f"<dl>{body}</dl>"
