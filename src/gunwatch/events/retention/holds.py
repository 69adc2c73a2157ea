"""Legal holds: an event held keeps its evidence and its row whatever retention says, until the hold is lifted."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gunwatch.events.retention.records import audit
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import EventRow, LegalHoldRow


@dataclass(frozen=True)
class LegalHold:
    event_id: str
    actor: str
    reason: str | None
    at: float


class LegalHolds:
    def __init__(self, store: EventStore):
        self.store = store

    def hold(self, event_id: str, actor: str, reason: str | None = None, now: float | None = None) -> bool:
        """Put `event_id` under a hold; False when it was held already (the first hold and its reason stay)."""
        now = time.time() if now is None else now
        with self.store.errors(f"cannot hold event {event_id} in"), self.store.write_session.begin() as session:
            # The event's row locked, as a pruning pass locks it: the pass sees this hold, or has pruned first.
            session.execute(select(EventRow.id).where(EventRow.id == event_id).with_for_update())
            if session.get(LegalHoldRow, event_id) is not None:
                return False
            session.add(LegalHoldRow(event_id=event_id, actor=actor, reason=reason, at=now))
            audit(session, "retention.hold", event_id, _camera(session, event_id), actor, now, reason=reason)
        return True

    def unhold(self, event_id: str, actor: str, reason: str | None = None, now: float | None = None) -> bool:
        """Lift the hold on `event_id`; False when it had none."""
        now = time.time() if now is None else now
        with self.store.errors(f"cannot lift the hold of event {event_id} in"), \
                self.store.write_session.begin() as session:
            lifted = session.execute(delete(LegalHoldRow).where(LegalHoldRow.event_id == event_id)).rowcount
            if not lifted:
                return False
            audit(session, "retention.unhold", event_id, _camera(session, event_id), actor, now, reason=reason)
        return True

    def held(self) -> list[LegalHold]:
        """Every hold, oldest first."""
        query = select(LegalHoldRow).order_by(LegalHoldRow.at, LegalHoldRow.event_id)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return [LegalHold(row.event_id, row.actor, row.reason, row.at) for row in session.scalars(query)]


def _camera(session: Session, event_id: str) -> str | None:
    return session.scalar(select(EventRow.camera).where(EventRow.id == event_id))
