"""The audit log: an append-only record of every state change, delivery attempt and acknowledgement.

Rows are only ever inserted (there is no update or delete here); `gunwatch event show ID` prints an
event's whole history from them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import AuditRow


@dataclass(frozen=True)
class AuditEntry:
    at: float
    event_id: str | None
    camera: str | None
    actor: str
    action: str
    detail: dict[str, Any]


def audit_values(actor: str, action: str, event_id: str | None = None, camera: str | None = None,
                 at: float | None = None, **detail: Any) -> dict[str, Any]:
    return {"at": time.time() if at is None else at, "event_id": event_id, "camera": camera, "actor": actor,
            "action": action, "detail": detail}


def append(session: Session, actor: str, action: str, event_id: str | None = None, camera: str | None = None,
           at: float | None = None, **detail: Any) -> None:
    """Add an entry inside the caller's transaction: the change and its record commit together or not at all."""
    session.execute(insert(AuditRow).values(audit_values(actor, action, event_id, camera, at, **detail)))


class AuditLog:
    def __init__(self, store: EventStore):
        self.store = store

    def of_event(self, event_id: str) -> list[AuditEntry]:
        """The event's history, oldest first."""
        query = select(AuditRow).where(AuditRow.event_id == event_id).order_by(AuditRow.at, AuditRow.id)
        return self._read(query)

    def _read(self, query: Any) -> list[AuditEntry]:
        with self.store.errors("cannot read the audit log of"), self.store.read_session() as session:
            return [AuditEntry(r.at, r.event_id, r.camera, r.actor, r.action, dict(r.detail))
                    for r in session.scalars(query)]
