"""Conventions emgspasm keeps inside EDF+/BDF+ annotations, shared by the writer and the reader.

EDF+ annotations belong to the whole recording, so an annotation about one channel is written
as ``"{description}@{channel}"``. Two descriptions are marks rather than events:

``gap``
    the samples it spans were lost; the file holds zeros there and the reader gives NaN and a
    :class:`~emgspasm.frames.Gap` instead.
``recording end``
    the true number of samples: a file is made of whole data records, so the writer pads the last
    one with zeros; the reader stops at this mark, so padding never comes back as data.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..frames import Annotation

GAP = "gap"
END = "recording end"
CLIPPED = "clipped"
"""Marks samples the writer had to clip to the channel's physical range (one per channel)."""


def tag(annotation: Annotation) -> str:
    """The EDF+ description of an annotation: its channel, if any, appended after ``@``."""
    if annotation.channel is None:
        return annotation.description
    return f"{annotation.description}@{annotation.channel}"


def untag(description: str, channels: Sequence[str]) -> tuple[str, str | None]:
    """Split ``"text@channel"`` when ``channel`` is one of ``channels``; else keep it whole.

    The longest matching channel name wins, so channel names may themselves contain ``@``.
    """
    for channel in sorted(channels, key=len, reverse=True):
        suffix = "@" + channel
        if len(description) > len(suffix) and description.endswith(suffix):
            return description[: -len(suffix)], channel
    return description, None
