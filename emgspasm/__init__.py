"""emgspasm: tell muscle cramps from fasciculations and everything else in surface EMG, live."""

from .errors import ConfigError, DeviceError, EmgSpasmError, ProtocolError, RecordingError
from .frames import Annotation, Episode, Frame, Gap
from .recording import COUNTS, Recording, RecordingHeader, RecordingReader

__version__ = "0.1.0"

__all__ = [
    "COUNTS",
    "Annotation",
    "ConfigError",
    "DeviceError",
    "EmgSpasmError",
    "Episode",
    "Frame",
    "Gap",
    "ProtocolError",
    "Recording",
    "RecordingError",
    "RecordingHeader",
    "RecordingReader",
    "__version__",
]
