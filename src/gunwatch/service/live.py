"""What the running pipeline shows live, as the console and metrics read it.

`gunwatch watch` provides a `LiveView` (gunwatch.pipeline.live_view); `gunwatch serve` on another machine has
none, and the console then shows health from the store only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CameraLive:
    """One camera now. Rates are over the last few seconds; counters since the watch started."""

    camera: str
    state: str  # online / stalled / offline / degraded / starting
    reason: str
    fps_in: float  # frames decoded per second
    fps_analysed: float  # frames the detector saw per second
    frames_in: int
    dropped: int  # decoded but never sampled (only the newest frame is kept)
    analysed: int
    still: int  # sampled but skipped by the motion gate
    infer_ms: float  # mean detector time per analysed frame, recent
    top_score: float  # the highest gun score in the last few seconds, below the threshold or not (an "almost")
    threshold: float  # the score a gun box must reach to count
    events: int
    restarts: int

    @property
    def motion_share(self) -> float:
        """The share of sampled frames that had motion (and went to the detector)."""
        sampled = self.analysed + self.still
        return self.analysed / sampled if sampled else 0.0


class LiveView(Protocol):
    def cameras(self) -> list[CameraLive]:
        """Every camera of the running watch, by name."""
        ...

    def frame_jpeg(self, camera: str) -> tuple[bytes, float] | None:
        """The newest analysed frame of `camera` as a JPEG with the boxes that count drawn, and its wall-clock
        time; None when the camera has no frame yet or is unknown."""
        ...
