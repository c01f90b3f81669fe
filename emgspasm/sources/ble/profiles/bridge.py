"""Profile of the emgspasm bridge (our ESP32 firmware in ``firmware_bridge/``).

The stream's rate, channel count and scale come from the info characteristic, which a client
reads once after connecting (:meth:`BridgeProfile.from_info_bytes`). Every data packet carries
its sequence number and the index of its first sample, so the decoder places each packet
exactly: a lost packet or samples the device itself dropped (its ``overflow`` flag) become a gap
of exactly the missing samples, across wrap-around of both counters.

Samples are ADC codes minus the info's zero code; with a known ``nv_per_count`` they are given
in µV at the electrodes (``uV``), otherwise in ADC counts (``counts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ....errors import ProtocolError
from ....recording import COUNTS
from ..packet import DecodedPacket
from ..sequence import SequenceTracker
from .base import GattWrite, channel_names
from .bridge_control import (
    CONTROL_CHARACTERISTIC,
    DATA_CHARACTERISTIC,
    INFO_CHARACTERISTIC,
    SERVICE,
    Opcode,
    StreamInfo,
    encode_command,
)
from .bridge_wire import Flag, decode_packet, flag_names


@dataclass(frozen=True)
class BridgeProfile:
    """The emgspasm bridge, as described by its stream-info value."""

    info: StreamInfo

    name: ClassVar[str] = "emgspasm-bridge"
    service_uuid: ClassVar[str] = SERVICE
    data_characteristics: ClassVar[tuple[str, ...]] = (DATA_CHARACTERISTIC,)
    info_characteristic: ClassVar[str] = INFO_CHARACTERISTIC
    control_characteristic: ClassVar[str] = CONTROL_CHARACTERISTIC

    @classmethod
    def from_info_bytes(cls, data: bytes) -> BridgeProfile:
        """The profile for the info value read from the device."""
        return cls(StreamInfo.decode(data))

    @property
    def fs(self) -> float:
        return float(self.info.rate_hz)

    @property
    def channels(self) -> tuple[str, ...]:
        return channel_names("EMG", self.info.channels)

    @property
    def units(self) -> str:
        return "uV" if self.info.nv_per_count > 0 else COUNTS

    def start_writes(self) -> tuple[GattWrite, ...]:
        return (GattWrite(CONTROL_CHARACTERISTIC, encode_command(Opcode.START)),)

    def stop_writes(self) -> tuple[GattWrite, ...]:
        return (GattWrite(CONTROL_CHARACTERISTIC, encode_command(Opcode.STOP)),)

    def rate_write(self, rate_hz: int) -> GattWrite:
        """The write that sets the sample rate (only accepted while stopped)."""
        return GattWrite(CONTROL_CHARACTERISTIC, encode_command(Opcode.SET_RATE, rate_hz))

    def decoder(self) -> BridgeDecoder:
        return BridgeDecoder(self.info)


class BridgeDecoder:
    """Decodes one streaming session (from one START) of the bridge.

    ``extra`` of each packet holds ``lost_packets`` (counted from the sequence numbers) and
    ``codes`` (the raw ADC codes, uint16). The device's own sample index is the stream index.
    """

    def __init__(self, info: StreamInfo) -> None:
        self.info = info
        self._tracker = SequenceTracker(2**16)
        self._scale = info.nv_per_count / 1000.0 if info.nv_per_count > 0 else 1.0

    @property
    def lost_samples(self) -> int:
        """Samples missing so far (lost packets and device-side drops)."""
        return self._tracker.total_lost_samples

    def decode(
        self, data: bytes, *, characteristic: str | None = None, host_time: float | None = None
    ) -> DecodedPacket:
        packet = decode_packet(data)
        n, channels = packet.codes.shape
        if channels != self.info.channels:
            raise ProtocolError(
                f"bridge packet has {channels} channels, the device announced {self.info.channels}"
            )
        if packet.flags & Flag.STREAM_START and self._tracker.last is not None:
            raise ProtocolError("the bridge restarted its stream; start a new decoder")
        placement = self._tracker.place(packet.sequence, n, first_sample=packet.first_sample)
        samples = (packet.codes.astype(np.float32) - np.float32(self.info.zero_code)) * np.float32(
            self._scale
        )
        return DecodedPacket(
            samples=samples,
            start=placement.start,
            gap_before=placement.gap_before,
            sequence=packet.sequence,
            flags=flag_names(packet.flags),
            battery=packet.battery,
            extra={"lost_packets": placement.lost_packets, "codes": packet.codes},
        )
