"""The live worker: every sample through the Detector in its own thread, same episodes as batch."""

from __future__ import annotations

import time

from emgspasm.config import profile
from emgspasm.detect import Detector
from emgspasm.live.log import LiveEpisodeLog, marker
from emgspasm.live.sources import CLOSED, ENDED, ReplaySource
from emgspasm.live.worker import Finished, LiveWorker, Update
from emgspasm.sinks.episode_log import read_episode_log
from emgspasm.sources.simulator import simulate

from .gated_replay import GatedReplay


def _drain_until_finished(worker: LiveWorker, timeout: float = 30.0) -> list:
    messages: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages += worker.drain()
        if messages and isinstance(messages[-1], Finished):
            return messages
        time.sleep(0.01)
    raise AssertionError("the worker did not finish")


def test_worker_passes_every_sample_and_finds_what_batch_finds(tmp_path):
    rec = simulate("night", 40.0, fs=1000.0, seed=4, channels=2)
    source = ReplaySource("night.bdf", 0, reader=rec)
    log = LiveEpisodeLog(tmp_path / "log.csv")
    worker = LiveWorker(source, profile("night"), [log])
    worker.start()
    messages = _drain_until_finished(worker)
    updates = [m for m in messages if isinstance(m, Update)]
    assert messages[-1] == Finished(None)
    assert worker.samples_in == rec.samples.shape[0] == source.samples_out
    assert sum(b.n for u in updates for b in u.blocks) == rec.samples.shape[0]
    live = [e for u in updates for e in u.episodes]

    det = Detector(profile("night"))
    batch = [e for f in rec.frames(1000) for e in det.process(f)] + det.flush()
    assert live == batch and any(e.kind == "spasm" for e in live)
    assert worker.status.state == ENDED

    worker.annotate(marker(39.0, "voluntary"))  # after the end of the stream: still logged
    worker.stop()
    rows = read_episode_log(tmp_path / "log.csv")
    assert len(rows) == len(batch) + 1 and rows[-1]["label"] == "voluntary"


def test_stopping_mid_stream_closes_open_spasms_into_the_log(tmp_path):
    rec = simulate("night", 120.0, fs=1000.0, seed=4, channels=1)  # a spasm from 7 s to 117 s
    source = GatedReplay(rec)  # stops at 30 s until the test lets more through: it never will
    log = LiveEpisodeLog(tmp_path / "log.csv")
    worker = LiveWorker(source, profile("night"), [log])
    upto = source.release(30.0)
    worker.start()
    deadline = time.monotonic() + 20
    while worker.samples_in < upto and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.samples_in == upto == 30000
    assert worker.detector.ongoing, "no spasm started"
    worker.stop()
    assert worker.finished.is_set() and source.status.state == CLOSED
    rows = read_episode_log(tmp_path / "log.csv")
    assert rows and "open at end of stream" in rows[-1]["quality"]
    assert rows[-1]["kind"] == "spasm" and rows[-1]["offset_s"] == 30.0
    assert worker.samples_in == source.samples_out == 30000


class FakeRecorder:
    """A recorder's surface: Frames, final episodes and annotations in stream order."""

    def __init__(self) -> None:
        self.samples = 0
        self.episodes: list = []
        self.annotations: list = []
        self.closed = False

    def write(self, frame) -> None:
        self.samples += frame.n

    def add_episodes(self, episodes) -> None:
        self.episodes += list(episodes)

    def annotate(self, annotation) -> None:
        self.annotations.append(annotation)

    def close(self) -> None:
        self.closed = True


def test_a_recorder_takes_frames_episodes_and_markers():
    rec = simulate("fasciculation", 20.0, fs=1000.0, seed=2, channels=1)
    recorder = FakeRecorder()
    worker = LiveWorker(ReplaySource("f.bdf", 0, reader=rec), profile("night"), [recorder])
    worker.start()
    _drain_until_finished(worker)
    mark = marker(12.0, "stretching")
    worker.annotate(mark)
    worker.stop()
    assert recorder.samples == 20000 and recorder.closed
    assert recorder.episodes == worker.episodes and recorder.episodes
    assert recorder.annotations == [mark]


def test_a_failing_source_is_reported_not_raised_in_the_thread():
    class Broken:
        status = None

        def __aiter__(self):
            return self._frames()

        async def _frames(self):
            raise OSError("link lost for good")
            yield  # pragma: no cover

    worker = LiveWorker(Broken(), profile("night"), name="sensor")
    worker.start()
    messages = _drain_until_finished(worker)
    worker.stop()
    assert messages[-1] == Finished("link lost for good")
    assert worker.status.state == "failed" and isinstance(worker.exception, OSError)
