"""Watch runs: which `gunwatch watch` processes ran on this store, whether they still run, and how they ended.

A run's end and what it leaves behind commit in one transaction: the run's row, its cameras marked
`stopped`, and the threat events it left open closed, each with an audit entry saying why. Ends are
conditional updates (`... WHERE ending IS NULL`), so two starts finding the same crashed run record it once.

    runs = RunLog(store)
    run = runs.begin(host, pid, ["lobby"])      # at start
    runs.beat(run.id)                           # every few seconds
    runs.end(run.id, "stopped")                 # a clean stop; a later start calls `crashed` otherwise
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from gunwatch.events.model import ThreatEvent
from gunwatch.events.store.rows import event_from_row
from gunwatch.events.store.schema import AuditRow, EventRow, WatchRunRow
from gunwatch.events.store.store import EventStore, record_health_in

RunEnding = Literal["stopped", "failed", "crashed"]
ACTOR = "watch"  # the audit log's actor for what a run's end does to events
STOPPED_REASON = "watch stopped"
FAILED_REASON = "watch stopped on an error"
CRASHED_REASON = "watch crashed"
CLOSED_AT_STOP = "closed at stop: watch stopped while the event was open"
CLOSED_AT_RESTART = "closed at restart: watch stopped while the event was open"
OPEN_STATES = ("open", "updated")
_CAMERA_REASONS: dict[RunEnding, str] = {"stopped": STOPPED_REASON, "failed": FAILED_REASON,
                                         "crashed": CRASHED_REASON}


@dataclass(frozen=True)
class WatchRun:
    """A run as stored; `ending` is None while it runs (or until a later start finds it dead)."""

    id: int
    host: str
    pid: int
    cameras: tuple[str, ...]
    started_at: float
    heartbeat_at: float
    stopped_at: float | None = None
    ending: RunEnding | None = None
    note: str | None = None

    @property
    def label(self) -> str:
        return f"run {self.id} ({self.host}:{self.pid})"


class RunLog:
    def __init__(self, store: EventStore):
        self.store = store

    def begin(self, host: str, pid: int, cameras: Collection[str], now: float | None = None) -> WatchRun:
        now = time.time() if now is None else now
        row = WatchRunRow(host=host, pid=pid, cameras=list(cameras), started_at=now, heartbeat_at=now)
        with self.store.errors("cannot record the watch run in"), self.store.write_session.begin() as session:
            session.add(row)
            session.flush()
            return _run(row)

    def beat(self, run_id: int, now: float | None = None) -> bool:
        """Move the heartbeat on; False when the run has been ended meanwhile (a start took it for dead)."""
        now = time.time() if now is None else now
        statement = (update(WatchRunRow).where(WatchRunRow.id == run_id, WatchRunRow.ending.is_(None))
                     .values(heartbeat_at=now))
        with self.store.errors("cannot record the heartbeat in"), self.store.write_session.begin() as session:
            return session.execute(statement).rowcount == 1

    def watching(self, run_id: int, cameras: Collection[str]) -> None:
        """The run's cameras changed (a reload of its site file): those its end marks `stopped`."""
        statement = update(WatchRunRow).where(WatchRunRow.id == run_id).values(cameras=list(cameras))
        with self.store.errors("cannot record the run's cameras in"), self.store.write_session.begin() as session:
            session.execute(statement)

    def end(self, run_id: int, ending: Literal["stopped", "failed"], note: str | None = None,
            spare: Collection[str] = (), now: float | None = None) -> list[ThreatEvent]:
        """This process's own end: the run `ending`, its cameras `stopped`, its open events closed (a stop is
        the truth even if a start took the run for dead meanwhile). Cameras in `spare` (another live run
        watches them) keep their state and events. Returns the events closed, as closed."""
        now = time.time() if now is None else now
        with self.store.errors("cannot record the end of the watch run in"), \
                self.store.write_session.begin() as session:
            row = session.get(WatchRunRow, run_id)
            if row is None:
                raise ValueError(f"no watch run {run_id} in {self.store.url}")
            row.stopped_at, row.ending, row.note = now, ending, note
            return self._leave(session, _run(row), ending, CLOSED_AT_STOP, spare, now)

    def crashed(self, run: WatchRun, found_by: str, spare: Collection[str] = (),
                now: float | None = None) -> list[ThreatEvent] | None:
        """Record that `run` died without saying so (found by `found_by`, a later start): its cameras
        `stopped`, its open events closed. None when it had ended meanwhile (another start recorded it)."""
        now = time.time() if now is None else now
        note = f"found by {found_by}: no clean stop; last heartbeat {now - run.heartbeat_at:.0f} s before"
        statement = (update(WatchRunRow).where(WatchRunRow.id == run.id, WatchRunRow.ending.is_(None))
                     .values(stopped_at=now, ending="crashed", note=note))
        with self.store.errors(f"cannot record that {run.label} crashed in"), \
                self.store.write_session.begin() as session:
            if session.execute(statement).rowcount != 1:
                return None
            return self._leave(session, run, "crashed", CLOSED_AT_RESTART, spare, now)

    def close_open_events(self, note: str, spare: Collection[str] = (), now: float | None = None) -> list[ThreatEvent]:
        """Close every open event of a camera not in `spare`: at a start, those no live run can still be
        watching (left by a crash before runs were recorded, or by a run recorded as crashed)."""
        now = time.time() if now is None else now
        with self.store.errors("cannot close the open events in"), self.store.write_session.begin() as session:
            return _close_events(session, None, note, spare, None, now)

    def unfinished(self) -> list[WatchRun]:
        """Runs that have not ended: running now, or dead without a clean stop; oldest first."""
        query = select(WatchRunRow).where(WatchRunRow.ending.is_(None)).order_by(WatchRunRow.id)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return [_run(row) for row in session.scalars(query)]

    def latest(self, limit: int = 1) -> list[WatchRun]:
        """The newest runs first."""
        query = select(WatchRunRow).order_by(WatchRunRow.started_at.desc(), WatchRunRow.id.desc()).limit(limit)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return [_run(row) for row in session.scalars(query)]

    def _leave(self, session: Session, run: WatchRun, ending: RunEnding, note: str, spare: Collection[str],
               now: float) -> list[ThreatEvent]:
        cameras = [camera for camera in run.cameras if camera not in spare]
        for camera in cameras:
            record_health_in(session, self.store.dialect, camera, "stopped", _CAMERA_REASONS[ending], now)
        return _close_events(session, run.id, note, spare, cameras, now)


def _close_events(session: Session, run_id: int | None, note: str, spare: Collection[str],
                  cameras: Collection[str] | None, now: float) -> list[ThreatEvent]:
    """Close the open events of `cameras` (None: of every camera) but those in `spare`, each with an audit
    entry; returns them as closed."""
    query = select(EventRow).where(EventRow.state.in_(OPEN_STATES)).order_by(EventRow.confirmed_at, EventRow.id)
    if cameras is not None:
        query = query.where(EventRow.camera.in_(list(cameras)))
    if spare:
        query = query.where(EventRow.camera.not_in(list(spare)))
    # FOR UPDATE (PostgreSQL; SQLite's write lock serialises anyway): two starts closing at once close each once.
    rows = session.scalars(query.with_for_update()).all()
    for row in rows:
        close_event_row(session, row, now, ACTOR, {"reason": note, "run": run_id})
    return [event_from_row(row) for row in rows]


def close_event_row(session: Session, row: EventRow, now: float, actor: str, detail: dict[str, object]) -> None:
    """An open event's row closed now, with its audit entry: every close made outside a camera's pipeline
    (a run's end, a restart, a camera's move) goes through here."""
    row.state, row.closed_at, row.updated_at = "closed", now, now
    session.execute(insert(AuditRow).values(at=now, event_id=row.id, camera=row.camera, actor=actor,
                                            action="event.closed", detail=detail))


def _run(row: WatchRunRow) -> WatchRun:
    return WatchRun(row.id, row.host, row.pid, tuple(row.cameras), row.started_at, row.heartbeat_at, row.stopped_at,
                    cast(RunEnding | None, row.ending), row.note)
