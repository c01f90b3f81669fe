"""The live view's main window: plots, episode table, counts, controls and status bar.

The window owns no acquisition: a :class:`~.worker.LiveWorker` does that in its own thread.
A timer (about 30 times a second) takes everything the worker has queued, files it (rings of
the last minute of display signals, episodes, the spasms still open, quality) and redraws the
plots from it, decimated to two points per pixel column (only the columns that gained samples
are computed; see :class:`~.buffers.ColumnCache`). The status bar and the rates follow at
:data:`TEXT_HZ`. Pausing stops the redrawing only: the worker keeps acquiring and detecting,
and the table, the counts and the status bar keep filling, so resuming jumps back to live.

Markers ("stretching", "voluntary", free text; buttons and hot keys S, V, N) are
:class:`~emgspasm.frames.Annotation` objects at the stream time of the newest sample; they go
to the worker's sinks (the episode log), into the table and the plots, and out through
:attr:`LiveWindow.marker_added` for anything else that records the session.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

from ..errors import RecordingError
from ..frames import Annotation, Episode
from ..private_files import write_private_bytes
from .buffers import ColumnCache, SampleRing, column_size, interleave
from .log import PRESET_MARKERS, marker
from .plots import (
    ENVELOPE,
    FASCICULATION,
    FINAL,
    MARKER,
    PROVISIONAL,
    REST,
    THRESHOLD,
    TRACE,
    PlotArea,
    unit_label,
)
from .qtfix import guard_none_refcount
from .status import StatusPanel, status_texts
from .table import EpisodeTableModel, rates_text
from .tap import ChannelQuality, DisplayBlock
from .worker import Finished, LiveWorker, Update

WINDOW_MIN_S = 5.0
WINDOW_MAX_S = 60.0
DEFAULT_WINDOW_S = 30.0
FPS = 30.0
TEXT_HZ = 4.0
"""Refresh rate of the status bar and the rates beside the table: text that changes at every
frame (a rate, a level) is unreadable, and setting a label's text re-lays out its panel."""
RING_S = WINDOW_MAX_S + 2.0
"""Seconds of display signal kept: the widest window and a little more."""


def _nice_up(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is at least ``value``."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    k = math.floor(math.log10(value))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10**k >= value * (1 - 1e-9):
            return m * 10**k
    return 10.0 ** (k + 1)  # pragma: no cover


def _legend() -> str:
    def swatch(color: str, text: str) -> str:
        return f'<span style="color:{color}">{text}</span>'

    final = "rgb({},{},{})".format(*FINAL[:3])
    prov = "rgb({},{},{})".format(*PROVISIONAL[:3])
    return "  ".join(
        [
            swatch(TRACE, "━ filtered EMG"),
            swatch(ENVELOPE, "━ envelope"),
            swatch(REST, "┅ resting level"),
            swatch(THRESHOLD, "━ threshold"),
            swatch(prov, "▨ spasm (open)"),
            swatch(final, "█ spasm (final)"),
            swatch(FASCICULATION, "▼ fasciculation"),
            swatch(MARKER, "┆ marker"),
        ]
    )


class LiveWindow(QtWidgets.QMainWindow):
    """The live view of one worker's stream (see the module doc)."""

    marker_added = QtCore.Signal(object)
    """Emitted with each new marker (an Annotation)."""

    def __init__(
        self,
        worker: LiveWorker,
        window_s: float = DEFAULT_WINDOW_S,
        fps: float = FPS,
        title: str = "emgspasm live",
    ) -> None:
        guard_none_refcount()
        super().__init__()
        self.worker = worker
        self.config = worker.config
        self.window_s = float(min(max(window_s, WINDOW_MIN_S), WINDOW_MAX_S))
        self.setWindowTitle(title)
        # What the stream has brought so far.
        self.fs: float | None = None
        self.channels: tuple[str, ...] = ()
        self.unit = ""
        self.first_sample: int | None = None
        self.head: int | None = None
        self.samples_received = 0
        self.trace_ring: SampleRing | None = None
        self.env_ring: SampleRing | None = None
        self.trace_columns: ColumnCache | None = None
        self.env_columns: ColumnCache | None = None
        self.rest = np.zeros(0)
        self.threshold = np.zeros(0)
        self.quality: tuple[ChannelQuality, ...] = ()
        self.spasms: dict[str, list[Episode]] = {}
        self.fasciculations: dict[str, list[Episode]] = {}
        self.ongoing: tuple[Episode, ...] = ()
        self.markers: list[Annotation] = []
        self.n_spasms = 0
        self.n_fasciculations = 0
        self.last_data: float | None = None
        self.finished = False
        self.error: str | None = None
        self.paused = False
        self.scale_fixed: float | None = None
        self.redraws = 0
        self.redraw_seconds = 0.0
        self._texts_shown = -math.inf
        self._finished_shown = False

        self._build_controls()
        self._build_body()
        self.status_panel = StatusPanel(self.statusBar())
        self._build_shortcuts()
        self.plots.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._focus_plots()
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.setInterval(max(1, int(round(1000.0 / fps))))
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # -- widgets --------------------------------------------------------------------------------

    def _build_controls(self) -> None:
        bar = QtWidgets.QToolBar("controls", self)
        bar.setMovable(False)
        self.addToolBar(bar)

        bar.addWidget(QtWidgets.QLabel(" window "))
        self.window_spin = QtWidgets.QSpinBox()
        self.window_spin.setRange(int(WINDOW_MIN_S), int(WINDOW_MAX_S))
        self.window_spin.setSuffix(" s")
        self.window_spin.setValue(int(round(self.window_s)))
        self.window_spin.valueChanged.connect(self.set_window)
        self.window_spin.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.window_spin.editingFinished.connect(self._focus_plots)
        bar.addWidget(self.window_spin)

        bar.addWidget(QtWidgets.QLabel("  scale "))
        self.scale_combo = QtWidgets.QComboBox()
        self.scale_combo.addItems(["auto", "fixed ±"])
        self.scale_combo.currentIndexChanged.connect(self._scale_changed)
        self.scale_combo.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        bar.addWidget(self.scale_combo)
        self.scale_spin = QtWidgets.QDoubleSpinBox()
        self.scale_spin.setRange(0.1, 1e6)
        self.scale_spin.setDecimals(1)
        self.scale_spin.setValue(200.0)
        self.scale_spin.setEnabled(False)
        self.scale_spin.valueChanged.connect(self._scale_changed)
        self.scale_spin.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.scale_spin.editingFinished.connect(self._focus_plots)
        bar.addWidget(self.scale_spin)

        self.channels_button = QtWidgets.QToolButton()
        self.channels_button.setText("  channels ")
        self.channels_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.channels_menu = QtWidgets.QMenu(self.channels_button)
        self.channels_button.setMenu(self.channels_menu)
        self.channel_actions: list[QtGui.QAction] = []
        bar.addWidget(self.channels_button)

        bar.addSeparator()
        self.pause_button = QtWidgets.QPushButton("Pause display (P)")
        self.pause_button.setCheckable(True)
        self.pause_button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.pause_button.toggled.connect(self.set_paused)
        bar.addWidget(self.pause_button)

        bar.addSeparator()
        bar.addWidget(QtWidgets.QLabel(" marker "))
        self.marker_buttons: dict[str, QtWidgets.QPushButton] = {}
        for text in PRESET_MARKERS:
            key = text[0].upper()
            button = QtWidgets.QPushButton(f"{text.capitalize()} ({key})")
            button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _=False, t=text: self.add_marker(t))
            bar.addWidget(button)
            self.marker_buttons[text] = button
        self.note_edit = QtWidgets.QLineEdit()
        self.note_edit.setPlaceholderText("note (N), Enter to mark")
        self.note_edit.setMaximumWidth(220)
        self.note_edit.returnPressed.connect(self._note_entered)
        bar.addWidget(self.note_edit)

    def _build_body(self) -> None:
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal, self)
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(0)
        self.legend = QtWidgets.QLabel(_legend())
        self.legend.setStyleSheet("background: #11161c; padding: 3px 8px;")
        left_layout.addWidget(self.legend)
        self.plots = PlotArea()
        left_layout.addWidget(self.plots, 1)
        splitter.addWidget(left)

        right = QtWidgets.QWidget()
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.setContentsMargins(4, 4, 4, 4)
        self.counts = QtWidgets.QLabel(rates_text(0, 0, 0.0))
        self.counts.setWordWrap(True)
        right_layout.addWidget(self.counts)
        self.model = EpisodeTableModel(self)
        self.table = QtWidgets.QTableView()
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        for col, width in enumerate((58, 58, 100, 62, 60, 48)):
            self.table.setColumnWidth(col, width)
        right_layout.addWidget(self.table, 1)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([980, 480])
        self.setCentralWidget(splitter)

    def _build_shortcuts(self) -> None:
        def shortcut(key: str, slot) -> None:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)

        for text in PRESET_MARKERS:
            shortcut(text[0].upper(), lambda t=text: self.add_marker(t))
        shortcut("N", self.note_edit.setFocus)
        shortcut("P", self.pause_button.toggle)
        shortcut("Space", self.pause_button.toggle)

    def _build_channels(self) -> None:
        self.plots.build(self.channels, self.unit, self.config.on_ratio)
        self.channels_menu.clear()
        self.channel_actions = []
        for i, name in enumerate(self.channels):
            action = self.channels_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(lambda on, i=i: self.set_channel_visible(i, on))
            self.channel_actions.append(action)
        self.model.unit = unit_label(self.unit)

    # -- controls -------------------------------------------------------------------------------

    def set_window(self, seconds: float) -> None:
        """Show the last ``seconds`` (5-60) of the stream."""
        self.window_s = float(min(max(seconds, WINDOW_MIN_S), WINDOW_MAX_S))
        if self.window_spin.value() != int(round(self.window_s)):
            self.window_spin.setValue(int(round(self.window_s)))
        self.redraw()

    def set_scale(self, fixed: float | None) -> None:
        """Automatic trace scale (None) or a fixed ±``fixed`` in the recording's unit."""
        self.scale_fixed = fixed
        self.scale_combo.blockSignals(True)
        self.scale_combo.setCurrentIndex(0 if fixed is None else 1)
        self.scale_combo.blockSignals(False)
        self.scale_spin.setEnabled(fixed is not None)
        if fixed is not None and self.scale_spin.value() != fixed:
            self.scale_spin.blockSignals(True)
            self.scale_spin.setValue(fixed)
            self.scale_spin.blockSignals(False)
        self.redraw()

    def _scale_changed(self, *_: object) -> None:
        fixed = self.scale_combo.currentIndex() == 1
        self.set_scale(self.scale_spin.value() if fixed else None)

    def set_channel_visible(self, index: int, visible: bool) -> None:
        """Show or hide one channel (the last one shown cannot be hidden)."""
        strips = self.plots.strips
        others = sum(s.visible for i, s in enumerate(strips) if i != index)
        if not visible and others == 0:
            visible = True
        changed = strips[index].visible != visible
        strips[index].set_visible(visible)
        action = self.channel_actions[index] if index < len(self.channel_actions) else None
        if action is not None and action.isChecked() != visible:
            action.setChecked(visible)  # re-enters here with nothing left to change
        if changed:
            self.plots.update_axes()
            self.redraw()

    def set_paused(self, paused: bool) -> None:
        """Freeze or resume the plots (acquisition and detection never pause)."""
        self.paused = bool(paused)
        if self.pause_button.isChecked() != self.paused:
            self.pause_button.setChecked(self.paused)
        self.pause_button.setText("Resume display (P)" if self.paused else "Pause display (P)")
        self.status_panel.set_paused(self.paused)
        if not self.paused:
            self.redraw()

    def now_s(self) -> float:
        """Stream time of the newest sample received (0 before any)."""
        if self.head is None or not self.fs:
            return 0.0
        return self.head / self.fs

    def add_marker(self, text: str, channel: str | None = None) -> Annotation | None:
        """Mark the stream now with ``text``; returns the marker (None for empty text)."""
        try:
            ann = marker(self.now_s(), text, channel)
        except ValueError:
            return None
        self.worker.annotate(ann)
        self.markers.append(ann)
        self.model.add_annotation(ann)
        self._follow_table()
        self.marker_added.emit(ann)
        if not self.paused:
            self.redraw()
        return ann

    def _note_entered(self) -> None:
        if self.add_marker(self.note_edit.text()) is not None:
            self.note_edit.clear()
        self._focus_plots()

    def _focus_plots(self) -> None:
        """Give the keyboard back to the plots, where the hot keys work."""
        self.plots.setFocus()

    # -- taking data ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Take what the worker queued, redraw (unless paused); the status bar and the counts
        follow at :data:`TEXT_HZ` (and at once when the stream ends)."""
        messages = self.worker.drain()
        if messages:
            self.ingest(messages)
        if not self.paused:
            self.redraw()
        now = time.monotonic()
        if now - self._texts_shown >= 1.0 / TEXT_HZ or self.finished != self._finished_shown:
            self._texts_shown = now
            self._finished_shown = self.finished
            self._show_counts()
            self._show_status()

    def ingest(self, messages: Sequence[Update | Finished]) -> None:
        """File the worker's messages: display signals, episodes, open spasms, the end.

        The table takes new rows at once; the counts beside it change at once when a number
        changes (the rates are refreshed with the status bar, see :meth:`tick`).
        """
        follow = self._table_at_bottom()
        rows = self.model.rowCount()
        counted = (self.n_spasms + len(self.ongoing), self.n_fasciculations)
        for msg in messages:
            if isinstance(msg, Finished):
                self.finished = True
                self.error = msg.error
                continue
            for block in msg.blocks:
                self._take_block(block, msg.channels)
            for ep in msg.episodes:
                self._take_episode(ep)
            self.ongoing = msg.ongoing
            if msg.ongoing:
                self.model.set_ongoing(msg.ongoing)
            if msg.blocks:
                self.last_data = msg.arrived
        if follow and self.model.rowCount() != rows:
            self._follow_table()
        if (self.n_spasms + len(self.ongoing), self.n_fasciculations) != counted:
            self._show_counts()

    def _show_counts(self) -> None:
        elapsed = 0.0
        if self.head is not None and self.first_sample is not None and self.fs:
            elapsed = (self.head - self.first_sample) / self.fs
        text = rates_text(self.n_spasms + len(self.ongoing), self.n_fasciculations, elapsed)
        if text != self.counts.text():
            self.counts.setText(text)

    def _take_block(self, block: DisplayBlock, channels: tuple[str, ...]) -> None:
        if self.trace_ring is None:
            self.fs = block.fs
            self.channels = channels
            self.unit = self.worker.status.units or ""
            capacity = int(math.ceil(RING_S * block.fs))
            self.trace_ring = SampleRing(capacity, len(self.channels))
            self.env_ring = SampleRing(capacity, len(self.channels))
            self.trace_columns = ColumnCache(self.trace_ring)
            self.env_columns = ColumnCache(self.env_ring)
            self.first_sample = block.start
            self._build_channels()
        assert self.env_ring is not None
        self.trace_ring.write(block.start, block.filtered)
        self.env_ring.write(block.start, block.envelope)
        self.head = block.stop
        self.samples_received += block.n
        self.rest = block.rest
        self.threshold = block.threshold
        self.quality = block.quality

    def _take_episode(self, ep: Episode) -> None:
        self.model.add_episode(ep)
        if ep.kind == "spasm":
            self.spasms.setdefault(ep.channel, []).append(ep)
            self.n_spasms += 1
        elif ep.kind == "fasciculation":
            self.fasciculations.setdefault(ep.channel, []).append(ep)
            self.n_fasciculations += 1

    def _table_at_bottom(self) -> bool:
        bar = self.table.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _follow_table(self) -> None:
        self.table.scrollToBottom()

    # -- drawing --------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Draw the current window from what has been filed.

        x coordinates are seconds relative to the right edge of the view, which is the newest
        sample once the stream fills the window (see :class:`~.plots.StreamTimeAxis`); the time
        axis labels them in stream time. The columns, curves and ranges of all channels are
        worked out together (one numpy operation each, not one per channel); then each shown
        strip takes its rows.
        """
        strips = self.plots.strips
        if not strips or self.head is None or self.trace_columns is None or not self.fs:
            return
        assert self.env_columns is not None
        t0 = time.perf_counter()
        fs = self.fs
        span = int(round(self.window_s * fs))
        # Until the stream fills the window, it grows from the left edge; then it scrolls.
        first = self.first_sample if self.first_sample is not None else self.head
        stop = max(self.head, first + span)
        start = stop - span
        now = stop / fs
        x0 = now - self.window_s
        self.plots.set_time(now, self.window_s)
        columns = strips[0].columns()
        size = column_size(stop - start, columns)
        cols, lo, hi = self.trace_columns.columns(start, stop, columns)
        _, _, env_hi = self.env_columns.columns(start, stop, columns)
        # Columns past the newest sample are empty (NaN) until the stream fills the window.
        k = min(len(cols), max(0, -(-(self.head - int(cols[0])) // size))) if len(cols) else 0
        cols, lo, hi, env_hi = cols[:k], lo[:k], hi[:k], env_hi[:k]
        centres = (cols - stop + 0.5 * size) / fs
        trace_x, trace_y = interleave(cols - stop, lo, hi, fs, size)
        nch = lo.shape[1]
        rest = self.rest if self.rest.size == nch else np.full(nch, np.nan)
        thr = self.threshold if self.threshold.size == nch else np.full(nch, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            floor = np.where(rest > 0, rest / 10, 1e-3)
            env_y = np.log10(np.maximum(env_hi, floor)).T.copy()
            peaks = np.fmax(np.fmax.reduce(np.abs(lo), axis=0), np.fmax.reduce(np.abs(hi), axis=0))
            tops = np.fmax.reduce(env_hi, axis=0)
        if k == 0:
            peaks = tops = np.full(nch, np.nan)
        shown = [i for i, s in enumerate(strips) if s.visible]
        marks = [(a.onset_s - now, a.description) for a in self.markers if a.onset_s >= x0]
        for n, i in enumerate(shown):
            strip = strips[i]
            name = self.channels[i]
            strip.set_trace(trace_x, trace_y[i])
            strip.set_log_envelope(centres, env_y[i])
            strip.set_levels(float(rest[i]), float(thr[i]))
            ymax = self._trace_range(strip, float(peaks[i]))
            self._env_range(strip, float(tops[i]), float(rest[i]), float(thr[i]))
            final, provisional = self._spans(name, x0, self.head / fs)
            strip.set_spans(
                [(a - now, b - now) for a, b in final], [(a - now, b - now) for a, b in provisional]
            )
            fx, fy = self._fasciculation_marks(name, x0, ymax)
            strip.set_fasciculations([x - now for x in fx], fy)
            strip.set_markers(marks, labelled=n == 0)
        self.plots.settle()
        self.redraws += 1
        self.redraw_seconds += time.perf_counter() - t0

    def _trace_range(self, strip, peak: float) -> float:
        """Set the trace pane's range for a largest absolute value ``peak``; returns its top."""
        if self.scale_fixed is not None:
            m = self.scale_fixed
        else:
            if not math.isfinite(peak) or peak <= 0:
                peak = 1.0
            current = strip.trace_range[1] if strip.trace_range else 0.0
            m = current
            if peak * 1.05 > current or peak < 0.3 * current:
                m = _nice_up(peak * 1.1)
        strip.set_trace_range(-m, m)
        return m

    def _env_range(self, strip, top: float, rest: float, thr: float) -> None:
        """Set the envelope pane's range for an envelope reaching ``top`` (NaN: none)."""
        if not (rest > 0 and thr > 0):
            return
        if not math.isfinite(top):
            top = thr
        top = max(top, thr * 2.0)
        lo = 10 ** math.floor(math.log10(rest / 3.0))
        hi = 10 ** math.ceil(math.log10(top * 1.2))
        current = strip.env_range
        if current is None or current[0] != lo or not (hi <= current[1] <= hi * 10):
            strip.set_env_range(lo, hi)

    def _spans(self, channel: str, x0: float, x1: float):
        """Spasm bands on ``channel`` that reach into ``[x0, x1]`` (stream seconds): final ones
        from onset to offset, open ones from onset to the newest sample. Bands keep their true
        start (the view clips them), so an edge is drawn only where a spasm really begins."""
        final = []
        for ep in reversed(self.spasms.get(channel, [])):
            if ep.offset_s < x0 - 120.0:
                break
            if ep.offset_s >= x0 and ep.onset_s <= x1:
                final.append((ep.onset_s, ep.offset_s))
        provisional = [
            (ep.onset_s, x1) for ep in self.ongoing if ep.channel == channel and ep.onset_s <= x1
        ]
        return final, provisional

    def _fasciculation_marks(self, channel: str, x0: float, ymax: float):
        xs: list[float] = []
        ys: list[float] = []
        for ep in reversed(self.fasciculations.get(channel, [])):
            if ep.onset_s < x0 - 10.0:
                break
            if ep.onset_s >= x0:
                xs.append(0.5 * (ep.onset_s + ep.offset_s))
                ys.append(min(ep.peak * 1.08, 0.93 * ymax))
        return xs, ys

    def _show_status(self) -> None:
        since = None if self.last_data is None else time.monotonic() - self.last_data
        status = self.worker.status
        self.status_panel.show(status_texts(status, since, self.quality, self.channels, self.fs))

    # -- output ---------------------------------------------------------------------------------

    def save_screenshot(self, path: str | Path) -> tuple[int, int]:
        """Draw now and save the window as an image (PNG by extension); returns its size."""
        self.tick()
        self.redraw()
        self._show_counts()
        self._show_status()
        QtWidgets.QApplication.processEvents()
        picture = self.grab()
        data = QtCore.QByteArray()
        buffer = QtCore.QBuffer(data)
        buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
        fmt = Path(path).suffix.lstrip(".").upper() or "PNG"
        if picture.isNull() or not picture.save(buffer, fmt):
            raise RecordingError(f"cannot draw screenshot {path}")
        try:
            write_private_bytes(path, bytes(data.data()))
        except OSError as exc:
            raise RecordingError(f"cannot write screenshot {path}: {exc.strerror}") from None
        return picture.width(), picture.height()

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt naming
        self.timer.stop()
        self.worker.stop()
        super().closeEvent(event)


def configure_pyqtgraph() -> None:
    """Drawing options for speed (no antialiasing, no OpenGL), and the guard against the
    PySide6 reference-count bug (:mod:`.qtfix`)."""
    pg.setConfigOptions(antialias=False, useOpenGL=False, foreground="#d8dee9")
    guard_none_refcount()
