"""A short human-readable summary of a recording's header (what ``emgspasm info`` prints)."""

from __future__ import annotations

from ..recording import RecordingHeader

SHOWN_ANNOTATIONS = 5


def _duration(seconds: float) -> str:
    """``3725.5`` -> ``"1 h 02 min 05.5 s"``; short spans stay in seconds."""
    if seconds < 60:
        return f"{seconds:.3f} s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:04.1f} s"
    return f"{minutes} min {secs:04.1f} s"


def describe(header: RecordingHeader) -> str:
    """Several lines: file, format, rate, channels and units, length, annotations, gaps, notes."""
    lines = []
    if header.path:
        lines.append(f"file:        {header.path}")
    lines.append(f"format:      {header.format or 'unknown'}")
    lines.append(f"sample rate: {header.fs:g} Hz")
    channels = ", ".join(f"{c} [{u}]" for c, u in zip(header.channels, header.units, strict=True))
    lines.append(f"channels:    {len(header.channels)}: {channels}")
    lines.append(f"duration:    {_duration(header.duration_s)} ({header.n_samples} samples)")
    if header.start_time is not None:
        lines.append(f"start time:  {header.start_time.isoformat(sep=' ')}")
    lines.append(f"annotations: {len(header.annotations)}")
    for annotation in header.annotations[:SHOWN_ANNOTATIONS]:
        where = f"@{annotation.channel}" if annotation.channel else ""
        lines.append(
            f"  {annotation.onset_s:10.3f} s  {annotation.duration_s:8.3f} s  "
            f"{annotation.description}{where}"
        )
    if len(header.annotations) > SHOWN_ANNOTATIONS:
        lines.append(f"  ... and {len(header.annotations) - SHOWN_ANNOTATIONS} more")
    lost = sum(gap.length for gap in header.gaps)
    lines.append(f"gaps:        {len(header.gaps)} ({lost} samples lost)")
    for note in header.notes:
        lines.append(f"note:        {note}")
    return "\n".join(lines)
