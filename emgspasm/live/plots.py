"""The plots of the live view: per channel a trace pane and an envelope pane.

- the **trace pane** shows the filtered EMG (linear scale, automatic or fixed), fasciculations
  as triangles at their peak and markers as labelled vertical lines;
- the **envelope pane** below it shows the envelope on a logarithmic scale, with the resting
  level (dashed) and the detection threshold (``on_ratio`` x rest, red): a cramp is tens of
  times the resting level while rest is a few µV, so only a log scale shows both and the
  threshold between them. Both panes are in the recording's unit (see :mod:`.tap`).

Spasms are shaded across both panes: hatched amber while provisional (confirmed, still going
on), solid red once final. Every x axis is the stream time in seconds, linked across channels.

The items here only take data; deciding what to show is the window's business. What changes at
every frame (the curves, the fasciculation marks, the bands) is drawn by small items of this
module rather than pyqtgraph's general ones: they take their data as it is, have the view's
range as bounding box (the view clips them) and paint with a handful of QPainter calls, so a
frame costs little more than the pixels it draws. The level axes, which change only with the
scale, are cached as pixmaps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions as fn
from pyqtgraph.Qt import QtCore, QtGui, QtWidgets

BACKGROUND = "#11161c"
TRACE = "#8ecae6"
ENVELOPE = "#ffb703"
REST = "#9aa5b1"
THRESHOLD = "#ef476f"
FINAL = (239, 71, 111, 70)
PROVISIONAL = (255, 183, 3, 120)
FASCICULATION = "#c77dff"
MARKER = "#80ed99"
TEXT = "#d8dee9"

Span = tuple[float, float]


def unit_label(unit: str | None) -> str:
    """How a recording's unit is written on an axis (``uV`` -> ``µV``)."""
    if not unit:
        return ""
    return {"uv": "µV", "mv": "mV", "v": "V"}.get(unit.lower(), unit)


def clock(t: float, spacing: float = 1.0) -> str:
    """Stream time as ``s``, ``m:ss`` or ``h:mm:ss`` (with tenths when ticks are closer than
    a second)."""
    sign = "-" if t < 0 else ""
    t = abs(t)
    decimals = 0 if spacing >= 1 else 1
    if t < 60:
        return f"{sign}{t:.{decimals}f}"
    m, s = divmod(t, 60.0)
    h, m = divmod(int(m), 60)
    sec = f"{s:0{3 + decimals if decimals else 2}.{decimals}f}"
    return f"{sign}{h}:{m:02d}:{sec}" if h else f"{sign}{m}:{sec}"


class StreamTimeAxis(pg.AxisItem):
    """Bottom axis in stream time: seconds, then m:ss and h:mm:ss as the stream grows.

    The plots' x coordinates are seconds relative to the newest sample (``now``), so that the
    views never change range while the picture scrolls (a range change of linked views is the
    dearest thing pyqtgraph does per frame); this axis places and labels its ticks in absolute
    stream time, so they scroll with the signal.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.now = 0.0

    def set_now(self, now: float) -> None:
        if now != self.now:
            self.now = now
            self.picture = None
            self.update()

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph API
        levels = super().tickValues(minVal + self.now, maxVal + self.now, size)
        return [(spacing, [v - self.now for v in values]) for spacing, values in levels]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - Qt naming
        return [clock((v + self.now) * scale, spacing * scale) for v in values]


class LevelAxis(pg.AxisItem):
    """Left axis of an envelope pane: a log scale labelled in plain numbers (1, 10, 100)."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - Qt naming
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [f"{10.0**v:g}" for v in values]


class ViewSizedItem(pg.GraphicsObject):
    """An item whose bounding box is the view's range: whatever it draws, the view clips.

    Working out a tight bounding box (what pyqtgraph's items do several times per paint) costs
    more than it saves for items that span the window anyway; this one is read once per range
    change.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rect = QtCore.QRectF()

    def _view_rect(self) -> QtCore.QRectF:
        vb = self.getViewBox()
        if not isinstance(vb, pg.ViewBox):  # not (yet) in a view
            return QtCore.QRectF()
        (x0, x1), (y0, y1) = vb.viewRange()
        return QtCore.QRectF(x0, y0, x1 - x0, y1 - y0)

    def _refresh(self) -> None:
        rect = self._view_rect()
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def viewRangeChanged(self) -> None:  # noqa: N802 - Qt naming
        self._refresh()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt naming
        return self._rect


class Polyline(ViewSizedItem):
    """A curve through ``(x, y)`` points in view coordinates, with one aliased cosmetic pen.

    A NaN in ``y`` breaks the curve (as ``connect="finite"`` of pyqtgraph): every run of at
    least two finite points is one ``drawPolyline``. The runs are QPolygonF buffers kept from
    frame to frame and refilled in place (no Qt object is made per frame).
    """

    def __init__(self, pen: QtGui.QPen) -> None:
        super().__init__()
        self._pen = pen
        self._pool: list[QtGui.QPolygonF] = []
        self._runs = 0
        self._x = np.zeros(0)
        self._y = np.zeros(0)

    def _fill(self, i: int, x: np.ndarray, y: np.ndarray) -> None:
        if i == len(self._pool):
            self._pool.append(QtGui.QPolygonF())
        poly = self._pool[i]
        poly.resize(len(y))
        pts = fn.ndarray_from_qpolygonf(poly)
        pts[:, 0] = x
        pts[:, 1] = y

    def set_data(self, x: np.ndarray, y: np.ndarray) -> None:
        """Points ``(x[i], y[i])``; x must be finite, a NaN in y breaks the curve there."""
        self._x, self._y = x, y
        finite = np.isfinite(y)
        if finite.all():
            runs = [(0, len(y))] if len(y) >= 2 else []
        else:
            edges = np.flatnonzero(np.diff(finite.astype(np.int8), prepend=0, append=0))
            runs = [(a, b) for a, b in zip(edges[0::2], edges[1::2], strict=True) if b - a >= 2]
        for i, (a, b) in enumerate(runs):
            self._fill(i, x[a:b], y[a:b])
        self._runs = len(runs)
        if self._rect.isNull():
            self._refresh()
        else:
            self.update()

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``x`` and ``y`` last given to :meth:`set_data`."""
        return self._x, self._y

    def runs(self) -> list[np.ndarray]:
        """The polylines drawn, as ``(n, 2)`` arrays of points (copies)."""
        return [fn.ndarray_from_qpolygonf(self._pool[i]).copy() for i in range(self._runs)]

    def paint(self, p: QtGui.QPainter, *args) -> None:
        if not self._runs:
            return
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        p.setPen(self._pen)
        for i in range(self._runs):
            p.drawPolyline(self._pool[i])


class MarkItem(ViewSizedItem):
    """Downward triangles ``size`` pixels wide at points of the view (one brush, no outline),
    as pyqtgraph's ``"t"`` scatter symbol draws them."""

    def __init__(self, brush: QtGui.QBrush, size: float = 9.0) -> None:
        super().__init__()
        self._brush = brush
        self._half = 0.5 * size
        self._points: list[tuple[float, float]] = []

    def set_points(self, x: Sequence[float], y: Sequence[float]) -> None:
        points = [(float(a), float(b)) for a, b in zip(x, y, strict=True)]
        if points == self._points:
            return
        self._points = points
        if self._rect.isNull():
            self._refresh()
        else:
            self.update()

    @property
    def points(self) -> list[tuple[float, float]]:
        return list(self._points)

    def paint(self, p: QtGui.QPainter, *args) -> None:
        if not self._points:
            return
        transform = p.transform()
        h = self._half
        p.resetTransform()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)  # as the scatter symbols
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(self._brush)
        for x, y in self._points:
            c = transform.map(QtCore.QPointF(x, y))
            cx, cy = c.x(), c.y()
            p.drawPolygon(
                QtGui.QPolygonF(
                    [
                        QtCore.QPointF(cx - h, cy - h),
                        QtCore.QPointF(cx + h, cy - h),
                        QtCore.QPointF(cx, cy + h),
                    ]
                )
            )
        p.setTransform(transform)


class SpanItem(ViewSizedItem):
    """Vertical bands over the whole height of a view, at x spans; one brush and one pen.

    Cheaper than a region item per episode: one item draws every band in a pane. Each band
    has an edge line at its start, and at its end too when ``closed`` (an open spasm's band
    runs to the newest sample and has no end yet). Its bounding box spans the bands only.
    """

    def __init__(self, brush: QtGui.QBrush, pen: QtGui.QPen, closed: bool = True) -> None:
        super().__init__()
        self._closed = closed
        self._spans: list[Span] = []
        self._brush = brush
        self._pen = pen

    def set_spans(self, spans: Sequence[Span]) -> None:
        spans = [(float(a), float(b)) for a, b in spans if b > a]
        if spans == self._spans:
            return
        self._spans = spans
        self._refresh()

    def _view_rect(self) -> QtCore.QRectF:
        view = super()._view_rect()
        if not self._spans or view.isNull():
            return QtCore.QRectF()
        x0 = min(a for a, _ in self._spans)
        x1 = max(b for _, b in self._spans)
        return QtCore.QRectF(x0, view.top(), x1 - x0, view.height())

    def paint(self, p: QtGui.QPainter, *args) -> None:
        if not self._spans or self._rect.isNull():
            return
        y0, h = self._rect.top(), self._rect.height()
        p.setBrush(self._brush)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        for a, b in self._spans:
            p.drawRect(QtCore.QRectF(a, y0, b - a, h))
        p.setPen(self._pen)
        for a, b in self._spans:
            p.drawLine(QtCore.QPointF(a, y0), QtCore.QPointF(a, y0 + h))
            if self._closed:
                p.drawLine(QtCore.QPointF(b, y0), QtCore.QPointF(b, y0 + h))


def _hatched(rgba: tuple[int, int, int, int]) -> QtGui.QBrush:
    brush = QtGui.QBrush(QtGui.QColor(*rgba), QtCore.Qt.BrushStyle.BDiagPattern)
    brush.setTransform(QtGui.QTransform())
    return brush


def _cache(item: QtWidgets.QGraphicsItem) -> None:
    """Keep ``item`` painted in a pixmap: something that changes rarely but lies in (or beside)
    a pane repainted at every frame is then copied, not drawn again (text above all)."""
    item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


def _cosmetic(color, width: float = 1.0, style=QtCore.Qt.PenStyle.SolidLine) -> QtGui.QPen:
    pen = pg.mkPen(color, width=width, style=style)
    pen.setCosmetic(True)
    return pen


class ChannelStrip:
    """The two panes of one channel and everything drawn in them."""

    def __init__(
        self,
        layout: pg.GraphicsLayout,
        row: int,
        name: str,
        unit: str | None,
        on_ratio: float,
    ) -> None:
        self.name = name
        self.row = row
        u = unit_label(unit)
        self.trace_plot: pg.PlotItem = layout.addPlot(
            row=row, col=0, axisItems={"bottom": StreamTimeAxis("bottom")}
        )
        self.env_plot: pg.PlotItem = layout.addPlot(
            row=row + 1,
            col=0,
            axisItems={"bottom": StreamTimeAxis("bottom"), "left": LevelAxis("left")},
        )
        for plot in (self.trace_plot, self.env_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=False, y=False)
            plot.getViewBox().disableAutoRange()
            for side in ("left", "bottom"):
                # A prefix recomputed at every range change re-renders the label each frame.
                plot.getAxis(side).enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(62)
            plot.getAxis("left").setTextPen(TEXT)
            plot.getAxis("bottom").setTextPen(TEXT)
            plot.showGrid(x=True, y=False, alpha=0.15)
            plot.hideAxis("bottom")
        self.trace_plot.setLabel("left", name, units=None)
        self.trace_plot.getAxis("left").setLabel(f"{name} ({u})" if u else name, color=TEXT)
        self.env_plot.getAxis("left").setLabel(f"env. ({u})" if u else "envelope", color=TEXT)
        self.env_plot.getAxis("left").setLogMode(False, True)
        self.env_plot.setXLink(self.trace_plot)

        final_brush = QtGui.QBrush(QtGui.QColor(*FINAL))
        final_pen = _cosmetic(FINAL[:3], 1.5)
        prov_brush = _hatched(PROVISIONAL)
        prov_pen = _cosmetic(PROVISIONAL[:3], 1.5, QtCore.Qt.PenStyle.DashLine)
        self.final_spans = [SpanItem(final_brush, final_pen) for _ in range(2)]
        self.provisional_spans = [SpanItem(prov_brush, prov_pen, False) for _ in range(2)]
        for plot, final, prov in zip(
            (self.trace_plot, self.env_plot), self.final_spans, self.provisional_spans, strict=True
        ):
            final.setZValue(-10)
            prov.setZValue(-9)
            plot.addItem(final, ignoreBounds=True)
            plot.addItem(prov, ignoreBounds=True)

        self.trace = Polyline(_cosmetic(TRACE, 1.0))
        self.trace_plot.addItem(self.trace, ignoreBounds=True)
        # A one-pixel pen: a wider aliased pen goes through Qt's stroker, several times slower.
        self.envelope = Polyline(_cosmetic(ENVELOPE, 1.0))
        self.env_plot.addItem(self.envelope, ignoreBounds=True)
        self.rest_line = pg.InfiniteLine(
            angle=0, pen=_cosmetic(REST, 1.0, QtCore.Qt.PenStyle.DashLine), movable=False
        )
        self.threshold_line = pg.InfiniteLine(
            angle=0,
            pen=_cosmetic(THRESHOLD, 1.5),
            movable=False,
            label=f"threshold {on_ratio:g}x rest",
            labelOpts={
                "position": 0.01,
                "color": THRESHOLD,
                "anchors": [(0, 1), (0, 1)],
                "fill": (17, 22, 28, 200),  # readable over the envelope
            },
        )
        self.rest_line.setVisible(False)
        self.threshold_line.setVisible(False)
        self.env_plot.addItem(self.rest_line, ignoreBounds=True)
        self.env_plot.addItem(self.threshold_line, ignoreBounds=True)

        self.fasciculations = MarkItem(pg.mkBrush(FASCICULATION), size=9)
        self.trace_plot.addItem(self.fasciculations, ignoreBounds=True)
        for plot in (self.trace_plot, self.env_plot):
            axis = plot.getAxis("left")
            _cache(axis)
            _cache(axis.label)
        self._markers: list[tuple[pg.InfiniteLine, pg.InfiniteLine]] = []
        self._marker_state: list[tuple[float, str]] = []
        self._trace_range: tuple[float, float] | None = None
        self._env_range: tuple[float, float] | None = None
        self.levels: tuple[float, float] | None = None

    # -- data ---------------------------------------------------------------------------------

    def set_trace(self, x: np.ndarray, y: np.ndarray) -> None:
        self.trace.set_data(x, y)

    def set_log_envelope(self, x: np.ndarray, logy: np.ndarray) -> None:
        """The envelope as log10 of its value in the recording's unit (the pane's log scale)."""
        self.envelope.set_data(x, logy)

    def set_levels(self, rest: float, threshold: float) -> None:
        ok = math.isfinite(rest) and rest > 0 and math.isfinite(threshold) and threshold > 0
        self.rest_line.setVisible(ok)
        self.threshold_line.setVisible(ok)
        if ok and (self.levels is None or abs(rest / self.levels[0] - 1.0) > 0.005):
            # Moving a line re-renders its label: only when the level has visibly changed.
            self.levels = (rest, threshold)
            self.rest_line.setPos(math.log10(rest))
            self.threshold_line.setPos(math.log10(threshold))

    def set_spans(self, final: Sequence[Span], provisional: Sequence[Span]) -> None:
        for item in self.final_spans:
            item.set_spans(final)
        for item in self.provisional_spans:
            item.set_spans(provisional)

    def set_fasciculations(self, x: Sequence[float], y: Sequence[float]) -> None:
        self.fasciculations.set_points(x, y)

    def set_markers(self, markers: Sequence[tuple[float, str]], labelled: bool) -> None:
        """Vertical lines at marker times (labelled in the top channel only)."""
        while len(self._markers) < len(markers):
            pen = _cosmetic(MARKER, 1.2, QtCore.Qt.PenStyle.DashLine)
            opts = {"position": 0.9, "color": MARKER, "anchors": [(0, 0), (0, 0)]}
            top = pg.InfiniteLine(angle=90, pen=pen, movable=False, label="", labelOpts=opts)
            bottom = pg.InfiniteLine(angle=90, pen=pen, movable=False)
            self.trace_plot.addItem(top, ignoreBounds=True)
            self.env_plot.addItem(bottom, ignoreBounds=True)
            self._markers.append((top, bottom))
        wanted = [(x, text if labelled else "") for x, text in markers]
        if wanted == self._marker_state:
            return
        self._marker_state = wanted
        for i, (top, bottom) in enumerate(self._markers):
            if i < len(wanted):
                x, text = wanted[i]
                top.label.format = text  # the label re-renders from its format on moving
                top.setPos(x)
                bottom.setPos(x)
                top.setVisible(True)
                bottom.setVisible(True)
            else:
                top.setVisible(False)
                bottom.setVisible(False)

    # -- ranges -------------------------------------------------------------------------------

    def set_trace_range(self, lo: float, hi: float) -> None:
        if self._trace_range != (lo, hi):
            self._trace_range = (lo, hi)
            self.trace_plot.getViewBox().setYRange(lo, hi, padding=0.04)

    def set_env_range(self, lo: float, hi: float) -> None:
        """Envelope pane range in the recording's unit (log scale)."""
        rng = (math.log10(lo), math.log10(hi))
        if self._env_range != rng:
            self._env_range = rng
            self.env_plot.getViewBox().setYRange(*rng, padding=0.04)

    @property
    def trace_range(self) -> tuple[float, float] | None:
        return self._trace_range

    @property
    def env_range(self) -> tuple[float, float] | None:
        """Current envelope range in the recording's unit."""
        if self._env_range is None:
            return None
        return 10 ** self._env_range[0], 10 ** self._env_range[1]

    def set_visible(self, visible: bool) -> None:
        self.trace_plot.setVisible(visible)
        self.env_plot.setVisible(visible)

    @property
    def visible(self) -> bool:
        return self.trace_plot.isVisible()

    def columns(self) -> int:
        """Pixel columns of the trace pane (what the decimation aims at)."""
        return max(50, int(self.trace_plot.getViewBox().width()))


class PlotArea(pg.GraphicsLayoutWidget):
    """All channel strips in one scene, x linked, the time axis under the lowest one shown."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground(BACKGROUND)
        self.ci.setSpacing(2)
        self.ci.setContentsMargins(4, 4, 8, 4)
        self.strips: list[ChannelStrip] = []
        self.paints = 0
        """Times the plots have been painted."""
        self.frames = 0
        """Paints that showed a new redraw (what the frame rate counts)."""
        self.paint_seconds = 0.0
        """Wall-clock time spent painting the plots."""
        self._fresh = False
        self._window_s: float | None = None

    def build(self, channels: Sequence[str], unit: str | None, on_ratio: float) -> None:
        """Make one strip per channel (once, when the stream's channels are known)."""
        self.ci.clear()
        self.strips = []
        self._window_s = None
        for i, name in enumerate(channels):
            strip = ChannelStrip(self.ci, 2 * i, name, unit, on_ratio)
            self.ci.layout.setRowStretchFactor(2 * i, 3)
            self.ci.layout.setRowStretchFactor(2 * i + 1, 2)
            if self.strips:
                strip.trace_plot.setXLink(self.strips[0].trace_plot)
            self.strips.append(strip)
        self.update_axes()

    def update_axes(self) -> None:
        """Show the time axis under the lowest visible channel only."""
        shown = [s for s in self.strips if s.visible]
        for s in self.strips:
            s.env_plot.hideAxis("bottom")
        if shown:
            shown[-1].env_plot.showAxis("bottom")
            shown[-1].env_plot.getAxis("bottom").setLabel("stream time", units=None, color=TEXT)

    def set_time(self, now: float, window_s: float) -> None:
        """Show the ``window_s`` seconds up to stream time ``now`` (x is relative to ``now``)."""
        if not self.strips:
            return
        if window_s != self._window_s:
            self._window_s = window_s
            self.strips[0].trace_plot.getViewBox().setXRange(-window_s, 0.0, padding=0)
        for strip in self.strips:
            axis = strip.env_plot.getAxis("bottom")
            if axis.isVisible():
                axis.set_now(now)

    def settle(self) -> None:
        """Bring the views' transforms up to date now, not at the next paint.

        pyqtgraph defers moving a view's contents after a range change to the start of the
        paint; doing so inside the paint asks for a second paint of the changed items. Settling
        right after the curves are set keeps it to one paint per redraw.
        """
        self.scene().prepareForPaint()
        self._fresh = True

    def paintEvent(self, ev) -> None:  # noqa: N802 - Qt naming
        t0 = time.perf_counter()
        self.paints += 1
        if self._fresh:
            self.frames += 1
            self._fresh = False
        super().paintEvent(ev)
        self.paint_seconds += time.perf_counter() - t0
