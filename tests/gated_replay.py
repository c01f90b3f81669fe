"""A replay whose progress the test decides: what the live view shows at a given moment is then
fixed by the test, not by how fast the machine happens to run."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import aclosing

from emgspasm.frames import Frame
from emgspasm.live.sources import ReplaySource
from emgspasm.recording import Recording


class GatedReplay(ReplaySource):
    """A :class:`ReplaySource` running as fast as possible, but handing out Frames only up to
    the stream time let through with :meth:`release` (nothing at first).

    The Frames are those of a replay at speed 0 (one second of signal each, from sample 0). The
    next one is taken from the replay only once it is let through, so ``samples_out`` and the
    source's status count exactly what was handed out.
    """

    def __init__(self, recording: Recording, name: str = "sample") -> None:
        super().__init__(name, 0, reader=recording)
        self.limit: float = 0
        """Samples let through so far (``math.inf``: all)."""

    def release(self, seconds: float | None = None) -> int:
        """Let the samples up to ``seconds`` of stream time through (None: all); returns the
        stream index up to which Frames will now be handed out."""
        header = self.reader.header
        if seconds is None:
            self.limit = math.inf
            return header.n_samples
        self.limit = round(seconds * header.fs)
        block = self.block_size(header.fs)
        return min(header.n_samples, int(self.limit) // block * block)

    async def frames(self) -> AsyncIterator[Frame]:
        header = self.reader.header
        block = self.block_size(header.fs)
        stop = 0
        async with aclosing(super().frames()) as frames:
            while True:
                following = min(stop + block, header.n_samples)
                while stop < header.n_samples and following > self.limit and not self._closing:
                    await asyncio.sleep(0.002)
                try:
                    frame = await anext(frames)
                except StopAsyncIteration:
                    return
                stop = frame.stop
                yield frame
