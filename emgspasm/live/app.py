"""Running the live view: make the source, the worker and the window; run; clean up.

``run_live`` is what ``emgspasm live`` calls. With ``duration_s`` it runs that many seconds of
wall-clock time and exits (saving ``screenshot`` first when given), which is how tests and
headless checks use it; otherwise it runs until the window is closed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import DetectorConfig
from ..errors import ConfigError, EmgSpasmError
from .log import LiveEpisodeLog
from .sources import LiveSource, ReplaySource, SimulatedSensor, bluetooth_source
from .window import DEFAULT_WINDOW_S, WINDOW_MAX_S, WINDOW_MIN_S


def make_source(
    device: str | None = None, replay: str | None = None, speed: float = 1.0
) -> tuple[LiveSource, str]:
    """The source the options ask for, and a description of it.

    ``device``: a Bluetooth sensor; ``replay``: a recording file paced at ``speed``; neither:
    the simulated sensor (a night with cramps and fasciculations, two channels at 2 kHz).
    """
    if device and replay:
        raise ConfigError("give either --device or --replay, not both")
    if not speed >= 0:
        raise ConfigError("--speed must be 0 (as fast as possible) or positive")
    if device:
        return bluetooth_source(device), f"sensor {device}"
    if replay:
        source = ReplaySource(replay, speed)
        return source, source.status.source
    sensor = SimulatedSensor("night", speed=speed or 1.0)
    return sensor, sensor.status.source


def _need_display(headless_ok: bool) -> None:
    """Pick the offscreen platform for headless screenshot runs; refuse plainly otherwise."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform != "linux":
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if headless_ok:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    raise ConfigError(
        "no display to open the live view on; run it in a desktop session, or use "
        "--duration S --screenshot PNG (or QT_QPA_PLATFORM=offscreen) for a picture"
    )


_QUIET = ("propagateSizeHints",)
"""Qt messages that say nothing to a user (the offscreen platform's lack of window hints)."""


def _qt_messages(mode, context, message: str) -> None:
    if any(text in message for text in _QUIET):
        return
    print(message, file=sys.stderr)


def quiet_qt_messages() -> None:
    """Route Qt's messages to stderr without the ones that say nothing to a user."""
    from pyqtgraph.Qt import QtCore

    QtCore.qInstallMessageHandler(_qt_messages)


def run_live(
    source: LiveSource,
    config: DetectorConfig,
    *,
    name: str = "source",
    window_s: float = DEFAULT_WINDOW_S,
    duration_s: float | None = None,
    screenshot: str | os.PathLike[str] | None = None,
    log: str | os.PathLike[str] | None = None,
    size: tuple[int, int] = (1440, 860),
    lsl: bool = False,
) -> int:
    """Show the live view of ``source``; returns the exit code.

    With ``lsl`` the samples, confirmed spasms, final episodes and markers are also published
    as Lab Streaming Layer streams (:class:`~emgspasm.sinks.lsl.LslOutlet`); without it nothing
    listens on the network.

    Raises ConfigError for a window outside 5-60 s or a screenshot without a duration, the
    source's own error (DeviceError, RecordingError, ...) if it stopped the stream,
    RecordingError when the log or the screenshot cannot be written, and DeviceError when
    ``lsl`` is asked for and liblsl cannot be loaded.
    """
    if not WINDOW_MIN_S <= window_s <= WINDOW_MAX_S:
        raise ConfigError(f"--window must be between {WINDOW_MIN_S:g} and {WINDOW_MAX_S:g} s")
    if screenshot is not None and duration_s is None:
        raise ConfigError("--screenshot needs --duration S (seconds to run before the picture)")
    if duration_s is not None and not duration_s > 0:
        raise ConfigError("--duration must be positive")
    _need_display(headless_ok=duration_s is not None)

    import pyqtgraph as pg
    from pyqtgraph.Qt import QtCore

    from .window import LiveWindow, configure_pyqtgraph
    from .worker import LiveWorker

    configure_pyqtgraph()
    quiet_qt_messages()
    app = pg.mkQApp("emgspasm live")
    sinks: list = [LiveEpisodeLog(log)] if log else []
    if lsl:
        from ..sinks.lsl import LslOutlet

        sinks.append(LslOutlet(name="emgspasm"))
    worker = LiveWorker(source, config, sinks, name=name)
    window = LiveWindow(worker, window_s, title=f"emgspasm live - {name}")
    saved: list[tuple[int, int]] = []
    failure: list[EmgSpasmError] = []

    def finish() -> None:
        try:
            if screenshot is not None:
                saved.append(window.save_screenshot(Path(screenshot)))
        except EmgSpasmError as exc:
            failure.append(exc)
        window.close()

    try:
        window.resize(*size)
        window.show()
        worker.start()
        if duration_s is not None:
            QtCore.QTimer.singleShot(int(round(duration_s * 1000)), finish)
        app.exec()
    finally:
        window.timer.stop()
        worker.stop()
        window.deleteLater()
        app.processEvents()
    if failure:
        raise failure[0]
    if worker.exception is not None:
        raise worker.exception
    return 0
