"""Camera health: whether a camera delivers frames, and every change of that with its reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

# online: frames arrive. offline: no connection (refused, unreachable, ended, unreadable).
# stalled: connected, yet no frame comes through: none for `health.stall_after_s` seconds, or (the watchdog's
# word) its reader or a detector call with its frame hung and was restarted or abandoned.
# stopped: nobody watches it: `gunwatch watch` stopped, or crashed (recorded by the next start). Sources
# never report it; the store records it for them.
# degraded: watched and alerting, but a part of its evidence failed: its clip encoder hung and was restarted by
# the watchdog (the clip is lost). Reported by the watchdog, followed by the state it is in once restarted.
CameraState = Literal["online", "offline", "stalled", "stopped", "degraded"]
CAMERA_STATES: tuple[CameraState, ...] = get_args(CameraState)


@dataclass(frozen=True)
class HealthChange:
    """A camera entered `state`; `reason` says why in words ("connection refused", "no frame for 10 s")."""

    camera: str
    state: CameraState
    reason: str  # never holds a URL: it may carry a password
    at: float  # wall-clock time (time.time())

    def __str__(self) -> str:
        return f"{self.camera}: {self.state} ({self.reason})"


HealthCallback = Callable[[HealthChange], None]
