"""Exception types of emgspasm.

Every failure a user can cause (a bad file, a wrong option, a device that misbehaves) is raised as
one of these, so that the CLI can turn it into one clear line instead of a traceback.
"""

from __future__ import annotations


class EmgSpasmError(Exception):
    """Base class of every error emgspasm reports to a user."""

    exit_code = 1


class RecordingError(EmgSpasmError):
    """A recording cannot be read or written: unknown format, corrupt lines, truncated data."""

    exit_code = 2


class ConfigError(EmgSpasmError):
    """A configuration value or file is invalid.

    ``key`` names the configuration key at fault when there is one, so that a message about a
    file can point at the line that sets it.
    """

    exit_code = 3

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ProtocolError(EmgSpasmError):
    """A packet from a sensor does not follow its protocol."""

    exit_code = 4


class DeviceError(EmgSpasmError):
    """A sensor cannot be found, connected to, or kept streaming."""

    exit_code = 5
