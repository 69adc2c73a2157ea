"""Retention's entries in the audit log (`gunwatch event show ID` prints an event's): what went and why."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gunwatch.events.store.schema import AuditRow

ACTOR = "retention"


def audit(session: Session, action: str, event_id: str | None, camera: str | None, actor: str = ACTOR,
          at: float | None = None, **detail: Any) -> None:
    """An audit entry inside the caller's transaction (the change and its record commit together). Written
    here, not through gunwatch.alerts.audit: the alerts sit above the events."""
    values = {"at": time.time() if at is None else at, "event_id": event_id, "camera": camera, "actor": actor,
              "action": action, "detail": detail}
    session.execute(insert(AuditRow).values(values))


def record_disk(session: Session, low: bool, folder: str, free: int, floor: int, at: float | None = None) -> None:
    """A health event of the evidence disk: `health.disk_low` when it fell below its floor with nothing left to
    prune, `health.disk_ok` when it is above it again. Not a camera's state: the site's, so in the audit log."""
    audit(session, "health.disk_low" if low else "health.disk_ok", None, None, at=at, folder=folder,
          free_bytes=free, floor_bytes=floor)
