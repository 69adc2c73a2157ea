"""What the store says about cameras: their current state and their recent health changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

HealthState = Literal["online", "offline", "stalled"]


@dataclass(frozen=True)
class HealthRecord:
    """One stored health change of a camera (as `video.health.HealthChange` reports it); `at` is epoch seconds."""

    camera: str
    state: HealthState
    reason: str | None
    at: float


@dataclass(frozen=True)
class CameraStatus:
    """A camera as stored: `state` is None until its first health record; `recent` is newest first."""

    name: str
    url: str | None  # redacted
    kind: str | None
    state: HealthState | None
    reason: str | None
    state_at: float | None
    updated_at: float
    recent: list[HealthRecord] = field(default_factory=list)
