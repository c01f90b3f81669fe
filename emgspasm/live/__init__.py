"""The live view: EMG traces, envelopes, thresholds and episodes as they happen.

``emgspasm live`` shows a stream (the simulated sensor, a replayed file, or a Bluetooth sensor)
in a pyqtgraph window. Acquisition and detection run in a worker thread with its own asyncio
loop (:mod:`.worker`); the window (:mod:`.window`) draws what the worker queued, decimated to
the pixels, about 30 times a second, and never holds the worker up.

Modules: :mod:`.sources` (the source contract, file replay and simulated sensor, paced by the
wall clock), :mod:`.tap` (filtered trace, envelope and quality for display), :mod:`.worker`,
:mod:`.buffers` (rings and min/max decimation), :mod:`.plots`, :mod:`.table`, :mod:`.status`,
:mod:`.log` (markers as Annotations, the episode log with markers), :mod:`.window`,
:mod:`.app` (``run_live``).

Only :mod:`.sources`, :mod:`.tap`, :mod:`.worker`, :mod:`.buffers` and :mod:`.log` are
imported here; the Qt modules load when a window is made.
"""

from .buffers import SampleRing, minmax_columns
from .log import LIVE_COLUMNS, MARKER, LiveEpisodeLog, marker
from .sources import (
    LiveSource,
    ReplaySource,
    SimulatedSensor,
    SourceStatus,
    read_status,
)
from .tap import ChannelQuality, DisplayBlock, DisplayTap
from .worker import Finished, LiveWorker, Update

__all__ = [
    "LIVE_COLUMNS",
    "MARKER",
    "ChannelQuality",
    "DisplayBlock",
    "DisplayTap",
    "Finished",
    "LiveEpisodeLog",
    "LiveSource",
    "LiveWorker",
    "ReplaySource",
    "SampleRing",
    "SimulatedSensor",
    "SourceStatus",
    "Update",
    "marker",
    "minmax_columns",
    "read_status",
]
