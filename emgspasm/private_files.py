"""Files that hold health data are created readable and writable by their owner only.

A recording, an episode log, a report or a picture of a night describes a person's health, so
every file emgspasm writes is created with mode 0o600 and every folder it creates with 0o700,
whatever the process's umask. A file that already existed is narrowed to 0o600 as well before
anything is written to it.
"""

from __future__ import annotations

import os
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """Open ``path`` for writing (``"w"`` or ``"wb"``), created or truncated owner-only.

    Extra keyword arguments go to :func:`open` (encoding, newline)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_private writes files; mode {mode!r} is not 'w' or 'wb'")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``, owner-only."""
    with open_private(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def write_private_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path``, owner-only."""
    with open_private(path, "wb") as fh:
        fh.write(data)
