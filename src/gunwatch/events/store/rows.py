"""`ThreatEvent` to table values and back: the one place that knows how an event is laid out in the store."""

from __future__ import annotations

from typing import Any, cast

from gunwatch.events.model import EventState, Evidence, ThreatEvent
from gunwatch.events.store.schema import EventRow

Box = tuple[float, float, float, float]


def event_values(event: ThreatEvent, now: float) -> dict[str, Any]:
    """The row of `event`; `now` becomes both created_at and updated_at (an update keeps the first)."""
    return {
        "id": event.id,
        "camera": event.camera,
        "zone": event.zone,
        "state": event.state,
        "max_score": float(event.max_score),
        # float(): numpy scalars from the detector are not JSON-serialisable.
        "best_box": [float(v) for v in event.best_box],
        "boxes": [[float(v) for v in box] for box in event.boxes],
        "first_seen": event.first_seen,
        "confirmed_at": event.confirmed_at,
        "last_seen": event.last_seen,
        "closed_at": event.closed_at,
        "first_pts": event.first_pts,
        "track_id": None if event.track_id is None else int(event.track_id),
        "snapshot": event.evidence.snapshot,
        "annotated": event.evidence.annotated,
        "clip": event.evidence.clip,
        "created_at": now,
        "updated_at": now,
    }


def event_from_row(row: EventRow) -> ThreatEvent:
    return ThreatEvent(
        id=row.id,
        camera=row.camera,
        zone=row.zone,
        state=cast(EventState, row.state),
        max_score=row.max_score,
        best_box=_box(row.best_box),
        boxes=[_box(box) for box in row.boxes],
        first_seen=row.first_seen,
        confirmed_at=row.confirmed_at,
        last_seen=row.last_seen,
        closed_at=row.closed_at,
        first_pts=row.first_pts,
        track_id=row.track_id,
        evidence=Evidence(snapshot=row.snapshot, annotated=row.annotated, clip=row.clip),
    )


def _box(values: list[float]) -> Box:
    x1, y1, x2, y2 = values
    return (x1, y1, x2, y2)
