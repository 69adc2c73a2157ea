"""A camera's open event when the camera changes holder (cluster mode): continued by the new holder, or closed.

When an agent takes a camera under its lease (`take_over`, before the camera's first frame), the event its
previous holder left open in the store is either adopted, to be continued under the same id by the camera's
confirmer (`ThreatConfirmer.adopt`: updates, evidence and alerts stay one event), or, too old to be the
episode still in view, closed with an audit entry saying why.

The window: close_after_s + cluster.restart_bound_s. Had the camera not moved, its event would have closed
close_after_s after the gun's last sighting; a move keeps the camera dark at most the failover bound
(restart_bound_s) between its old holder's last frame and its new holder's first. An event fresher than that
may be the gun still in view; an older one cannot (a watch that stopped long ago left it) and is closed. Its
age counts from the later of the gun's last sighting as stored and the previous holder's last lease renewal:
the stored last_seen alone understates, as the confirmer stores a version only when the score rises (a gun
held a minute at one score keeps an old last_seen), while a holder renewing its lease was watching the camera,
and its event was open then (an event it closed would be stored closed, bar the last writes it had queued).

A camera removed from the site file while its node was lost has no holder to close its open event: the
supervisor `retire`s it once it can take the camera's lease itself (the lost node's has lapsed, so nothing of
that node can land afterwards: its writes are fenced by that lease).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from gunwatch.events.store.rows import event_from_row
from gunwatch.events.store.runs import OPEN_STATES, close_event_row
from gunwatch.events.store.schema import AuditRow, EventRow

if TYPE_CHECKING:
    from collections.abc import Collection

    from gunwatch.events.model import ThreatEvent
    from gunwatch.events.store import EventStore

ACTOR = "cluster"  # the audit log's actor for what a camera's move does to its event
CLOSED_AT_MOVE = "closed at a camera move: too old to continue on the camera's new node"
CLOSED_AT_REMOVAL = "closed: its camera was removed from the site file while the node watching it was lost"


@dataclass(frozen=True)
class Handover:
    adopted: ThreatEvent | None = None  # the open event to continue, as stored
    closed: list[ThreatEvent] = field(default_factory=list)  # the others, as closed now


def take_over(store: EventStore, camera: str, node: str, watched_until: float, window_s: float,
              now: float | None = None) -> Handover:
    """The camera's newest open event, adopted when its gun was seen or its camera watched (`watched_until`,
    the previous holder's last renewal) within `window_s`; every other open event of the camera closed, with an
    audit entry naming `node`. One transaction, rows locked: two holders never both take an event."""
    now = time.time() if now is None else now
    query = (select(EventRow).where(EventRow.camera == camera, EventRow.state.in_(OPEN_STATES))
             .order_by(EventRow.confirmed_at.desc(), EventRow.id))
    with store.errors(f"cannot take over the open events of camera {camera} in"), \
            store.write_session.begin() as session:
        rows = session.scalars(query.with_for_update()).all()
        fresh = bool(rows) and now - max(rows[0].last_seen, watched_until) <= window_s
        adopted = rows[0] if fresh else None
        if adopted is not None:
            session.execute(insert(AuditRow).values(at=now, event_id=adopted.id, camera=camera, actor=ACTOR,
                                                    action="event.adopted", detail={"node": node}))
        closed = []
        for row in rows:
            if row is adopted:
                continue
            age = now - max(row.last_seen, watched_until)
            reason = f"{CLOSED_AT_MOVE} ({node}; {age:.0f} s old, over the {window_s:g} s an event continues)"
            close_event_row(session, row, now, ACTOR, {"reason": reason})
            closed.append(event_from_row(row))
        return Handover(None if adopted is None else event_from_row(adopted), closed)


def open_events(store: EventStore, cameras: Collection[str]) -> list[ThreatEvent]:
    """The open events of `cameras`, oldest first."""
    query = (select(EventRow).where(EventRow.camera.in_(list(cameras)), EventRow.state.in_(OPEN_STATES))
             .order_by(EventRow.confirmed_at, EventRow.id))
    with store.errors("cannot read the open events in"), store.read_session() as session:
        return [event_from_row(row) for row in session.scalars(query)]


def changed_since(store: EventStore, cameras: Collection[str], since: float) -> list[ThreatEvent]:
    """The events of `cameras` stored (opened, updated or closed) at or after `since`, in any state, oldest
    first."""
    query = (select(EventRow).where(EventRow.camera.in_(list(cameras)), EventRow.updated_at >= since)
             .order_by(EventRow.confirmed_at, EventRow.id))
    with store.errors("cannot read the recent events in"), store.read_session() as session:
        return [event_from_row(row) for row in session.scalars(query)]


def retire(store: EventStore, camera: str, now: float | None = None) -> list[ThreatEvent]:
    """Every open event of `camera`, removed from the site file with no holder left, closed now with an audit
    entry saying why (the caller holds the camera's lease); the events as closed."""
    now = time.time() if now is None else now
    query = select(EventRow).where(EventRow.camera == camera, EventRow.state.in_(OPEN_STATES)).order_by(EventRow.id)
    with store.errors(f"cannot close the open events of camera {camera} in"), store.write_session.begin() as session:
        rows = session.scalars(query.with_for_update()).all()
        for row in rows:
            close_event_row(session, row, now, ACTOR, {"reason": CLOSED_AT_REMOVAL})
        return [event_from_row(row) for row in rows]
