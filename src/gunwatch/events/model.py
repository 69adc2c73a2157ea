"""A threat event: a confirmed handgun on one camera, from confirmation until it has been gone a while."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

EventState = Literal["open", "updated", "closed"]


def new_event_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Evidence:
    """Files kept for an event (paths as strings, relative to where gunwatch runs, or absolute)."""

    snapshot: str | None = None  # the best frame, clean JPEG
    annotated: str | None = None  # the best frame with boxes drawn, JPEG
    clip: str | None = None  # MP4 with pre-roll before confirmation and post-roll after


@dataclass
class ThreatEvent:
    """Times are wall-clock epoch seconds (time.time()); boxes are xyxy pixels of the analysed frame."""

    camera: str
    state: EventState
    first_seen: float  # the first frame of the confirming track that held the gun
    confirmed_at: float  # when the track met the confirmation rule (the event opened)
    last_seen: float  # the latest frame that held the gun
    max_score: float
    best_box: tuple[float, float, float, float]  # the box at max_score
    zone: str | None = None  # the zone the gun was in (None: whole frame counts)
    track_id: int | None = None
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)  # all gun boxes of the best frame
    first_pts: float | None = None  # stream timestamp of the first gun frame (latency is measured from it)
    closed_at: float | None = None
    evidence: Evidence = field(default_factory=Evidence)
    id: str = field(default_factory=new_event_id)
