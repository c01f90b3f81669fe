"""Writing batch results so that a reader never sees half a file and nobody else can read it.

Every result is written to a temporary file in the destination folder and moved over the final
name with :func:`os.replace` (atomic on POSIX and Windows within one file system): a batch that is
killed half way leaves either the previous complete file or none, never a truncated one. Files
are created readable and writable by their owner only (0o600) because they describe a person's
health; a folder the batch creates is owner-only too (0o700).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..private_files import DIR_MODE, FILE_MODE

TEMP_SUFFIX = ".tmp"


def make_out_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder (owner-only) if it does not exist; return it as an absolute path."""
    out = Path(path).expanduser().absolute()
    out.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return out


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success it replaces ``final`` atomically.

    The temporary file already exists (empty, mode 0o600) when the caller gets it, so a writer
    that truncates and reopens it keeps the owner-only mode. If the block raises anything
    (including KeyboardInterrupt or SystemExit), the temporary file is removed and ``final`` is
    left untouched.
    """
    final = Path(final)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        os.chmod(tmp_path, FILE_MODE)
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_atomic(final: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``final`` through a temporary file (see :func:`atomic_path`)."""
    with atomic_path(final) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to a log file, creating it owner-only; a line is written in one call."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    """Push a file's contents to disk before it takes the final name (a power cut then leaves
    the old file or the complete new one, not an empty one)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
