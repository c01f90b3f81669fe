"""Recording from a Bluetooth EMG sensor: what ``emgspasm record`` runs.

:func:`record_session` connects to one sensor (:class:`~emgspasm.sources.ble.client.BleSource`),
streams its Frames through the :class:`~emgspasm.detect.Detector` and hands Frames, Episodes and
link events to a :class:`~emgspasm.sinks.recorder.Recorder`, which writes the BDF+ file and the
episode log as they come. It stops when asked (``stop``: Ctrl-C in the command), when the
recording reaches ``duration_s`` of stream time, when a virtual sensor's feed is over, or when
the source gives up (the files then hold everything up to that point and the error is returned
with the summary). Whatever ends it, the detector is flushed and both files are closed.

The sensor is either a real device (an address or an advertised name, through bleak's default
backend) or a virtual one (``virtual:bridge``, ``virtual:myo``, ``virtual:ganglion``) on an
in-process bumble link, playing a recording file or a simulated scenario from its first sample
at ``speed`` times real time, with injected faults (lost notifications, link drops). The same
bleak client code runs in both cases.

The virtual sensor always plays at its nominal rate on the event loop's clock; :func:`record`
sets the pace by the loop it runs on: a clock ``speed`` times faster than real time
(:class:`~emgspasm.sources.ble.virtual.virtual_time.ScaledTimeLoop`), or virtual time that jumps
to the next event for ``speed`` 0 (as fast as the machine goes). Making the sensor itself faster
instead would look to the host like a crystal running ``speed`` times fast, and the host clock
mapping that places samples across a reconnect would put them in the wrong place.

Where things sit in the file:

- samples at their sample index; samples lost inside a connection (known exactly from the
  device's counters) and across a reconnect (estimated from the host clock) are written as
  ``gap`` spans, so no sample after a gap is shifted;
- ``connected ...`` at the first sample; for each reconnect, ``disconnected`` where the samples
  stop and ``reconnected after X s, N samples lost`` where they resume; ``recording stopped
  (reason)`` at the end;
- each episode as ``detected <kind>@<channel>`` over its span, as soon as it is final;
- ``rejected N malformed notification(s) (...)`` where notifications the decoder refused were
  noticed (at most one such note per minute of signal, the last one at the end), so the file
  accounts for every one of them;
- ``disk slow: ...`` over the samples written while the disk held the writer up, and ``not
  written (disk too slow) ...`` / ``dropped: the recorder fell behind ...`` over samples that
  could not be kept (see below).

Before anything connects, the outputs are checked: their folder must exist and take a new file,
and its free space must hold the recording (its size estimated from the sensor's layout and
``duration_s``, or a night of :data:`NIGHT_S` without one; for a real device, whose layout is
only known once connected, from :data:`DEVICE_ESTIMATE`, and checked again exactly at the first
sample). The files are written so that a crash or a power cut loses at most about the last
second (see :mod:`emgspasm.sinks.recorder`). They are written on a thread of their own
(:mod:`emgspasm.sinks.background`), so a disk that stalls for seconds never holds up the
reception of notifications: Frames wait in memory meanwhile (up to ``buffer_s`` seconds of
signal), and whatever cannot wait is marked in the file and reported, never silently lost.
With ``lsl`` the samples and episodes are also published as Lab Streaming Layer streams
(:class:`~emgspasm.sinks.lsl.LslOutlet`); without it nothing listens on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import DetectorConfig
from .detect import Detector
from .errors import ConfigError, EmgSpasmError, RecordingError
from .frames import Annotation, Episode, Frame, Gap
from .recording import COUNTS
from .sinks.background import BUFFER_S, BackgroundRecorder, DiskStall, Unwritten
from .sinks.recorder import Recorder

if TYPE_CHECKING:
    from .sinks.lsl import LslOutlet
    from .sources.ble.client import BleSource, ConnectOptions, Overflow, Resumption
    from .sources.ble.link_status import LinkStats
    from .sources.ble.profiles import DeviceProfile
    from .sources.ble.virtual import FaultPlan, SampleFeed, VirtualPeripheral

VIRTUAL = "virtual:"
VIRTUAL_KINDS = ("bridge", "myo", "ganglion")
SIMULATED_S = 600.0
"""Length of a simulated feed when no duration is given."""
SIMULATION_DEFAULTS = {"bridge": (1000.0, 2), "myo": (200.0, 8), "ganglion": (200.0, 4)}
"""Sample rate and channels of a simulated feed, per virtual sensor (the devices' own)."""
POLL_S = 0.05
NIGHT_S = 10 * 3600.0
"""Length assumed for a recording without ``duration_s`` when checking the free disk space."""
REJECTION_NOTE_S = 60.0
"""Shortest stretch of signal between two annotations counting rejected notifications."""
DEVICE_ESTIMATE = (2000.0, 2)
"""Sample rate and channels assumed for a real device before it is connected: the bridge at its
highest rate (2000 Hz), which streams more than the Myo (8 x 200 Hz) or the Ganglion (4 x 200
Hz)."""


@dataclass(frozen=True)
class SensorSpec:
    """Which sensor to record from.

    ``device``: an address or advertised name, or ``virtual:<kind>``. For a virtual sensor the
    feed is the recording ``replay`` or the simulated ``simulate`` scenario (``simulate_s``
    long, at ``fs`` Hz with ``channels`` channels, ``seed``), played at ``speed`` times real
    time (0: as fast as possible; see the module doc for how). ``drop`` (fraction of
    notifications lost), ``disconnect_at_s`` (device seconds from the first sample),
    ``outage_s`` (how long the sensor stays away after a drop) and ``garbage`` (fraction of
    notifications followed by a malformed one) are the faults it injects; ``fault_plan`` replaces
    them all with a full :class:`~emgspasm.sources.ble.virtual.FaultPlan` (loss varying over the
    night, an outage per drop, delivery delays). ``drift_ppm``: how fast the sensor's crystal
    runs; ``latency_ms``: how long the virtual bridge lets samples wait before it sends a packet
    (the firmware's ``SET_LATENCY``; None: its default of 20 ms).
    """

    device: str
    replay: str | None = None
    simulate: str | None = None
    simulate_s: float = SIMULATED_S
    fs: float | None = None
    channels: int | None = None
    seed: int = 0
    speed: float = 1.0
    drop: float = 0.0
    disconnect_at_s: tuple[float, ...] = ()
    outage_s: float = 0.5
    garbage: float = 0.0
    drift_ppm: float = 0.0
    latency_ms: int | None = None
    fault_plan: FaultPlan | None = None

    def __post_init__(self) -> None:
        if self.replay and self.simulate:
            raise ConfigError("give either --replay or --simulate, not both")
        kind = self.virtual_kind
        if kind is None:
            extras = {
                "--replay": self.replay,
                "--simulate": self.simulate,
                "--drop": self.drop,
                "--disconnect-at": self.disconnect_at_s,
                "--fs": self.fs,
                "--channels": self.channels,
                "--garbage": self.garbage,
                "drift": self.drift_ppm,
                "latency": self.latency_ms,
                "fault plan": self.fault_plan,
            }
            given = [name for name, value in extras.items() if value]
            if self.speed != 1.0:
                given.append("--speed")
            if given:
                raise ConfigError(
                    f"{', '.join(given)}: only for a virtual sensor (--device virtual:KIND), "
                    f"not for the device {self.device!r}"
                )
        elif kind not in VIRTUAL_KINDS:
            raise ConfigError(
                f"unknown virtual sensor {self.device!r}; choose one of "
                + ", ".join(VIRTUAL + k for k in VIRTUAL_KINDS)
            )
        if not (self.speed >= 0 and math.isfinite(self.speed)):
            raise ConfigError("--speed must be 0 (as fast as possible) or a positive number")
        if not 0.0 <= self.drop < 1.0:
            raise ConfigError("--drop is a fraction of notifications lost, from 0 up to 1")
        if not 0.0 <= self.garbage <= 1.0:
            raise ConfigError("--garbage is a fraction of notifications, from 0 to 1")
        if self.latency_ms is not None and kind != "bridge":
            raise ConfigError("a packet latency is a setting of the bridge only")

    @property
    def virtual_kind(self) -> str | None:
        """``bridge``, ``myo`` or ``ganglion`` for a virtual sensor, None for a real device."""
        if self.device.lower().startswith(VIRTUAL):
            return self.device[len(VIRTUAL) :].lower()
        return None

    def faults(self) -> FaultPlan:
        """The faults a virtual sensor injects."""
        from .sources.ble.virtual import FaultPlan

        if self.fault_plan is not None:
            return self.fault_plan
        return FaultPlan(
            drop_probability=self.drop,
            disconnect_at_s=tuple(self.disconnect_at_s),
            outage_s=self.outage_s,
            garbage_probability=self.garbage,
            seed=self.seed,
        )

    def feed(self, duration_s: float | None = None) -> SampleFeed:
        """What a virtual sensor plays: the replayed file or the simulated scenario (cut to
        ``duration_s`` when given)."""
        from .sources.ble.virtual import SampleFeed

        kind = self.virtual_kind
        assert kind is not None
        if self.replay:
            return SampleFeed.from_file(self.replay, duration_s)
        fs, channels = SIMULATION_DEFAULTS[kind]
        return SampleFeed.simulated(
            self.simulate or "night",
            duration_s or self.simulate_s,
            fs=self.fs or fs,
            channels=self.channels or channels,
            seed=self.seed,
        )

    def describe(self) -> str:
        kind = self.virtual_kind
        if kind is None:
            return f"device {self.device}"
        what = (
            f"replay of {Path(self.replay).name}"
            if self.replay
            else (f"simulated {self.simulate or 'night'}")
        )
        pace = f"{self.speed:g}x" if self.speed else "as fast as possible"
        return f"virtual {kind} ({what}, {pace})"


@dataclass(frozen=True)
class LinkEvent:
    """A change of the link's state: host time (event loop clock), state and its reason."""

    host_time: float
    state: str
    message: str = ""


@dataclass
class RecordSummary:
    """What a recording holds and what happened to the link."""

    path: Path
    episodes_path: Path | None
    source: str
    fs: float = 0.0
    channels: tuple[str, ...] = ()
    units: str = ""
    n_samples: int = 0
    """Samples the file spans (lost ones included)."""
    samples_received: int = 0
    gaps: list[Gap] = field(default_factory=list)
    resumptions: list[Resumption] = field(default_factory=list)
    outages_s: list[float] = field(default_factory=list)
    """Host seconds from each drop to the first samples of the reconnect (same order)."""
    episodes: list[Episode] = field(default_factory=list)
    link_events: list[LinkEvent] = field(default_factory=list)
    stats: LinkStats | None = None
    stop_reason: str = ""
    error: EmgSpasmError | None = None
    disk_stalls: list[DiskStall] = field(default_factory=list)
    """Each time the disk held the writer up (see :mod:`emgspasm.sinks.background`)."""
    unwritten: list[Unwritten] = field(default_factory=list)
    """Samples not written because too much signal already waited for the disk."""
    overflows: list[Overflow] = field(default_factory=list)
    """Samples dropped because the recorder fell behind the source."""
    rejections_noted: int = 0
    """Rejected notifications counted in the file's annotations (all of them, once finished)."""
    peak_waiting_s: float = 0.0
    """The most signal that waited in memory for the disk, in seconds."""
    sensor: VirtualPeripheral | None = None
    """The virtual sensor, with its log of what it sent and lost (None for a real device)."""

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs if self.fs else 0.0

    @property
    def samples_lost(self) -> int:
        return sum(g.length for g in self.gaps)

    @property
    def loss_percent(self) -> float:
        return 100.0 * self.samples_lost / self.n_samples if self.n_samples else 0.0

    def lines(self) -> list[str]:
        """The summary ``emgspasm record`` prints."""
        if not self.n_samples:
            return [f"{self.source}: no sample received, nothing written ({self.stop_reason})"]
        out = [
            f"{self.path.name}: {self.duration_s:.1f} s, {len(self.channels)} channel(s) at "
            f"{self.fs:g} Hz ({self.units}) from {self.source}",
            f"  samples: {self.samples_received} received, {self.samples_lost} lost "
            f"({self.loss_percent:.2f} %) in {len(self.gaps)} gap(s)",
        ]
        if self.stats is not None and self.stats.packets_lost:
            out.append(
                f"  packets lost inside connections: {self.stats.packets_lost} "
                f"({self.stats.packet_loss_percent:.2f} %)"
            )
        if self.stats is not None and self.stats.decode_errors:
            out.append(
                f"  malformed notifications rejected: {self.stats.decode_errors} (no samples in "
                "them; noted in the file)"
            )
        if self.resumptions:
            lost = sum(r.gap for r in self.resumptions)
            longest = max(self.outages_s) if self.outages_s else float("nan")
            out.append(
                f"  reconnects: {len(self.resumptions)} ({lost} samples lost across them, "
                f"longest outage {longest:.2f} s)"
            )
        else:
            out.append("  reconnects: 0")
        if self.disk_stalls:
            held = sum(s.held_s for s in self.disk_stalls)
            out.append(
                f"  disk slow {len(self.disk_stalls)} time(s): writes held up {held:.1f} s in "
                f"all, up to {self.peak_waiting_s:.0f} s of signal waited in memory"
            )
        unwritten = sum(u.samples for u in self.unwritten)
        dropped = sum(o.samples for o in self.overflows)
        if unwritten or dropped:
            out.append(
                f"  NOT RECORDED: {unwritten} samples (disk too slow), {dropped} samples "
                "(recorder behind the sensor); marked in the file"
            )
        counts = Counter(e.kind for e in self.episodes)
        listed = ", ".join(f"{k} {counts[k]}" for k in sorted(counts)) or "none"
        out.append(f"  episodes: {listed}")
        written = str(self.path) + (f" and {self.episodes_path}" if self.episodes_path else "")
        out.append(f"  written to {written} ({self.stop_reason})")
        return out


def physical_range(profile: DeviceProfile) -> list[tuple[float, float]]:
    """The values a device can send, per channel (the BDF+ file's 24 bits span them).

    The bridge: its ADC codes ``0 .. 2**bits - 1`` minus the zero code, times its scale; the
    Myo: int8 counts; the Ganglion: 24-bit counts times its µV per count; the MyoWare shield:
    its 12-bit ADC in counts, or the 3.3 V it spans in mV. A device this does not know gets a
    wide range; values outside a range are clipped and marked by the writer, never lost.
    """
    from .sources.ble.profiles import BridgeProfile, GanglionProfile, MyoProfile, MyoWareProfile
    from .sources.ble.profiles.ganglion import UV_PER_COUNT
    from .sources.ble.profiles.myoware import ADC_MAX, ADC_VOLTS

    n = len(profile.channels)
    if isinstance(profile, BridgeProfile):
        info = profile.info
        scale = info.nv_per_count / 1000.0 if info.nv_per_count > 0 else 1.0
        top = (1 << info.adc_bits) - 1
        return [((0 - info.zero_code) * scale, (top - info.zero_code) * scale)] * n
    if isinstance(profile, MyoProfile):
        return [(-128.0, 127.0)] * n
    if isinstance(profile, GanglionProfile):
        return [(-(1 << 23) * UV_PER_COUNT, ((1 << 23) - 1) * UV_PER_COUNT)] * n
    if isinstance(profile, MyoWareProfile):
        limit = ADC_VOLTS * 1000.0 if profile.millivolts else float(ADC_MAX)
        return [(-limit, limit)] * n
    return [(-1e6, 1e6)] * n


def warm_up(config: DetectorConfig | None) -> None:
    """Run the detector once on a little noise, so that loading its compiled kernels does not
    hold up the first packets of a live stream."""
    rng = np.random.default_rng(0)
    detector = Detector(config)
    samples = rng.normal(0.0, 10.0, (1500, 1)).astype(np.float32)
    detector.process(Frame(samples, 0, 1000.0, ("warm-up",)))
    detector.flush()


@contextlib.asynccontextmanager
async def open_sensor(
    spec: SensorSpec,
    *,
    duration_s: float | None = None,
    connect: ConnectOptions | None = None,
) -> AsyncIterator[tuple[BleSource, VirtualPeripheral | None]]:
    """The Bluetooth source for ``spec`` (and the virtual sensor behind it, if any), closed on
    exit. A virtual sensor is started on a new in-process link, playing from its first sample
    once the host starts the stream, at its nominal rate on the running loop's clock."""
    from .sources.ble.client import BleSource
    from .sources.ble.discovery import DeviceTarget

    kind = spec.virtual_kind
    if kind is None:
        source = BleSource(spec.device, connect=connect)
        try:
            yield source, None
        finally:
            await source.close()
        return

    from .sources.ble.bumble_link import VirtualRadio
    from .sources.ble.virtual import start_virtual_sensor

    feed = spec.feed(duration_s)
    options: dict[str, Any] = {"drift_ppm": spec.drift_ppm}
    if kind == "myo" and all(unit == COUNTS for unit in feed.recording.units):
        options["counts_per_unit"] = 1.0  # a Myo recording replayed as it was measured
    if spec.latency_ms is not None:
        options["latency_ms"] = spec.latency_ms
    radio = VirtualRadio()
    sensor = await start_virtual_sensor(
        kind,
        radio,
        feed,
        faults=spec.faults(),
        play_from_start=True,
        **options,
    )
    try:
        source = BleSource(
            DeviceTarget(address=sensor.address, name=sensor.name),
            connect=connect,
            **radio.bleak_backends(),
        )
        try:
            yield source, sensor
        finally:
            await source.close()
    finally:
        await sensor.close()


def _check_outputs(out: Path, episodes: Path | None) -> None:
    """Refuse outputs that cannot be written before connecting to anything (RecordingError).

    Writing is tried rather than guessed from permission bits (which say nothing about a
    read-only file system, or about what the administrator may do): an existing file is opened
    for writing without being changed, a new one is tried as a temporary file beside it.
    """
    for path in (out, episodes):
        if path is None:
            continue
        if path.parent.exists() and not path.parent.is_dir():
            raise RecordingError(f"{path}: {path.parent} is not a folder")
        if not path.parent.is_dir():
            raise RecordingError(f"{path}: its folder {path.parent} does not exist")
        if path.is_dir():
            raise RecordingError(f"{path} is a folder")
        try:
            if path.exists():
                os.close(os.open(path, os.O_WRONLY))
            else:
                fd, probe = tempfile.mkstemp(prefix=".emgspasm-", dir=path.parent)
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise RecordingError(f"{path}: cannot be written ({exc.strerror or exc})") from None
    if episodes is not None and out.resolve() == episodes.resolve():
        raise RecordingError("the recording and the episode log must be different files")


def bdf_size(fs: float, channels: int, duration_s: float) -> int:
    """Bytes of a BDF+ file as :class:`~emgspasm.sinks.recorder.Recorder` writes it: the
    header, then ``channels x fs x 3`` bytes per second in whole data records, each with its
    annotation space."""
    from .io.bdf_writer import ANNOTATION_SAMPLES, record_layout

    per_record, record_s = record_layout(fs)
    records = max(1, math.ceil(duration_s / float(record_s)))
    return 256 * (channels + 2) + records * 3 * (channels * per_record + ANNOTATION_SAMPLES)


def free_disk_bytes(folder: Path) -> int:
    """Bytes a user may still write in ``folder``'s file system."""
    return shutil.disk_usage(folder).free


@dataclass(frozen=True)
class SizePlan:
    """What the free-space check assumes: layout, length and whether they are only estimates."""

    fs: float
    channels: int
    duration_s: float
    estimated: bool = False

    @property
    def bytes(self) -> int:
        return bdf_size(self.fs, self.channels, self.duration_s)

    def describe(self) -> str:
        hours = self.duration_s / 3600.0
        length = (
            f"{hours:.1f}".removesuffix(".0") + " h" if hours >= 1 else f"{self.duration_s:.0f} s"
        )
        guess = ", assumed until the sensor says" if self.estimated else ""
        return f"{self.channels} channel(s) at {self.fs:g} Hz{guess}, for {length}"


def size_plan(spec: SensorSpec, duration_s: float | None) -> SizePlan:
    """The layout and length of the recording ``spec`` will make, as known before connecting."""
    kind = spec.virtual_kind
    if kind is None:
        fs, channels = DEVICE_ESTIMATE
        return SizePlan(fs, channels, duration_s or NIGHT_S, estimated=True)
    if spec.replay:
        from .io import open_recording

        header = open_recording(spec.replay).header
        length = header.duration_s if duration_s is None else min(duration_s, header.duration_s)
        return SizePlan(header.fs, len(header.channels), length)
    fs, channels = SIMULATION_DEFAULTS[kind]
    return SizePlan(spec.fs or fs, spec.channels or channels, duration_s or spec.simulate_s)


def check_disk_space(out: Path, plan: SizePlan) -> None:
    """RecordingError when ``out``'s file system has not room for the recording ``plan``
    describes (an existing ``out``, which will be replaced, counts as room)."""
    needed = plan.bytes
    available = free_disk_bytes(out.parent)
    with contextlib.suppress(OSError):
        if out.is_file():
            available += out.stat().st_size
    if needed > available:
        raise RecordingError(
            f"{out}: not enough free disk space: about {_bytes(needed)} needed "
            f"({plan.describe()}), {_bytes(available)} available in {out.parent}"
        )


def _bytes(n: int) -> str:
    """A size for people: ``532 MB``, ``1.2 GB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} bytes"


def episode_line(episode: Episode) -> str:
    """The line ``emgspasm record`` prints for an episode as it becomes final."""
    return (
        f"episode: {episode.kind} on {episode.channel} at {episode.onset_s:.3f}-"
        f"{episode.offset_s:.3f} s (detected at {episode.detected_s:.3f} s)"
    )


async def record_session(
    spec: SensorSpec,
    out: str | Path,
    *,
    config: DetectorConfig | None = None,
    episodes: str | Path | None = None,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    connect: ConnectOptions | None = None,
    on_event: Callable[[str], None] | None = None,
    lsl: bool | LslOutlet = False,
    buffer_s: float = BUFFER_S,
) -> RecordSummary:
    """Record from ``spec`` into ``out`` (BDF+) and ``episodes`` (episode log); see module doc.

    The pace of a virtual sensor is that of the running event loop (``spec.speed`` is applied by
    :func:`record`, which chooses the loop).

    ``duration_s``: stop after that much stream time (sample index, lost samples included).
    ``stop``: set it to end the recording (cleanly, as Ctrl-C does). ``connect``: timing of
    finding, connecting and reconnecting. ``on_event``: called with a line for each link state
    change, reconnect and final episode, as it happens. ``lsl``: also publish the stream on Lab
    Streaming Layer (True: a new :class:`~emgspasm.sinks.lsl.LslOutlet`, closed at the end; or
    an outlet to use, which its owner closes). ``buffer_s``: seconds of signal that may wait in
    memory while the disk is slow (see :mod:`emgspasm.sinks.background`).

    Raises the source's error (DeviceError, ProtocolError) when it stops before any sample
    arrived; later errors are returned in :attr:`RecordSummary.error` after the files are
    finished. ConfigError and RecordingError for bad options, unwritable files and too little
    free disk space; DeviceError when ``lsl`` is asked for and liblsl is missing.
    """
    out = Path(out)
    episodes_path = Path(episodes) if episodes is not None else None
    if duration_s is not None and not duration_s > 0:
        raise ConfigError("--duration must be positive")
    _check_outputs(out, episodes_path)
    plan = size_plan(spec, duration_s)
    check_disk_space(out, plan)
    outlet: LslOutlet | None = None
    if lsl is True:
        from .sinks.lsl import LslOutlet

        outlet = LslOutlet(name="emgspasm", source_id=f"emgspasm-record-{spec.device}")
    elif lsl:
        outlet = lsl
    try:
        return await _record(
            spec,
            out,
            episodes_path,
            config,
            duration_s,
            stop,
            connect,
            on_event,
            plan,
            outlet,
            buffer_s,
        )
    finally:
        if outlet is not None and lsl is True:
            outlet.close()


async def _record(
    spec: SensorSpec,
    out: Path,
    episodes_path: Path | None,
    config: DetectorConfig | None,
    duration_s: float | None,
    stop: asyncio.Event | None,
    connect: ConnectOptions | None,
    on_event: Callable[[str], None] | None,
    plan: SizePlan,
    outlet: LslOutlet | None,
    buffer_s: float = BUFFER_S,
) -> RecordSummary:
    """The recording itself, once the options are checked (see :func:`record_session`)."""
    warm_up(config)
    stop = stop or asyncio.Event()
    say = on_event or (lambda _line: None)
    summary = RecordSummary(out, episodes_path, spec.describe())
    loop = asyncio.get_running_loop()

    def request_stop(reason: str) -> None:
        if not summary.stop_reason:
            summary.stop_reason = reason
        stop.set()

    async with open_sensor(spec, duration_s=duration_s, connect=connect) as (source, sensor):
        summary.sensor = sensor
        drops: list[float] = []

        def on_status(status: Any) -> None:
            state = status.state.value
            events = summary.link_events
            previous = events[-1].state if events else None
            if state == previous:
                return
            events.append(LinkEvent(loop.time(), state, status.message))
            if previous == "streaming":
                drops.append(loop.time())
            if state != "failed":  # the error itself is reported once, by the caller
                say(_status_line(status, source))

        source.monitor.subscribe(on_status)

        async def close_when_asked() -> None:
            await stop.wait()
            await source.close()

        async def watch_feed() -> None:
            assert sensor is not None
            while not stop.is_set():
                if sensor.done and source.stats.packets_received >= sensor.log.delivered_count():
                    request_stop("the virtual sensor's feed is over")
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL_S)

        helpers = [asyncio.ensure_future(close_when_asked())]
        if sensor is not None:
            helpers.append(asyncio.ensure_future(watch_feed()))
        session = _Session(summary, config, duration_s, source, drops, say, plan, outlet, buffer_s)
        try:
            async for frame in source:
                if session.take(frame):
                    # also when the end of a feed was noticed first: the duration is the reason
                    summary.stop_reason = "duration reached"
                    stop.set()
        except EmgSpasmError as exc:
            summary.error = exc
            request_stop(f"failed: {exc}")
        finally:
            if not summary.stop_reason:
                summary.stop_reason = "stopped by the user" if stop.is_set() else "interrupted"
            stop.set()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            session.finish()
            summary.stats = source.stats
    if summary.error is not None and not summary.n_samples:
        raise summary.error
    return summary


class _Session:
    """The per-frame work of :func:`record_session`: detector, recorder, link marks."""

    def __init__(
        self,
        summary: RecordSummary,
        config: DetectorConfig | None,
        duration_s: float | None,
        source: BleSource,
        drops: list[float],
        say: Callable[[str], None],
        plan: SizePlan | None = None,
        outlet: LslOutlet | None = None,
        buffer_s: float = BUFFER_S,
    ) -> None:
        self.summary = summary
        self.buffer_s = buffer_s
        self.plan = plan
        self.outlet = outlet
        self.config = config
        self.duration_s = duration_s
        self.source = source
        self.drops = drops
        self.say = say
        self.detector = Detector(config)
        self.recorder: BackgroundRecorder | None = None
        self.end: int | None = None
        self._resumed = 0
        self._quality = 0
        self._connected = False
        self._overflows = 0
        self._stalls = 0
        self._unwritten = 0
        self._rejections = 0
        self._rejection_noted_at: int | None = None

    def take(self, frame: Frame) -> bool:
        """Record and detect one Frame; True once the duration is reached."""
        if self.recorder is None:
            self._open(frame)
        assert self.recorder is not None
        if self.end is not None:
            if frame.start >= self.end:
                return True
            if frame.stop > self.end:
                keep = self.end - frame.start
                frame = Frame(
                    frame.samples[:keep], frame.start, frame.fs, frame.channels, frame.gap_before
                )
        self._mark_resumption(frame)
        self._mark_overflows(frame.start)
        self.recorder.write(frame)
        if self.outlet is not None:
            self.outlet.write(frame)
        self._mark_connected()
        self._note_rejections(frame.start)
        self._note_writer()
        found = self.detector.process(frame)
        if self.outlet is not None:
            self.outlet.note_ongoing(self.detector.ongoing)
        self._episodes(found)
        return self.end is not None and frame.stop >= self.end

    def _mark(self, index: int, text: str, length: int = 0, channel: str | None = None) -> None:
        """Annotate the recording (and send the mark on LSL, when published there)."""
        assert self.recorder is not None
        self.recorder.mark(index, text, length, channel)
        if self.outlet is not None:
            fs = self.recorder.fs
            self.outlet.annotate(Annotation(index / fs, length / fs, text, channel))

    def _mark_connected(self, final: bool = False) -> None:
        """``connected <name> <address> (<profile>)`` at the first sample, once the link status
        names the device (the first samples may arrive just before it is published)."""
        if self._connected or self.recorder is None or self.recorder.origin is None:
            return
        status = self.source.status
        who = " ".join(x for x in (status.device_name, status.device_address) if x)
        if not who and not final:
            return
        who = who or str(self.source.target)
        profile = self.source.profile.name if self.source.profile is not None else "?"
        self._mark(self.recorder.origin, _text(f"connected {who} ({profile})"))
        self._connected = True

    def _open(self, frame: Frame) -> None:
        profile = self.source.profile
        assert profile is not None
        units = (profile.units,) * len(profile.channels)
        if self.plan is not None:  # now the layout is known: the exact size
            exact = SizePlan(frame.fs, len(frame.channels), self.plan.duration_s)
            if (exact.fs, exact.channels) != (self.plan.fs, self.plan.channels):
                check_disk_space(self.summary.path, exact)
        if self.outlet is not None:
            self.outlet.open(frame.fs, frame.channels, units)
        self.recorder = BackgroundRecorder(
            Recorder(
                self.summary.path,
                frame.fs,
                frame.channels,
                units,
                physical_range(profile),
                episodes=self.summary.episodes_path,
                start_time=datetime.now().replace(microsecond=0),
            ),
            buffer_s=self.buffer_s,
        )
        origin = frame.start - frame.gap_before
        if self.duration_s is not None:
            self.end = origin + max(1, round(self.duration_s * frame.fs))
        s = self.summary
        s.fs, s.channels, s.units = frame.fs, tuple(frame.channels), profile.units

    def _mark_resumption(self, frame: Frame) -> None:
        assert self.recorder is not None
        found = self.source.resumptions
        while self._resumed < len(found) and found[self._resumed].start <= frame.start:
            resumed = found[self._resumed]
            self._resumed += 1
            # (a resumption whose first Frame the source had to drop is still marked: its place
            # in the stream is known)
            before = [t for t in self.drops if t <= resumed.host_time]
            outage = resumed.host_time - before[-1] if before else float("nan")
            self.summary.resumptions.append(resumed)
            self.summary.outages_s.append(outage)
            self._mark(resumed.start - resumed.gap, "disconnected")
            text = f"reconnected after {outage:.2f} s, {resumed.gap} samples lost"
            self._mark(resumed.start, text)
            self.say(text)

    def _mark_overflows(self, before: int | None = None) -> None:
        """Mark the runs of samples the source dropped because this session fell behind, each
        once it is over (it ends before ``before``; None: at the end, all of them)."""
        found = self.source.overflows
        while self._overflows < len(found):
            run = found[self._overflows]
            if before is not None and run.stop > before:
                return
            self._overflows += 1
            text = f"dropped: the recorder fell behind the sensor, {run.samples} samples not kept"
            self._mark(run.start, text, run.stop - run.start)
            self.summary.overflows.append(run)
            self.say(text)

    def _note_rejections(self, index: int, final: bool = False) -> None:
        """Annotate the notifications the decoder refused since the last such note (at most
        once per :data:`REJECTION_NOTE_S` of signal; all of them at the end)."""
        assert self.recorder is not None
        count = self.source.stats.decode_errors
        new = count - self._rejections
        if not new:
            return
        at = self._rejection_noted_at
        if not final and at is not None and index - at < REJECTION_NOTE_S * self.recorder.fs:
            return
        reason = self.source.last_rejection
        self._mark(index, _text(f"rejected {new} malformed notification(s) (latest: {reason})"))
        self._rejections = count
        self._rejection_noted_at = index
        self.summary.rejections_noted = count
        if at is None:
            self.say(f"rejected a malformed notification: {reason}")

    def _note_writer(self) -> None:
        """Say what the writer reported: slow-disk episodes, samples it could not take."""
        assert self.recorder is not None
        stalls = self.recorder.stalls
        while self._stalls < len(stalls):
            self.say(stalls[self._stalls].describe(self.recorder.fs))
            self._stalls += 1
        unwritten = self.recorder.unwritten
        if len(unwritten) > self._unwritten:
            self._unwritten = len(unwritten)
            self.say(
                f"the disk is too slow: {self.recorder.buffer_s:g} s of signal wait to be "
                f"written; samples from {unwritten[-1].start / self.recorder.fs:.1f} s on are "
                "not written until it catches up"
            )

    def _episodes(self, found: list[Episode]) -> None:
        assert self.recorder is not None
        self.recorder.add_episodes(found)
        if self.outlet is not None:
            self.outlet.add_episodes(found)
        for episode in found:
            self.say(episode_line(episode))
        quality = self.detector.quality
        for segment in quality[self._quality :]:
            if segment.kind == "flat":
                self._mark(
                    segment.start, "flat line", segment.stop - segment.start, segment.channel
                )
        self._quality = len(quality)

    def finish(self) -> None:
        """Flush the detector, mark the end and close the files (whatever ended the run)."""
        recorder = self.recorder
        if recorder is None:
            return
        try:
            self._mark_connected(final=True)
            self._episodes(self.detector.flush())
            self._mark_overflows()
            self._note_rejections(recorder.stop, final=True)
            self._mark(recorder.stop, _text(f"recording stopped ({self.summary.stop_reason})"))
        finally:
            recorder.close()
        self._note_writer()
        s = self.summary
        s.disk_stalls = list(recorder.stalls)
        s.unwritten = list(recorder.unwritten)
        s.peak_waiting_s = recorder.peak_waiting / recorder.fs
        s.n_samples = recorder.n_samples
        s.samples_received = recorder.samples_received
        s.gaps = list(recorder.gaps)
        s.episodes = list(recorder.episodes)


def _status_line(status: Any, source: BleSource) -> str:
    """One line for a change of the link's state."""
    state = status.state.value
    reason = f" ({status.message})" if status.message else ""
    if state == "connecting":
        return f"connecting to {source.target}{reason}"
    if state == "streaming":
        who = " ".join(x for x in (status.device_name, status.device_address) if x)
        return (
            f"streaming from {who}: {status.profile}, {status.fs:g} Hz, "
            f"{len(status.channels)} channel(s)"
        )
    if state == "reconnecting":
        why = "" if status.message in ("", "link lost") else reason
        return f"link lost{why}; reconnecting"
    return f"link {state}{reason}"


def _text(text: str, limit: int = 160) -> str:
    """An annotation text that fits a BDF+ record (device names may be long)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def record(
    spec: SensorSpec,
    out: str | Path,
    *,
    config: DetectorConfig | None = None,
    episodes: str | Path | None = None,
    duration_s: float | None = None,
    connect: ConnectOptions | None = None,
    on_event: Callable[[str], None] | None = None,
    lsl: bool = False,
) -> RecordSummary:
    """Run :func:`record_session` on a new event loop, Ctrl-C (SIGINT) ending it cleanly.

    For a virtual sensor the loop's clock runs ``spec.speed`` times faster than real time
    (virtual time for 0). A second Ctrl-C while the files are being finished interrupts at once.
    """
    from .sources.ble.virtual.virtual_time import ScaledTimeLoop, VirtualTimeLoop, run_on

    async def main() -> RecordSummary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled = False
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, _once(loop, stop))
            handled = True
        try:
            return await record_session(
                spec,
                out,
                config=config,
                episodes=episodes,
                duration_s=duration_s,
                stop=stop,
                connect=connect,
                on_event=on_event,
                lsl=lsl,
            )
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)

    loop: asyncio.AbstractEventLoop
    if spec.virtual_kind is None or spec.speed == 1.0:
        loop = asyncio.new_event_loop()
    elif spec.speed == 0:
        loop = VirtualTimeLoop()
    else:
        loop = ScaledTimeLoop(spec.speed)
    return run_on(loop, main())


def _once(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Callable[[], None]:
    """The first Ctrl-C asks the recording to stop; the handler then steps aside."""

    def handler() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    return handler


def sensor_spec(
    device: str | None,
    *,
    replay: str | None = None,
    simulate: str | None = None,
    speed: float = 1.0,
    drop: float = 0.0,
    disconnect_at_s: Sequence[float] = (),
    outage_s: float = 0.5,
    fs: float | None = None,
    channels: int | None = None,
    seed: int = 0,
    garbage: float = 0.0,
) -> SensorSpec:
    """A :class:`SensorSpec` from command-line options; without ``device``, a replay or a
    simulation plays on a virtual bridge."""
    if device is None:
        if not (replay or simulate):
            raise ConfigError(
                "give --device ADDRESS|NAME, or --replay FILE / --simulate SCENARIO for a "
                "virtual sensor"
            )
        device = VIRTUAL + "bridge"
    return SensorSpec(
        device,
        replay=replay,
        simulate=simulate,
        fs=fs,
        channels=channels,
        seed=seed,
        speed=speed,
        drop=drop,
        disconnect_at_s=tuple(disconnect_at_s),
        outage_s=outage_s,
        garbage=garbage,
    )
