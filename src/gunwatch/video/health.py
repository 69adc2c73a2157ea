"""Camera health: whether a camera delivers frames, and every change of that with its reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

# online: frames arrive. offline: no connection (refused, unreachable, ended, unreadable).
# stalled: connected, yet no frame for `health.stall_after_s` seconds.
# stopped: nobody watches it: `gunwatch watch` stopped, or crashed (recorded by the next start). Sources
# never report it; the store records it for them.
CameraState = Literal["online", "offline", "stalled", "stopped"]
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
