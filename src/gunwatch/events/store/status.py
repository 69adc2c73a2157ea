"""What the store says about cameras: their current state and their recent health changes."""

from __future__ import annotations

from dataclasses import dataclass, field

# One health-change type for the whole product: the store hands back what the sources report.
from gunwatch.video.health import CameraState, HealthChange


@dataclass(frozen=True)
class CameraStatus:
    """A camera as stored: `state` is None until its first health record; `recent` is newest first."""

    name: str
    url: str | None  # redacted
    kind: str | None
    state: CameraState | None
    reason: str | None
    state_at: float | None
    updated_at: float
    recent: list[HealthChange] = field(default_factory=list)
