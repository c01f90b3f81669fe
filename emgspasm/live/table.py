"""The episode table and the running counts beside the plots.

One row per episode as the detector reports it: a spasm appears as soon as it is confirmed
(provisional, its duration growing) and its row becomes final when it ends; fasciculations
appear when their isolation is known (a few seconds after they happened); markers appear as
they are made. Amplitudes are in the recording's unit; "x rest" is the episode's RMS over the
resting level (for a fasciculation its peak over the resting RMS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pyqtgraph.Qt import QtCore, QtGui

from ..frames import Annotation, Episode
from .log import MARKER
from .plots import clock

HEADERS = ("time", "channel", "kind", "dur. (s)", "peak", "x rest", "note")


@dataclass
class Row:
    """One row of the table."""

    time_s: float
    channel: str
    kind: str
    duration_s: float | None
    peak: float | None
    relative: float | None
    note: str = ""
    provisional: bool = False
    onset: int | None = None


def _episode_row(ep: Episode, provisional: bool = False) -> Row:
    rel = ep.relative_rms
    return Row(
        ep.onset_s,
        ep.channel,
        ep.kind,
        ep.duration_s,
        ep.peak,
        rel if math.isfinite(rel) else None,
        "ongoing" if provisional else "; ".join(ep.quality),
        provisional,
        ep.onset,
    )


class EpisodeTableModel(QtCore.QAbstractTableModel):
    """Rows of episodes and markers, appended as they come (see the module doc)."""

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []
        self._open: dict[str, int] = {}
        self.unit = ""

    # -- Qt model -------------------------------------------------------------------------------

    def rowCount(self, parent=QtCore.QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QtCore.QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != QtCore.Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == QtCore.Qt.Orientation.Horizontal:
            name = HEADERS[section]
            if name == "peak" and self.unit:
                return f"peak ({self.unit})"
            return name
        return str(section + 1)

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self.text(row, col)
        if role == QtCore.Qt.ItemDataRole.TextAlignmentRole and 3 <= col <= 5:
            return int(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
        if role == QtCore.Qt.ItemDataRole.ForegroundRole:
            if row.kind == MARKER:
                return QtGui.QBrush(QtGui.QColor("#2d6a4f"))
            if row.provisional:
                return QtGui.QBrush(QtGui.QColor("#b36b00"))
            if row.kind == "spasm":
                return QtGui.QBrush(QtGui.QColor("#c1121f"))
        if role == QtCore.Qt.ItemDataRole.FontRole and row.kind == "spasm":
            font = QtGui.QFont()
            font.setBold(True)
            font.setItalic(row.provisional)
            return font
        return None

    @staticmethod
    def text(row: Row, col: int) -> str:
        """The text shown in column ``col`` of ``row``."""
        if col == 0:
            return clock(row.time_s, 0.1) if row.time_s >= 60 else f"{row.time_s:.2f}"
        if col == 1:
            return row.channel or "all"
        if col == 2:
            return f"{row.kind} (open)" if row.provisional else row.kind
        if col == 3:
            if row.duration_s is None:
                return ""
            return f"{row.duration_s:.1f}" if row.duration_s >= 1 else f"{row.duration_s:.3f}"
        if col == 4:
            return "" if row.peak is None else f"{row.peak:.0f}"
        if col == 5:
            return "" if row.relative is None else f"{row.relative:.0f}"
        return row.note

    # -- filling --------------------------------------------------------------------------------

    def _append(self, row: Row) -> int:
        n = len(self.rows)
        self.beginInsertRows(QtCore.QModelIndex(), n, n)
        self.rows.append(row)
        self.endInsertRows()
        return n

    def _replace(self, i: int, row: Row) -> None:
        """Put ``row`` in place of row ``i``; the view repaints it only if what it shows
        changed (an open spasm is updated with every Frame, its texts ten times a second)."""
        old, self.rows[i] = self.rows[i], row
        if self._shown(old) != self._shown(row):
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(HEADERS) - 1))

    def _shown(self, row: Row) -> tuple:
        return (row.kind, row.provisional, *(self.text(row, c) for c in range(len(HEADERS))))

    def add_episode(self, ep: Episode) -> None:
        """A final episode: a new row, or the end of the spasm row already open."""
        row = _episode_row(ep)
        i = self._open.pop(ep.channel, None) if ep.kind == "spasm" else None
        if i is not None:
            self._replace(i, row)
        else:
            self._append(row)

    def set_ongoing(self, ongoing: list[Episode] | tuple[Episode, ...]) -> None:
        """The spasms still open: new ones get a row, known ones their duration updated."""
        for ep in ongoing:
            row = _episode_row(ep, provisional=True)
            i = self._open.get(ep.channel)
            if i is not None and self.rows[i].onset == ep.onset:
                self._replace(i, row)
            else:
                self._open[ep.channel] = self._append(row)

    def add_annotation(self, annotation: Annotation) -> None:
        """A marker row."""
        self._append(
            Row(
                annotation.onset_s,
                annotation.channel or "",
                MARKER,
                annotation.duration_s or None,
                None,
                None,
                annotation.description,
            )
        )

    def count(self, kind: str) -> int:
        """Rows of ``kind`` (open spasms included)."""
        return sum(r.kind == kind for r in self.rows)


def rates_text(spasms: int, fasciculations: int, elapsed_s: float) -> str:
    """The running counts: spasms per hour and fasciculations per minute of stream time."""
    if elapsed_s <= 0:
        return f"<b>spasms</b> {spasms}  ·  <b>fasciculations</b> {fasciculations}"
    per_h = spasms / (elapsed_s / 3600.0)
    per_min = fasciculations / (elapsed_s / 60.0)
    over = f"{elapsed_s:.0f} s" if elapsed_s < 60 else clock(elapsed_s)
    return (
        f"<b>spasms</b> {spasms} ({per_h:.1f}/h)  ·  "
        f"<b>fasciculations</b> {fasciculations} ({per_min:.1f}/min)  ·  over {over}"
    )
