"""One event's alert decisions, one at a time, across processes.

Starting a protocol for an event and recording what people said of it (a false alarm above all) read
each other's rows. SQLite's write lock (BEGIN IMMEDIATE) already serialises them. PostgreSQL, at READ
COMMITTED, would let a false alarm commit without seeing a run that starts at the same moment, whose
alert would then go out with no cancel ever to follow: both take this per-event lock first.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_event(session: Session, event_id: str) -> None:
    """Hold the event's lock until the session's transaction ends (nothing to do on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"gunwatch-event:{event_id}"})
