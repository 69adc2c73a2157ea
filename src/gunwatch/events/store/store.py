"""The event store: threat events, cameras and their health history, in SQLite (default) or PostgreSQL.

    store = EventStore("sqlite:///runs/gunwatch.db")   # creates or upgrades the schema
    store.save_event(event)                             # open, updated and closed: one row per event id
    store.list_events(limit=20)

Safe to share between threads: each call takes its own session from the engine's connection pool.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import URL, Engine, func, insert, or_, select, union
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gunwatch import __version__
from gunwatch.config.redact import redact_url
from gunwatch.events.model import ThreatEvent
from gunwatch.events.private import create_private_file
from gunwatch.events.store.engine import DEFAULT_STORE_URL, WRITE_OPTIONS, make_engine, parse_store_url, sqlite_file
from gunwatch.events.store.errors import StoreError, StoreMissing, StoreUnavailable, UnknownEventId, UpgradePending
from gunwatch.events.store.fencing import HeldLease, hold_fence
from gunwatch.events.store.migrate import current_revision, head_revision, refuse_unknown_revision, upgrade_to_head
from gunwatch.events.store.rows import event_from_row, event_values
from gunwatch.events.store.schema import (
    EVENT_STATES,
    HEALTH_STATES,
    CameraRow,
    DispositionRow,
    EventRow,
    HealthRow,
    ProtocolRunRow,
)
from gunwatch.events.store.status import CameraStatus
from gunwatch.events.store.upsert import upsert
from gunwatch.video.health import CameraState, HealthChange

# The shortest prefix of an event id accepted for the whole id: 16^6 ids make a collision rare in one site.
SHORT_ID_MIN = 6


@dataclass(frozen=True)
class JudgedEvent:
    """An event and what people last said of it."""

    event: ThreatEvent
    disposition: str
    actor: str
    at: float
    note: str | None


class EventStore:
    """Opening upgrades the schema to the newest migration. `create=False` refuses to create a missing
    SQLite file (StoreMissing), for commands that only read. `upgrade=False` refuses a store whose schema is
    older than this gunwatch's (UpgradePending), for every command but `watch` and `serve`, which upgrade
    only once a backup holds the store: an upgrade never happens on the side. Every failure is a StoreError
    naming the store's URL with its password hidden (`self.url`)."""

    def __init__(self, url: str = DEFAULT_STORE_URL, *, create: bool = True, upgrade: bool = True) -> None:
        self.url = redact_url(url)
        try:
            parsed = parse_store_url(url)
        except (ArgumentError, ValueError) as error:
            raise StoreError(f"cannot use {self.url} as the event store: {_reason(error)}") from None
        file = sqlite_file(parsed)
        if file is not None and not file.exists() and not create:
            raise StoreMissing(f"no event store at {file}")
        with self._errors("cannot open"):
            self._engine = _open_engine(parsed, file, upgrade)
        self._read = sessionmaker(self._engine)
        self._write = sessionmaker(self._engine.execution_options(**WRITE_OPTIONS))

    # The alerts' tables (outbox, protocol runs, audit log) live in the same database: they share these.
    @property
    def read_session(self) -> sessionmaker[Session]:
        return self._read

    @property
    def write_session(self) -> sessionmaker[Session]:
        """Sessions whose transactions take the write lock as they begin (SQLite): `with write_session.begin()`."""
        return self._write

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def errors(self, doing: str) -> AbstractContextManager[None]:
        """Turns database errors into a StoreError naming the store: `with store.errors("cannot save x to")`."""
        return self._errors(doing)

    def save_event(self, event: ThreatEvent, fence: HeldLease | None = None) -> None:
        """Insert the event, or overwrite the stored one with the same id (its created_at is kept). With a
        `fence` (cluster mode: the camera's lease), only while that lease is still held: LeaseLost if not."""
        if event.state not in EVENT_STATES:
            raise ValueError(f"event state must be one of {', '.join(EVENT_STATES)}, not {event.state!r}")
        values = event_values(event, time.time())
        statement = upsert(self._dialect, EventRow, values, key="id", keep=["created_at"])
        with self._errors(f"cannot save event {event.id} to"), self._write.begin() as session:
            if fence is not None:
                hold_fence(session, fence)
            session.execute(statement)

    def get_event(self, event_id: str) -> ThreatEvent | None:
        with self._errors("cannot read"), self._read() as session:
            row = session.get(EventRow, event_id)
            return None if row is None else event_from_row(row)

    def list_events(self, limit: int = 50, camera: str | None = None) -> list[ThreatEvent]:
        """The newest events first (by when they were confirmed), of one camera or all."""
        query = select(EventRow).order_by(EventRow.confirmed_at.desc(), EventRow.created_at.desc(), EventRow.id)
        if camera is not None:
            query = query.where(EventRow.camera == camera)
        with self._errors("cannot read"), self._read() as session:
            return [event_from_row(row) for row in session.scalars(query.limit(limit))]

    def resolve_id(self, text: str) -> str:
        """The full id of the event `text` names: its whole id, or a prefix of at least SHORT_ID_MIN characters
        that only one id starts with (the short id `gunwatch watch` prints). Camera-offline incidents, known by
        their protocol runs only, count as events here. UnknownEventId when none or several match, listing the
        candidates."""
        text = text.strip()
        if not text:
            raise UnknownEventId("give an event id (see gunwatch event list)")
        ids = union(select(EventRow.id.label("id")), select(ProtocolRunRow.event_id.label("id"))).subquery()
        with self._errors("cannot read"), self._read() as session:
            if session.scalar(select(ids.c.id).where(ids.c.id == text).limit(1)) is not None:
                return text
            if len(text) < SHORT_ID_MIN:
                raise UnknownEventId(f"no event {text} in {self.url} (a short id needs at least {SHORT_ID_MIN} "
                                     "characters)")
            query = select(ids.c.id).where(ids.c.id.startswith(text, autoescape=True)).order_by(ids.c.id).limit(11)
            matches = list(session.scalars(query))
        if not matches:
            raise UnknownEventId(f"no event whose id is or starts with {text} in {self.url}")
        if len(matches) > 1:
            more = " and more" if len(matches) > 10 else ""
            raise UnknownEventId(f"{text} is the start of several events' ids: {', '.join(matches[:10])}{more}; "
                                 "give more characters")
        return str(matches[0])

    def dispositions(self, event_ids: list[str]) -> dict[str, str]:
        """What people last said of these events (acknowledged, confirmed, false_alarm, resolved), by id;
        events nobody answered yet are left out."""
        if not event_ids:
            return {}
        query = select(DispositionRow.event_id, DispositionRow.disposition).where(
            DispositionRow.event_id.in_(event_ids))
        with self._errors("cannot read"), self._read() as session:
            return {event_id: disposition for event_id, disposition in session.execute(query)}

    def judged_events(self, disposition: str, *, since: float | None = None,
                      cameras: list[str] | None = None) -> list[JudgedEvent]:
        """The events whose latest word is `disposition` (e.g. false_alarm), oldest first, with who said it
        and when; only those confirmed at or after `since`, on `cameras` when given."""
        query = (select(EventRow, DispositionRow).join(DispositionRow, DispositionRow.event_id == EventRow.id)
                 .where(DispositionRow.disposition == disposition).order_by(EventRow.confirmed_at, EventRow.id))
        if since is not None:
            query = query.where(EventRow.confirmed_at >= since)
        if cameras is not None:
            query = query.where(EventRow.camera.in_(cameras))
        with self._errors("cannot read"), self._read() as session:
            return [JudgedEvent(event_from_row(row), word.disposition, word.actor, word.at, word.note)
                    for row, word in session.execute(query)]

    def upsert_camera(self, name: str, url: str, kind: str | None) -> None:
        """Register a camera or update its URL and kind; the URL is stored with its password hidden."""
        values = {"name": name, "url": redact_url(url), "kind": kind, "updated_at": time.time()}
        with self._errors(f"cannot save camera {name} to"), self._write.begin() as session:
            session.execute(upsert(self._dialect, CameraRow, values, key="name"))

    def record_health(
        self, camera: str, state: CameraState, reason: str | None = None, at: float | None = None,
        fence: HeldLease | None = None,
    ) -> None:
        """Append a health change and make it the camera's current state, unless a later one is already
        recorded (changes may arrive out of order from several threads). `at` defaults to now. `fence`: as
        for save_event."""
        if state not in HEALTH_STATES:
            raise ValueError(f"health state must be one of {', '.join(HEALTH_STATES)}, not {state!r}")
        at = time.time() if at is None else at
        with self._errors(f"cannot save the health of camera {camera} to"), self._write.begin() as session:
            if fence is not None:
                hold_fence(session, fence)
            record_health_in(session, self._dialect, camera, state, reason, at)

    def camera_status(self, recent: int = 5) -> list[CameraStatus]:
        """Every camera by name, with its current state and its `recent` latest health changes."""
        with self._errors("cannot read"), self._read() as session:
            cameras = session.scalars(select(CameraRow).order_by(CameraRow.name)).all()
            changes = _recent_health(session, recent) if recent > 0 else {}
            return [_camera_status(row, changes.get(row.name, [])) for row in cameras]

    def online_since(self, since: float = 0.0) -> set[str]:
        """The cameras online now whose state last changed at or after `since` (a watch started then)."""
        return {camera.name for camera in self.camera_status(recent=0)
                if camera.state == "online" and (camera.state_at or 0) >= since}

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def _dialect(self) -> str:
        return self._engine.dialect.name

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as error:  # the server down or restarting, a lock, a full disk
            raise StoreUnavailable(f"{doing} the event store {self.url}: {_reason(error)}") from error
        except (SQLAlchemyError, ImportError, OSError) as error:
            raise StoreError(f"{doing} the event store {self.url}: {_reason(error)}") from error


def _open_engine(url: URL, file: Path | None, upgrade: bool = True) -> Engine:
    """An engine on `url` with the schema at head; disposed of again when the upgrade fails (or is pending
    and not allowed: a new, empty store is always made, there is nothing in it to lose)."""
    if file is not None:
        # Made here, 0600 in a 0700 folder, before SQLite would make it world-readable: it holds link tokens,
        # phone numbers and notes. SQLite gives its -wal and -shm files the database file's mode.
        create_private_file(file)
    engine = make_engine(url)
    try:
        if not upgrade:
            _refuse_pending_upgrade(engine)
        upgrade_to_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _refuse_pending_upgrade(engine: Engine) -> None:
    revision, head = current_revision(engine), head_revision()
    store = engine.url.render_as_string(hide_password=True)
    refuse_unknown_revision(revision, store)
    if revision is not None and revision != head:
        raise UpgradePending(
            f"the event store {store} is at schema revision {revision} and this gunwatch {__version__} needs "
            f"{head}: it is upgraded only by `gunwatch watch` or `gunwatch serve`, once a backup holds it. Back it "
            "up first (`gunwatch backup --config SITE`), then start watch; this command changes nothing")


def record_health_in(session: Session, dialect: str, camera: str, state: CameraState, reason: str | None,
                     at: float) -> None:
    """`EventStore.record_health` inside the caller's transaction (a run's end and its cameras' state commit
    together)."""
    change = {"camera": camera, "state": state, "reason": reason, "at": at}
    current = {"name": camera, "state": state, "reason": reason, "state_at": at, "updated_at": time.time()}
    state_at = CameraRow.__table__.c.state_at

    def is_newer(excluded: Any) -> Any:
        return or_(state_at.is_(None), state_at <= excluded.state_at)

    session.execute(insert(HealthRow).values(change))
    session.execute(upsert(dialect, CameraRow, current, key="name", where=is_newer))


def _recent_health(session: Session, recent: int) -> dict[str, list[HealthChange]]:
    """The latest `recent` changes of each camera, newest first, in one query (a window function)."""
    order = (HealthRow.at.desc(), HealthRow.id.desc())
    rank = func.row_number().over(partition_by=HealthRow.camera, order_by=order).label("rank")
    ranked = select(HealthRow.id, HealthRow.camera, HealthRow.state, HealthRow.reason, HealthRow.at, rank).subquery()
    query = (
        select(ranked.c.camera, ranked.c.state, ranked.c.reason, ranked.c.at)
        .where(ranked.c.rank <= recent)
        .order_by(ranked.c.camera, ranked.c.at.desc(), ranked.c.id.desc())
    )
    changes: dict[str, list[HealthChange]] = {}
    for camera, state, reason, at in session.execute(query):
        changes.setdefault(camera, []).append(HealthChange(camera, cast(CameraState, state), reason or "", at))
    return changes


def _camera_status(row: CameraRow, recent: list[HealthChange]) -> CameraStatus:
    state = cast(CameraState | None, row.state)
    return CameraStatus(row.name, row.url, row.kind, state, row.reason, row.state_at, row.updated_at, recent)


def _reason(error: BaseException) -> str:
    """The driver's own message, first line: SQLAlchemy's adds the SQL and a help link."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__
