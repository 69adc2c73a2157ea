"""A threat event: a confirmed handgun on one camera, from confirmation until it has been gone a while.

Events are values: a change (a higher score, a snapshot written, the close) is a new `ThreatEvent` made with
`dataclasses.replace`, never an edit of one that was handed on. The pipeline publishes each version to other
threads (the store's writer, alerts, the console), so a version once published stays as it was.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

EventState = Literal["open", "updated", "closed"]
Box = tuple[float, float, float, float]


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Evidence:
    """Files kept for an event (paths as strings, relative to where gunwatch runs, or absolute)."""

    snapshot: str | None = None  # the best frame, clean JPEG
    annotated: str | None = None  # the best frame with boxes drawn, JPEG
    clip: str | None = None  # MP4 with pre-roll before confirmation and post-roll after

    def merged(self, newer: Evidence) -> Evidence:
        """These files, with those `newer` names replacing them (a file it leaves out is kept)."""
        return Evidence(newer.snapshot or self.snapshot, newer.annotated or self.annotated, newer.clip or self.clip)


@dataclass(frozen=True)
class ThreatEvent:
    """Times are wall-clock epoch seconds (time.time()); boxes are xyxy pixels of the analysed frame."""

    camera: str
    state: EventState
    first_seen: float  # the first frame of the confirming track that held the gun
    confirmed_at: float  # when the track met the confirmation rule (the event opened)
    last_seen: float  # the latest frame that held the gun
    max_score: float
    best_box: Box  # the box at max_score
    zone: str | None = None  # the zone the gun was in (None: whole frame counts)
    track_id: int | None = None
    boxes: tuple[Box, ...] = ()  # all gun boxes of the best frame
    first_pts: float | None = None  # stream timestamp of the first gun frame (latency is measured from it)
    closed_at: float | None = None
    evidence: Evidence = field(default_factory=Evidence)
    id: str = field(default_factory=new_event_id)

    def __post_init__(self) -> None:
        # Callers (the store, tests) may pass lists: kept as tuples, so no holder of this value can change it.
        object.__setattr__(self, "best_box", _box(self.best_box))
        object.__setattr__(self, "boxes", tuple(_box(box) for box in self.boxes))


def _box(values: tuple[float, ...] | list[float]) -> Box:
    x1, y1, x2, y2 = values
    return (x1, y1, x2, y2)
