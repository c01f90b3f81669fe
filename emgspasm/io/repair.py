"""Repairing EDF/BDF files damaged at their end: what ``emgspasm repair`` runs.

A recording whose writer died, whose copy was cut short, or whose file system left junk after
it can have a header that does not match its data: a record count that is wrong or ``-1`` (the
EDF mark for "not known yet"), a last data record cut short, or bytes after the last record.
pyEDFlib refuses such a file as a whole. :func:`repair` keeps what is really there, the whole
data records, and fixes the header's count to say so. It never makes samples up: a record cut
short is dropped (its samples are counted in the report), never padded.

Which whole records are real:

- EDF+ and BDF+ files start every data record with a time stamp (its onset in seconds). Records
  are kept up to the last one whose time stamp is where it belongs (EDF+C: the first onset plus
  the record's index times the record duration; EDF+D: later than the record before). Blocks
  after it are dropped as junk; a record inside the kept stretch with a damaged time stamp is
  kept (its samples are there) and reported.
- Plain EDF and BDF files have no time stamps. A record count the header gives (and the file
  holds) is trusted and anything after those records is dropped; with no usable count (``-1``,
  junk, more than the file holds) every whole record is kept.

A file whose header itself is cut short or unreadable cannot be repaired: nothing says how its
bytes are laid out. Neither can a file without a single whole record.

The repaired copy (``out``) is written beside its final place and moved there when complete,
readable and writable by its owner only; without ``out`` the file is repaired in place (cut to
its whole records, then its header's count rewritten).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RecordingError
from ._common import display_name

_FIXED_HEADER = 256
_COUNT_AT = 236
_COPY_CHUNK = 1 << 22
_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
_TIMEKEEPING = re.compile(rb"([+-]\d+(?:\.\d*)?)\x14\x14")


@dataclass
class Layout:
    """What an EDF/BDF header says about the data records."""

    kind: str
    """``EDF``, ``EDF+``, ``BDF`` or ``BDF+``."""
    header_bytes: int
    width: int
    """Bytes per sample: 2 (EDF) or 3 (BDF)."""
    labels: list[str]
    counts: list[int]
    """Samples per record of each signal."""
    record_s: float
    header_count: int | None
    """The header's record count, None when it is not a number."""
    header_count_text: str
    continuous: bool = True
    """EDF+C/BDF+C (records follow each other) rather than EDF+D/BDF+D."""
    annotation: int | None = None
    """Index of the annotation signal of an EDF+/BDF+ file."""

    @property
    def record_bytes(self) -> int:
        return sum(self.counts) * self.width

    @property
    def data_signals(self) -> list[int]:
        return [k for k in range(len(self.counts)) if k != self.annotation]

    @property
    def record_samples(self) -> int:
        """Samples of the data signals in one record."""
        return sum(self.counts[k] for k in self.data_signals)

    def samples_in(self, partial: int) -> int:
        """Whole samples of the data signals in the first ``partial`` bytes of a record."""
        found, offset = 0, 0
        for k, count in enumerate(self.counts):
            size = count * self.width
            if k != self.annotation:
                found += min(count, max(0, partial - offset) // self.width)
            offset += size
        return found


@dataclass
class RepairReport:
    """What :func:`repair` found and did."""

    path: Path
    out: Path
    layout: Layout
    whole_records: int
    """Whole records' worth of bytes after the header."""
    kept: int
    """Records kept (those the repaired header counts)."""
    partial_bytes: int = 0
    """Bytes of a record cut short at the end (dropped)."""
    junk_bytes: int = 0
    """Bytes after the kept records that are not records (dropped)."""
    damaged_stamps: list[int] = field(default_factory=list)
    """Kept records whose time stamp is damaged (their index)."""
    changed: bool = False

    @property
    def partial_samples(self) -> int:
        return self.layout.samples_in(self.partial_bytes) if self.partial_bytes else 0

    @property
    def dropped_bytes(self) -> int:
        return self.partial_bytes + self.junk_bytes

    def lines(self) -> list[str]:
        """The report ``emgspasm repair`` prints."""
        lay = self.layout
        signals = len(lay.data_signals)
        extra = " + annotations" if lay.annotation is not None else ""
        out = [
            f"{self.path.name}: {lay.kind}, {signals} signal(s){extra}, data records of "
            f"{lay.record_s:g} s ({lay.record_bytes} bytes, {lay.record_samples} samples)",
            f"  header said {lay.header_count_text or '(nothing)'} record(s); "
            f"{self.whole_records} whole record(s) found, {self.kept} kept "
            f"({self.kept * lay.record_s:g} s)",
        ]
        if self.partial_bytes:
            out.append(
                f"  last record cut short: {self.partial_bytes} of {lay.record_bytes} bytes "
                f"dropped ({self.partial_samples} sample(s); nothing was filled in)"
            )
        if self.junk_bytes:
            why = (
                "their time stamps do not continue the recording"
                if lay.annotation is not None
                else "beyond the records the header counts"
            )
            out.append(f"  {self.junk_bytes} bytes after the last record dropped ({why})")
        if self.damaged_stamps:
            shown = ", ".join(str(k) for k in self.damaged_stamps[:5])
            more = ", ..." if len(self.damaged_stamps) > 5 else ""
            out.append(
                f"  {len(self.damaged_stamps)} kept record(s) with a damaged time stamp "
                f"(record {shown}{more})"
            )
        if lay.header_count != self.kept:
            out.append(
                f"  record count fixed: {lay.header_count_text or '(nothing)'} -> {self.kept}"
            )
        if not self.changed:
            out.append(
                "  nothing to repair" + ("" if self.out == self.path else f"; copied to {self.out}")
            )
        elif self.out == self.path:
            out.append(f"  repaired in place: {self.path}")
        else:
            out.append(f"  repaired copy written to {self.out}")
        return out


def _refuse(name: str, why: str) -> RecordingError:
    return RecordingError(f"{name}: cannot be repaired: {why}")


def _number(text: bytes) -> int | None:
    try:
        return int(text.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None


def read_layout(path: Path) -> Layout:
    """The layout an EDF/BDF header describes; RecordingError when the header itself is cut
    short or damaged (then nothing can be repaired)."""
    name = display_name(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(_FIXED_HEADER)
            if len(head) < _FIXED_HEADER:
                raise _refuse(
                    name, f"the header is cut short ({size} bytes; its first part alone is 256)"
                )
            if head[:8] == b"0       ":
                width, family = 2, "EDF"
            elif head[:8] == b"\xffBIOSEMI":
                width, family = 3, "BDF"
            else:
                raise _refuse(name, "it does not start as an EDF or BDF file")
            signals = _number(head[252:256])
            header_bytes = _number(head[184:192])
            if not signals or signals < 1 or header_bytes != 256 * (signals + 1):
                raise _refuse(name, "its header is damaged (signal count or header size)")
            if size < header_bytes:
                raise _refuse(name, f"the header is cut short ({size} of its {header_bytes} bytes)")
            rest = handle.read(header_bytes - _FIXED_HEADER)
    except OSError as exc:
        raise RecordingError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    labels = [rest[16 * k : 16 * k + 16].decode("latin-1").strip() for k in range(signals)]
    base = signals * 216
    counts = [_number(rest[base + 8 * k : base + 8 * k + 8]) for k in range(signals)]
    if any(c is None or c < 1 for c in counts):
        raise _refuse(name, "its header is damaged (samples per record)")
    try:
        record_s = float(head[244:252].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise _refuse(name, "its header is damaged (record duration)") from None
    if not record_s >= 0:
        raise _refuse(name, "its header is damaged (record duration)")
    reserved = head[192:236]
    plus = reserved[:4] == family.encode() + b"+"
    annotation = None
    if plus:
        wanted = [k for k, label in enumerate(labels) if label in _ANNOTATION_LABELS]
        annotation = wanted[0] if wanted else None
    count_text = head[_COUNT_AT : _COUNT_AT + 8].decode("latin-1").strip()
    return Layout(
        kind=family + ("+" if plus else ""),
        header_bytes=header_bytes,
        width=width,
        labels=labels,
        counts=[int(c) for c in counts if c is not None],
        record_s=record_s,
        header_count=_number(head[_COUNT_AT : _COUNT_AT + 8]),
        header_count_text=count_text,
        continuous=reserved[4:5] != b"D",
        annotation=annotation,
    )


def _onset(block: bytes) -> float | None:
    """The time stamp starting an annotation signal, None when there is none."""
    found = _TIMEKEEPING.match(block)
    if found is None:
        return None
    try:
        return float(found.group(1))
    except ValueError:
        return None


def _stamped_records(path: Path, layout: Layout, whole: int) -> tuple[int, list[int]]:
    """(records up to the last one whose time stamp is in place, kept ones with a bad stamp)."""
    assert layout.annotation is not None
    k = layout.annotation
    start = sum(layout.counts[:k]) * layout.width
    length = layout.counts[k] * layout.width
    step = layout.record_s
    tolerance = max(1e-6, step * 1e-6)
    last_good = -1
    origin: float | None = None  # EDF+C: the onset record 0 would have
    previous: float | None = None  # EDF+D: the last good onset
    bad: list[int] = []
    with open(path, "rb") as handle:
        for record in range(whole):
            handle.seek(layout.header_bytes + record * layout.record_bytes + start)
            onset = _onset(handle.read(length))
            if onset is None:
                good = False
            elif layout.continuous:
                if origin is None:
                    origin = onset - record * step
                good = abs(onset - (origin + record * step)) <= tolerance
            else:
                good = previous is None or onset > previous
            if good:
                last_good, previous = record, onset
            else:
                bad.append(record)
    kept = last_good + 1
    return kept, [r for r in bad if r < kept]


def plan_repair(
    path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None
) -> RepairReport:
    """What :func:`repair` would do to ``path``, without changing anything."""
    path = Path(path)
    name = display_name(path)
    if path.is_dir():
        raise RecordingError(f"{name}: is a folder, not a recording")
    if not path.is_file():
        raise RecordingError(f"{name}: no such file")
    layout = read_layout(path)
    data = path.stat().st_size - layout.header_bytes
    whole, partial = divmod(data, layout.record_bytes)
    damaged: list[int] = []
    if layout.annotation is not None:
        kept, damaged = _stamped_records(path, layout, whole)
    elif layout.header_count is not None and 1 <= layout.header_count <= whole:
        kept = layout.header_count
    else:
        kept = whole
    if kept == 0:
        why = (
            "no data record has a valid time stamp"
            if whole and layout.annotation is not None
            else f"it holds no whole data record ({data} bytes after the header, a record is "
            f"{layout.record_bytes})"
        )
        raise _refuse(name, why)
    report = RepairReport(path, Path(out) if out is not None else path, layout, whole, kept)
    if kept == whole:
        report.partial_bytes = partial
    else:
        report.junk_bytes = data - kept * layout.record_bytes
    report.damaged_stamps = damaged
    report.changed = report.dropped_bytes > 0 or layout.header_count != kept
    return report


def repair(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> RepairReport:
    """Repair the EDF/BDF file ``path`` (see the module notes), in place or into ``out``.

    Returns the report of what was found and done. Raises RecordingError when the file cannot
    be repaired (header cut short or damaged, no whole record) or written.
    """
    source = Path(path)
    target = Path(out) if out is not None else source
    if out is not None and target.exists() and target.resolve() == source.resolve():
        target = source
    report = plan_repair(source, target)
    layout = report.layout
    keep = layout.header_bytes + report.kept * layout.record_bytes
    count = str(report.kept).ljust(8).encode("ascii")
    name = display_name(target)
    try:
        if target == source:
            if report.changed:
                with open(source, "r+b") as handle:
                    handle.truncate(keep)
                    handle.seek(_COUNT_AT)
                    handle.write(count)
                    handle.flush()
                    os.fsync(handle.fileno())
        else:
            _write_copy(source, target, keep, count)
    except OSError as exc:
        raise RecordingError(f"{name}: cannot be written ({exc.strerror or exc})") from None
    return report


def _write_copy(source: Path, target: Path, keep: int, count: bytes) -> None:
    """Copy the first ``keep`` bytes of ``source`` with the record count ``count`` to
    ``target`` (owner-only), through a temporary file so that ``target`` is never half made."""
    fd, temporary = tempfile.mkstemp(prefix=".repair-", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as dst, open(source, "rb") as src:
            left = keep
            while left:
                chunk = src.read(min(_COPY_CHUNK, left))
                if not chunk:
                    raise OSError(f"{source} changed while it was copied")
                dst.write(chunk)
                left -= len(chunk)
            dst.seek(_COUNT_AT)
            dst.write(count)
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
