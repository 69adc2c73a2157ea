"""Writes fenced by a camera's lease (cluster mode): stored only while the writer still holds the camera.

    store.save_event(event, fence=lease)            # LeaseLost, nothing written, when `lease` is no longer held
    store.record_health(camera, "online", fence=lease)

In the write's own transaction the lease row is read FOR SHARE where it is still this holder's, with this
token, not given back. A new holder takes a camera by UPDATE-ing that row, which waits for the share lock: so a
fenced write either commits before the camera changes hands (the new holder then reads it, e.g. the open event
it adopts) or finds the token moved on and writes nothing. This closes the window a lease check before the
write leaves open (a node paused past its lease, versions queued while the store was down). SQLite has no row
locks (and no cluster mode): there the check alone applies.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from gunwatch.events.store.errors import StoreError
from gunwatch.events.store.schema import CameraLeaseRow

_LEASES = CameraLeaseRow.__table__


class HeldLease(Protocol):
    """What fences a write: whose camera, and which holding of it (`leases.CameraLease`)."""

    camera: str
    holder: str
    token: int


class LeaseLost(StoreError):
    """A fenced write refused: the writer no longer holds the camera's lease (it lapsed and another holder took
    it, or it was given back). Trying again cannot help; the camera's new holder writes from now on."""


def still_held(lease: HeldLease) -> tuple[Any, ...]:
    """WHERE conditions: the lease row is still this holding (holder, token) and not given back."""
    c = _LEASES.c
    return (c.camera == lease.camera, c.holder == lease.holder, c.token == lease.token, c.released_at.is_(None))


def hold_fence(session: Session, lease: HeldLease) -> None:
    """In the caller's write transaction: share-lock the lease row while it is still `lease`'s; LeaseLost when
    it is not (the caller's transaction is then rolled back, nothing of it written)."""
    held = session.execute(select(_LEASES.c.token).where(*still_held(lease)).with_for_update(read=True)).first()
    if held is None:
        raise LeaseLost(f"camera {lease.camera}: the lease of {lease.holder} (token {lease.token}) is no longer held")
