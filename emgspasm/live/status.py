"""The status bar: source, connection state, rate, loss, battery and signal quality.

The connection state is the source's own (connecting / streaming / reconnecting / ended /
failed); on top of it the window watches the data itself: when no samples have arrived for
:data:`STALL_S` seconds while the source claims to stream, a red warning says for how long.
What does not apply to a source is said so (a file has no battery: ``n/a``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyqtgraph.Qt import QtWidgets

from .plots import unit_label
from .sources import CONNECTING, ENDED, FAILED, RECONNECTING, STREAMING, SourceStatus
from .tap import ChannelQuality

STALL_S = 3.0
"""Seconds without data after which the status bar warns."""

MAINS_WARN = 20.0
"""Mains RMS amplitude (recording's unit, µV for the sample files) shown as a warning: above
it the notches have real work to do and the electrodes deserve a look."""

_STATE_STYLE = {
    STREAMING: "color: #1b7f3b;",
    CONNECTING: "color: #1d4e89;",
    RECONNECTING: "color: #b36b00; font-weight: bold;",
    ENDED: "color: #555;",
    FAILED: "color: white; background: #c1121f; font-weight: bold; padding: 0 4px;",
}
_WARN = "color: white; background: #c1121f; font-weight: bold; padding: 0 4px;"
_OK = "color: #333;"


@dataclass(frozen=True)
class StatusTexts:
    """Texts and styles of the status bar's fields."""

    source: str
    state: str
    state_style: str
    rate: str
    loss: str
    battery: str
    quality: str
    quality_style: str


def status_texts(
    status: SourceStatus,
    since_data_s: float | None,
    quality: Sequence[ChannelQuality] = (),
    channels: Sequence[str] = (),
    fs: float | None = None,
) -> StatusTexts:
    """What the status bar says for this status, ``since_data_s`` seconds after the latest
    samples (None: none yet), with the latest quality per channel."""
    state = status.state
    text = state
    style = _STATE_STYLE.get(state, _OK)
    if state == FAILED and status.message:
        text = f"failed: {status.message}"
    elif state == RECONNECTING and status.message:
        text = f"reconnecting ({status.message})"
    if state in (STREAMING, RECONNECTING) and since_data_s is not None and since_data_s >= STALL_S:
        text = f"{text} - NO DATA for {since_data_s:.0f} s"
        style = _WARN
    rate = fs or status.fs
    loss = "loss n/a" if status.loss_percent is None else f"loss {status.loss_percent:.2f} %"
    battery = "battery n/a" if status.battery is None else f"battery {status.battery} %"
    if status.battery is not None and status.battery <= 15:
        battery += " (low)"
    unit = unit_label(status.units)
    parts: list[str] = []
    bad = False
    for name, q in zip(channels, quality, strict=False):
        notes = []
        if q.flat:
            notes.append("FLAT LINE")
        if q.clipped_percent >= 0.05:
            notes.append(f"clipping {q.clipped_percent:.1f} %")
        if q.mains_rms is not None:
            hum = f"mains {q.mains_rms:.1f} {unit}".rstrip()
            if q.mains_rms >= MAINS_WARN:
                hum = f"MAINS {q.mains_rms:.0f} {unit}".rstrip()
                notes.append(hum)
            else:
                notes.append(hum)
        bad = bad or q.flat or q.clipped_percent >= 0.05 or (q.mains_rms or 0) >= MAINS_WARN
        parts.append(f"{name}: {', '.join(notes) if notes else 'ok'}")
    flags = ", ".join(sorted(status.flags))
    if flags:
        parts.append(f"device: {flags}")
        bad = True
    return StatusTexts(
        source=status.source,
        state=text,
        state_style=style,
        rate=f"{rate:g} Hz" if rate else "- Hz",
        loss=loss,
        battery=battery,
        quality="  |  ".join(parts) if parts else "quality: waiting for signal",
        quality_style=_WARN if bad else _OK,
    )


class StatusPanel:
    """The fields of the window's status bar (see the module doc)."""

    def __init__(self, bar: QtWidgets.QStatusBar) -> None:
        self.bar = bar
        self.source = QtWidgets.QLabel()
        self.state = QtWidgets.QLabel()
        self.rate = QtWidgets.QLabel()
        self.loss = QtWidgets.QLabel()
        self.battery = QtWidgets.QLabel()
        self.quality = QtWidgets.QLabel()
        self.paused = QtWidgets.QLabel("DISPLAY PAUSED (acquisition and detection go on)")
        self.paused.setStyleSheet("color: black; background: #ffd166; padding: 0 4px;")
        self.paused.setVisible(False)
        for w in (self.source, self.state, self.rate, self.loss, self.battery):
            bar.addWidget(w)
        bar.addWidget(self.quality, 1)
        bar.addPermanentWidget(self.paused)
        self.texts: StatusTexts | None = None

    def show(self, texts: StatusTexts) -> None:
        if texts == self.texts:
            return
        self.texts = texts
        self.source.setText(texts.source)
        self.state.setText(texts.state)
        self.state.setStyleSheet(texts.state_style)
        self.rate.setText(texts.rate)
        self.loss.setText(texts.loss)
        self.battery.setText(texts.battery)
        self.quality.setText(texts.quality)
        self.quality.setStyleSheet(texts.quality_style)

    def set_paused(self, paused: bool) -> None:
        self.paused.setVisible(paused)
