"""Detector configuration: one dataclass, named profiles, TOML in and out.

Every duration is given in seconds and every level as a multiple of the recording's own resting
level, so one configuration works at any sample rate (200 Hz to 4 kHz) and in any unit.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import tomli_w

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAINS_CHOICES = ("auto", "50", "60", "off")


@dataclass(frozen=True)
class DetectorConfig:
    """Parameters of the Detector. Defaults are the ``night`` profile."""

    profile: str = "night"
    # Pre-filter: surface-EMG band, narrowed automatically below 1 kHz sampling.
    band_low_hz: float = 20.0
    band_high_hz: float = 450.0
    band_order: int = 2
    # Mains interference: "auto" looks at the first second of the stream.
    mains: str = "auto"
    mains_harmonics: int = 3
    """Highest odd harmonic of the mains frequency that gets its own notch."""
    notch_q: float = 8.0
    # Envelope and resting baseline.
    envelope_window_s: float = 0.05
    baseline_tau_s: float = 30.0
    """Time constant with which the resting level follows slow changes at rest."""
    baseline_startup_s: float = 1.0
    """Opening span in which the resting level is learnt quickly and nothing is detected."""
    baseline_creep_tau_s: float = 1800.0
    """Time constant of the slow rise allowed during activity (absorbs a lasting change of noise
    floor without adapting away a cramp of several minutes)."""
    # Sustained involuntary contraction (spasm).
    on_ratio: float = 4.0
    """Envelope level, as a multiple of resting RMS, at which activity starts."""
    off_ratio: float = 2.5
    """Envelope level below which activity has stopped (hysteresis)."""
    onset_ratio: float = 1.5
    """Level the onset is traced back to: the last moment the envelope was this close to rest."""
    min_duration_s: float = 2.0
    max_dropout_s: float = 0.5
    """Longest relaxation tolerated inside one spasm."""
    min_active_fraction: float = 0.7
    # Fasciculation: an isolated single motor-unit potential at rest.
    fasc_ratio: float = 12.0
    """Peak of the filtered signal, as a multiple of resting RMS, that a potential must reach."""
    fasc_max_width_s: float = 0.01
    """Widest a potential may be where it stays above half its peak: a motor-unit potential is a
    few milliseconds wide, a QRS complex after the band-pass about 55 ms."""
    fasc_guard_s: float = 0.25
    """Rest required before and after a potential for it to count as isolated."""
    activity_run_s: float = 0.1
    """A contiguous run of activity this long means the muscle is working (a twitch or a
    heartbeat raises the envelope for less)."""
    blip_gap_s: float = 0.15
    """A burst that has had no such run ends after this much quiet rather than the full dropout,
    so a heartbeat blip does not carry the onset of a later contraction back in time."""
    ecg_interval_tolerance: float = 0.08
    ecg_min_interval_s: float = 0.33
    ecg_max_interval_s: float = 1.5
    ecg_amplitude_tolerance: float = 0.2
    # Signal quality.
    flat_ratio: float = 0.05
    """Envelope below this multiple of resting RMS for ``flat_min_s`` marks a flat line."""
    flat_min_s: float = 1.0
    clip_level: float | None = None
    """Absolute raw level at or beyond which a sample counts as clipped (None: not checked)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first value that cannot work (wrong type, not finite,
        out of range)."""
        for item in fields(self):
            _check_type(item.name, getattr(self, item.name))
        if self.mains not in MAINS_CHOICES:
            raise ConfigError(
                f"mains must be one of {', '.join(MAINS_CHOICES)}, not {self.mains!r}", key="mains"
            )
        positive = (
            "band_low_hz band_high_hz notch_q envelope_window_s baseline_tau_s "
            "baseline_creep_tau_s on_ratio off_ratio onset_ratio min_duration_s fasc_ratio "
            "fasc_max_width_s activity_run_s blip_gap_s flat_ratio flat_min_s "
            "ecg_min_interval_s ecg_max_interval_s"
        ).split()
        for name in positive:
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"{name} must be a positive number, not {value!r}", key=name)
        if not self.band_low_hz < self.band_high_hz:
            raise ConfigError("band_low_hz must be below band_high_hz", key="band_low_hz")
        if not 1 <= self.band_order <= 8:
            raise ConfigError("band_order must be between 1 and 8", key="band_order")
        if not 1 <= self.mains_harmonics <= MAX_HARMONIC:
            raise ConfigError(
                f"mains_harmonics must be between 1 and {MAX_HARMONIC}", key="mains_harmonics"
            )
        if not self.off_ratio <= self.on_ratio:
            raise ConfigError("off_ratio must not exceed on_ratio", key="off_ratio")
        if not 0 < self.min_active_fraction <= 1:
            raise ConfigError("min_active_fraction must be in (0, 1]", key="min_active_fraction")
        for name in ("max_dropout_s", "fasc_guard_s", "baseline_startup_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative (durations)", key=name)
        for name in ("ecg_interval_tolerance", "ecg_amplitude_tolerance"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1] (a fraction)", key=name)
        if not self.ecg_min_interval_s < self.ecg_max_interval_s:
            raise ConfigError(
                "ecg_min_interval_s must be below ecg_max_interval_s", key="ecg_min_interval_s"
            )
        if self.clip_level is not None and not self.clip_level > 0:
            raise ConfigError("clip_level must be positive when given", key="clip_level")

    def replace(self, **changes: Any) -> DetectorConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in out.items() if v is not None}

    def to_toml(self, path: str | Path) -> None:
        Path(path).write_text(tomli_w.dumps({"detector": self.to_dict()}))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            hints = [
                f"{key} (did you mean {close[0]}?)" if close else key
                for key in unknown
                for close in [difflib.get_close_matches(key, known, n=1)]
            ]
            raise ConfigError(f"unknown configuration keys: {', '.join(hints)}", key=unknown[0])
        chosen = data.get("profile", "night")
        if not isinstance(chosen, str):
            raise ConfigError(f"profile must be text, not {chosen!r}", key="profile")
        base = profile(chosen)
        try:
            return dataclasses.replace(base, **data)
        except TypeError as exc:  # pragma: no cover - guarded by the key check
            raise ConfigError(str(exc)) from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> DetectorConfig:
        """Read a configuration file: a ``[detector]`` table (or bare keys) of
        :class:`DetectorConfig` fields. Errors name the file and, where known, the line."""
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}: not valid TOML (byte {exc.start} is not UTF-8 text)"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        section = data.get("detector", data)
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [detector] must be a table")
        try:
            return cls.from_dict(section)
        except ConfigError as exc:
            line = _line_of(text, exc.key) if exc.key else None
            where = f"{path}, line {line}" if line else str(path)
            raise ConfigError(f"{where}: {exc}", key=exc.key) from None


MAX_HARMONIC = 15
_TEXT = ("profile", "mains")
_WHOLE = ("band_order", "mains_harmonics")
_OPTIONAL = ("clip_level",)


def _check_type(name: str, value: object) -> None:
    """Raise ConfigError unless ``value`` has the kind a field ``name`` needs."""
    if name in _TEXT:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, not {value!r}", key=name)
    elif value is None and name in _OPTIONAL:
        return
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        kind = "a whole number" if name in _WHOLE else "a number"
        raise ConfigError(f"{name} must be {kind}, not {value!r}", key=name)
    elif name in _WHOLE and not isinstance(value, numbers.Integral):
        raise ConfigError(f"{name} must be a whole number, not {value!r}", key=name)
    elif not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, not {value!r}", key=name)


def _line_of(text: str, key: str) -> int | None:
    """The line (from 1) of a TOML text that sets ``key``, if one does."""
    found = re.search(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else None


PROFILES: dict[str, DetectorConfig] = {
    "night": DetectorConfig(),
    "training": DetectorConfig(
        profile="training",
        envelope_window_s=0.03,
        min_duration_s=1.5,
        max_dropout_s=0.15,
        min_active_fraction=0.8,
    ),
}


def profile(name: str) -> DetectorConfig:
    """The named profile (``night`` or ``training``)."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}"
        ) from None
