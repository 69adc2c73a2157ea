"""Audit rows for users, sessions and tokens, written in the caller's transaction.

The same `audit_log` table and row shape as gunwatch.alerts.audit (which sits above users and cannot be
imported here): the change and its record commit together or not at all.
"""

from __future__ import annotations

import getpass
import time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gunwatch.events.store.schema import AuditRow
from gunwatch.users.principal import Principal


def actor_of(by: Principal | None) -> str:
    """Who the audit log names: the principal's actor, else whoever runs the command (`cli:USER`)."""
    if by is not None:
        return by.actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a container
        return "cli"


def record(session: Session, actor: str, action: str, at: float | None = None, **detail: Any) -> None:
    session.execute(insert(AuditRow).values(at=time.time() if at is None else at, event_id=None, camera=None,
                                            actor=actor, action=action, detail=detail))
