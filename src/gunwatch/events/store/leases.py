"""Camera leases: in cluster mode, each camera is watched by one holder (a node agent) at a time.

    leases = CameraLeases(store)
    lease = leases.acquire("lobby", holder="agent-ab12-4711", node="ab12", ttl_s=15)  # None: another holds it
    lease = leases.renew(lease, ttl_s=15)   # well within the TTL (every few seconds); None: lost, stop watching
    leases.renew_all([lease, ...], 15)      # the same for many, in one statement: {camera: lease or None}
    leases.release(lease)                   # the camera stops here: another holder may take it at once

Each change is one conditional statement, so two agents racing for a camera never both win: the first time an
INSERT ... ON CONFLICT DO NOTHING, later an UPDATE ... WHERE the lease is the caller's or has expired (on
PostgreSQL a racer blocked on the row re-checks that WHERE against the winner's committed row; on SQLite
writers take turns). The row count says who won.

Time is the callers' clock (time.time()), compared across nodes: the nodes must be NTP-synced, and the TTL
(cluster.lease_s, default 15 s) must exceed their clock skew by far: a node whose clock runs S seconds ahead
takes over an expired lease S seconds early, while its old holder may still believe it holds it.

The fencing token grows by one with each new holding: whenever the camera changes holder, and when a holder
takes it again after releasing it. Renewing keeps it. A write fenced on the token (`fencing`: the store's
event and health writes take `fence=lease`) refuses a holder that lost its camera without knowing it (a long
pause, a partition, versions queued while the store was down).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gunwatch.events.store.fencing import still_held
from gunwatch.events.store.schema import CameraLeaseRow
from gunwatch.events.store.store import EventStore

DEFAULT_LEASE_S = 15.0  # the TTL; cluster.lease_s sets it
_INSERTS: dict[str, Callable[[Any], Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_LEASES = CameraLeaseRow.__table__


@dataclass(frozen=True)
class CameraLease:
    """One camera's lease as the store has it (or had it when read)."""

    camera: str
    holder: str  # who watches it: a node agent's id, e.g. "agent-<node id>-<pid>"
    node: str  # the Ray node (or host) it runs on, for `camera status` / `cluster status`
    token: int  # fencing token: grows by one every time the camera changes holder
    expires_at: float  # unix seconds, the holder's clock


class CameraLeases:
    """The leases of a store's cameras. `clock` gives unix seconds (time.time; a fake one in tests)."""

    def __init__(self, store: EventStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    def acquire(self, camera: str, holder: str, node: str, ttl_s: float) -> CameraLease | None:
        """The lease when free, expired, or already this holder's (then renewed); None while another holder's
        lease is live."""
        now = self._clock()
        expires_at = now + ttl_s
        c = _LEASES.c
        first = (_INSERTS[self.store.dialect](_LEASES)
                 .values(camera=camera, holder=holder, node=node, token=1, expires_at=expires_at, released_at=None)
                 .on_conflict_do_nothing(index_elements=["camera"]))
        continuing = and_(c.holder == holder, c.released_at.is_(None))
        take = (update(_LEASES)
                .where(c.camera == camera, or_(continuing, c.released_at.is_not(None), c.expires_at < now))
                .values(holder=holder, node=node, expires_at=expires_at, released_at=None,
                        token=case((continuing, c.token), else_=c.token + 1))  # SET reads the old row
                .returning(c.token))
        with self._writing(f"cannot acquire the lease of camera {camera} in") as session:
            if session.execute(first).rowcount == 1:
                return CameraLease(camera, holder, node, 1, expires_at)
            token = session.execute(take).scalar_one_or_none()
        return None if token is None else CameraLease(camera, holder, node, int(token), expires_at)

    def renew(self, lease: CameraLease, ttl_s: float) -> CameraLease | None:
        """Extended; None when it was lost (expired and taken by another holder, or released). A lease that
        expired but nobody took is renewed: nobody else watched the camera meanwhile."""
        expires_at = self._clock() + ttl_s
        statement = update(_LEASES).where(*still_held(lease)).values(expires_at=expires_at)
        with self._writing(f"cannot renew the lease of camera {lease.camera} in") as session:
            renewed = session.execute(statement).rowcount == 1
        return replace(lease, expires_at=expires_at) if renewed else None

    def renew_all(self, leases: list[CameraLease], ttl_s: float) -> dict[str, CameraLease | None]:
        """`renew` for many cameras in one statement (an agent's every renewal period: one transaction per node,
        not per camera); by camera, None for each lease that was lost."""
        if not leases:
            return {}
        expires_at = self._clock() + ttl_s
        c = _LEASES.c
        statement = (update(_LEASES).where(or_(*(and_(*still_held(lease)) for lease in leases)))
                     .values(expires_at=expires_at).returning(c.camera))
        cameras = ", ".join(lease.camera for lease in leases)
        with self._writing(f"cannot renew the leases of cameras {cameras} in") as session:
            renewed = set(session.scalars(statement))
        return {lease.camera: replace(lease, expires_at=expires_at) if lease.camera in renewed else None
                for lease in leases}

    def release(self, lease: CameraLease) -> None:
        """Let the camera go, so another holder may take it at once; nothing when the lease was lost already."""
        now = self._clock()
        statement = update(_LEASES).where(*still_held(lease)).values(released_at=now, expires_at=now)
        with self._writing(f"cannot release the lease of camera {lease.camera} in") as session:
            session.execute(statement)

    def release_all(self, holder: str) -> None:
        """Let go of every camera `holder` holds (an agent stopping)."""
        now = self._clock()
        c = _LEASES.c
        statement = (update(_LEASES).where(c.holder == holder, c.released_at.is_(None))
                     .values(released_at=now, expires_at=now))
        with self._writing(f"cannot release the leases of {holder} in") as session:
            session.execute(statement)

    def all(self) -> list[CameraLease]:
        """Every lease row, live, expired or released (expires_at is then the release time), by camera."""
        c = _LEASES.c
        query = select(c.camera, c.holder, c.node, c.token, c.expires_at).order_by(c.camera)
        with self.store.errors("cannot read the camera leases of"), self.store.read_session() as session:
            return [CameraLease(camera, holder, node, int(token), expires_at)
                    for camera, holder, node, token, expires_at in session.execute(query)]

    def live(self, now: float | None = None) -> dict[str, CameraLease]:
        """The leases not expired at `now` (default: the clock's now), by camera: who watches each camera."""
        now = self._clock() if now is None else now
        return {lease.camera: lease for lease in self.all() if lease.expires_at > now}

    @contextmanager
    def _writing(self, doing: str) -> Iterator[Session]:
        """A write transaction whose database errors become StoreErrors naming the store."""
        with self.store.errors(doing), self.store.write_session.begin() as session:
            yield session
