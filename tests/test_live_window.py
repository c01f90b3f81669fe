"""The live window, rendered offscreen: the table fills as the stream plays, markers reach the
episode log, pausing freezes the picture but never the detection.

Most tests let the stream through in steps (:class:`~tests.gated_replay.GatedReplay`) and look
at the window once it has taken a step, so what it shows is the same on any machine; the
controls test plays a replay paced by the wall clock, as the live view does with a sensor."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("pytestqt")

from pyqtgraph.Qt import QtCore  # noqa: E402

from emgspasm.config import profile  # noqa: E402
from emgspasm.frames import Episode  # noqa: E402
from emgspasm.io import read_recording  # noqa: E402
from emgspasm.live.buffers import column_size  # noqa: E402
from emgspasm.live.log import MARKER, LiveEpisodeLog  # noqa: E402
from emgspasm.live.sources import ReplaySource  # noqa: E402
from emgspasm.live.table import EpisodeTableModel  # noqa: E402
from emgspasm.live.window import LiveWindow, configure_pyqtgraph  # noqa: E402
from emgspasm.live.worker import LiveWorker  # noqa: E402
from emgspasm.sinks.episode_log import read_episode_log  # noqa: E402
from emgspasm.sources.simulator import simulate  # noqa: E402

from .conftest import REPO  # noqa: E402
from .gated_replay import GatedReplay  # noqa: E402


@pytest.fixture
def live(qtbot, tmp_path):
    """Make a window on a worker replaying ``rec`` at ``speed`` with a log in tmp_path; without
    a speed the replay is a :class:`GatedReplay` (``window.worker.source``), let through by the
    test."""
    configure_pyqtgraph()

    def make(rec, speed: float | None = None, window_s: float = 10.0) -> LiveWindow:
        if speed is None:
            source: ReplaySource = GatedReplay(rec)
        else:
            source = ReplaySource("sample", speed, reader=rec)
        log = LiveEpisodeLog(tmp_path / "episodes.csv")
        worker = LiveWorker(source, profile("night"), [log], name="sample")
        window = LiveWindow(worker, window_s)
        qtbot.addWidget(window)
        window.resize(1100, 650)
        window.show()
        worker.start()
        return window

    return make


def _texts(model: EpisodeTableModel, row: int) -> list[str]:
    return [model.text(model.rows[row], c) for c in range(model.columnCount())]


def _step(window: LiveWindow, qtbot, seconds: float | None = None) -> None:
    """Let a gated replay through up to ``seconds`` of stream time (None: to its end) and wait
    until the window has taken all of it."""
    upto = window.worker.source.release(seconds)
    qtbot.waitUntil(lambda: window.samples_received == upto, timeout=20000)


def test_table_fills_live_with_an_open_spasm_that_becomes_final(live, qtbot):
    rec = read_recording(REPO / "recordings" / "night_10min_2k.bdf")
    rec.samples = rec.samples[: 90 * 2000]  # the first cramp: EMG1, 24.0 s to 82.4 s
    window = live(rec)
    model = window.model

    def open_row() -> int | None:
        for i, r in enumerate(model.rows):
            if r.kind == "spasm" and r.provisional:
                return i
        return None

    _step(window, qtbot, 40.0)  # into the cramp
    i = open_row()
    assert i is not None
    texts = _texts(model, i)
    assert texts[1:3] == ["EMG1", "spasm (open)"] and texts[0] == "24.00"
    assert model.count("fasciculation") >= 5  # the ones before the cramp are in already
    assert window.n_spasms + len(window.ongoing) == 1
    assert model.rows[i].duration_s == pytest.approx(40.0 - 24.0, abs=0.01)  # so far

    _step(window, qtbot, 60.0)  # the same row, still open, its duration grown
    assert open_row() == i and model.count("spasm") == 1
    assert model.rows[i].duration_s == pytest.approx(60.0 - 24.0, abs=0.01)

    window.worker.source.release()
    qtbot.waitUntil(lambda: window.finished, timeout=20000)
    window.tick()
    final = model.rows[i]
    assert final.kind == "spasm" and not final.provisional  # the same row, now final
    assert final.duration_s == pytest.approx(58.4, abs=0.3)
    texts = _texts(model, i)
    assert texts[2] == "spasm" and float(texts[5]) > 10  # tens of times the resting level
    spasms = [r for r in model.rows if r.kind == "spasm"]
    assert len(spasms) == 1
    expected = [e for e in window.worker.episodes]
    assert len(model.rows) == len(expected)
    assert "spasms</b> 1" in window.counts.text() and "/h" in window.counts.text()


def test_markers_from_buttons_hot_keys_and_notes_reach_the_episode_log(live, qtbot, tmp_path):
    rec = simulate("quiet", 30.0, fs=1000.0, seed=2, channels=2)
    window = live(rec)
    _step(window, qtbot, 5.0)

    with qtbot.waitSignal(window.marker_added, timeout=2000) as made:
        qtbot.mouseClick(window.marker_buttons["stretching"], QtCore.Qt.MouseButton.LeftButton)
    assert made.args[0].description == "stretching"

    _step(window, qtbot, 12.0)
    window.activateWindow()
    window.plots.setFocus()
    qtbot.keyClick(window.plots, QtCore.Qt.Key.Key_V)  # hot key: voluntary
    qtbot.keyClick(window.plots, QtCore.Qt.Key.Key_N)  # hot key: the note field
    assert window.note_edit.hasFocus()
    qtbot.keyClicks(window.note_edit, "calf tight")
    qtbot.keyClick(window.note_edit, QtCore.Qt.Key.Key_Return)
    assert window.note_edit.text() == ""
    assert [m.description for m in window.markers] == ["stretching", "voluntary", "calf tight"]
    assert [r.kind for r in window.model.rows].count(MARKER) == 3

    window.close()  # stops the worker and closes the log
    rows = [r for r in read_episode_log(tmp_path / "episodes.csv") if r["kind"] == MARKER]
    assert [r["label"] for r in rows] == ["stretching", "voluntary", "calf tight"]
    assert [r["onset_s"] for r in rows] == [5.0, 12.0, 12.0]  # where the stream was
    assert all(r["channel"] == "" and float(r["duration_s"]) == 0.0 for r in rows)


def test_pause_freezes_the_picture_while_detection_goes_on(live, qtbot):
    rec = simulate("fasciculation", 30.0, fs=1000.0, seed=1, channels=2)
    window = live(rec)  # a 10 s window
    _step(window, qtbot, 12.0)
    qtbot.waitUntil(lambda: window.redraws > 3, timeout=20000)
    window.pause_button.click()
    assert window.paused and window.status_panel.paused.isVisibleTo(window)
    axis = window.plots.strips[-1].env_plot.getAxis("bottom")  # stream time at the right edge
    redraws = window.redraws
    assert axis.now == 12.0
    _step(window, qtbot, 20.0)  # 8 s more taken while paused
    assert window.redraws == redraws and axis.now == 12.0  # nothing redrawn...
    assert window.worker.samples_in == window.samples_received == 20000  # ...but everything taken
    window.pause_button.click()
    qtbot.waitUntil(lambda: window.redraws > redraws, timeout=20000)
    assert axis.now == 20.0


def test_window_scale_and_channel_controls(live, qtbot):
    rec = simulate("quiet", 20.0, fs=1000.0, seed=3, channels=3)
    window = live(rec, speed=5.0, window_s=10.0)
    qtbot.waitUntil(lambda: len(window.plots.strips) == 3 and window.redraws > 2, timeout=20000)
    window.window_spin.setValue(5)
    assert window.window_s == 5.0
    window.set_window(120)
    assert window.window_s == 60.0 and window.window_spin.value() == 60

    window.set_scale(50.0)
    assert window.scale_combo.currentIndex() == 1
    assert all(s.trace_range == (-50.0, 50.0) for s in window.plots.strips)
    window.set_scale(None)
    assert window.scale_combo.currentIndex() == 0

    strips = window.plots.strips
    window.channel_actions[2].setChecked(False)
    assert not strips[2].visible and strips[1].env_plot.getAxis("bottom").isVisible()
    window.set_channel_visible(0, False)
    window.set_channel_visible(1, False)  # the last one shown stays
    assert strips[1].visible and not strips[0].visible
    assert window.channel_actions[1].isChecked()


def _drawn_reference(window: LiveWindow, channel: int):
    """What the strip of ``channel`` should draw, from scratch: min and max of every pixel
    column of the rings over the window, the envelope's maximum per column in log10."""
    fs, head = window.fs, window.head
    span = int(round(window.window_s * fs))
    stop = max(head, window.first_sample + span)
    columns = window.plots.strips[0].columns()
    size = column_size(span, columns)
    a = ((stop - span) // size) * size
    k = -(-(head - a) // size)  # columns up to the newest sample
    trace = window.trace_ring.read(a, a + k * size)[:, channel].reshape(k, size)
    env = window.env_ring.read(a, a + k * size)[:, channel].reshape(k, size)
    y = np.empty(2 * k)
    # The newest column is partly filled (NaN past the newest sample).
    y[0::2], y[1::2] = np.nanmin(trace, axis=1), np.nanmax(trace, axis=1)
    x = np.repeat((a + size * np.arange(k) + 0.5 * size - stop) / fs, 2)
    rest = float(window.rest[channel])
    env_y = np.log10(np.maximum(np.nanmax(env, axis=1), rest / 10))
    return x, y, x[0::2], env_y


def test_curves_drawn_equal_a_numpy_reference_while_filling_and_scrolling(live, qtbot):
    """Columns computed a few at a time over many redraws draw the same curves as min/max of
    the whole window computed at once: before the stream fills the window and after."""
    rec = simulate("fasciculation", 30.0, fs=1000.0, seed=4, channels=2)
    window = live(rec)  # a 10 s window
    for upto in (6.0, 9.0, 14.0, 23.0):
        _step(window, qtbot, upto)
        qtbot.waitUntil(lambda: window.redraws > 2, timeout=20000)
        window.redraw()
        for c, strip in enumerate(window.plots.strips):
            x, y, env_x, env_y = _drawn_reference(window, c)
            got_x, got_y = strip.trace.data()
            assert np.array_equal(got_x, x) and np.allclose(got_y, y, rtol=0, atol=1e-6)
            got_x, got_y = strip.envelope.data()
            assert np.array_equal(got_x, env_x) and np.allclose(got_y, env_y, atol=1e-9)
            [run] = strip.trace.runs()  # no sample lost: one unbroken polyline
            assert np.allclose(run[:, 1], y, atol=1e-6)


def test_polyline_breaks_at_lost_samples_and_marks_sit_where_asked(qapp):
    from emgspasm.live.plots import MarkItem, Polyline

    line = Polyline(pg.mkPen("w"))
    x = np.arange(10, dtype=float)
    y = np.array([0, 1, np.nan, 3, 4, 5, np.nan, 7, np.nan, np.nan])
    line.set_data(x, y)
    runs = line.runs()
    assert [r[:, 0].tolist() for r in runs] == [[0, 1], [3, 4, 5]]  # a lone point draws nothing
    assert np.array_equal(runs[1][:, 1], [3, 4, 5])
    line.set_data(x[:4], np.arange(4.0))  # fewer points, buffers reused
    assert [r[:, 1].tolist() for r in line.runs()] == [[0, 1, 2, 3]]
    line.set_data(x[:1], y[:1])
    assert line.runs() == []

    marks = MarkItem(pg.mkBrush("m"))
    marks.set_points([-1.5, -0.5], [10.0, 20.0])
    assert marks.points == [(-1.5, 10.0), (-0.5, 20.0)]


def test_open_spasm_row_is_repainted_only_when_its_texts_change(qapp):
    model = EpisodeTableModel()
    changed: list[int] = []
    model.dataChanged.connect(lambda top, *_: changed.append(top.row()))

    def open_spasm(offset: int) -> Episode:
        return Episode("spasm", "EMG1", 2000, offset, 2200, 2000.0, 300.0, 100.0, 5.0)

    model.set_ongoing([open_spasm(4000)])  # a new row
    model.set_ongoing([open_spasm(4040)])  # 1.02 s: still "1.0" s on screen
    assert changed == [] and model.rows[0].duration_s == pytest.approx(1.02)
    model.set_ongoing([open_spasm(4400)])  # 1.2 s
    assert changed == [0]
    model.add_episode(open_spasm(5000))  # final: same texts but no longer open
    assert changed == [0, 0] and not model.rows[0].provisional


def test_guard_keeps_none_alive_where_qt_leaks_references(qapp):
    import sys

    from emgspasm.live import qtfix

    if not qtfix.leaks_singletons():
        pytest.skip("this PySide6 does not lose references to None")
    assert qtfix.guard_none_refcount()
    for obj in (None, True, False):
        assert sys.getrefcount(obj) > 2**40
