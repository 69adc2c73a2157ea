"""Events as a principal sees them: the timeline, one event's whole story, its evidence, and the four actions.

    service = EventService(store, EventActions(store))
    service.list(principal, EventFilter(cameras=frozenset({"lobby"}), limit=20))
    service.act(principal, event_id, "false_alarm", note="a phone")

Every call checks the principal: `events:read` to see, `events:act` to act, and camera access. An event of
a camera the principal may not see is `NotFound`, exactly as an id nobody knows, so its existence does not
leak. Actions go through `EventActions.perform`, the same call the CLI and the action links make.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gunwatch.alerts.audit import AuditEntry
from gunwatch.alerts.event_actions import ACTION_METHODS, ActionResult, EventActions
from gunwatch.alerts.history import RunSummary, event_history
from gunwatch.alerts.outbox import Delivery
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.rows import event_from_row
from gunwatch.events.store.schema import DISPOSITIONS, EVENT_STATES, DispositionRow, EventRow, ProtocolRunRow
from gunwatch.service.errors import InvalidRequest, NotFound
from gunwatch.users.principal import Principal

Evidence = Literal["snapshot", "annotated", "clip"]
EVIDENCE: tuple[Evidence, ...] = get_args(Evidence)
NO_DISPOSITION = "none"  # a filter value: events nobody has answered yet
MAX_LIMIT = 500
MAX_EPOCH = 253402300799.0  # 9999-12-31: the latest time a date column holds


@dataclass(frozen=True)
class DispositionInfo:
    """What people last said of an event. `acknowledged_at` stays set when a later word follows."""

    disposition: str
    actor: str
    note: str | None
    at: float
    acknowledged_at: float | None


@dataclass(frozen=True)
class EventFilter:
    """None: no restriction. `dispositions` may hold "none" (not answered yet). `before`: the id of the last
    event of the previous page (pages run newest first, by confirmation time)."""

    cameras: frozenset[str] | None = None
    since: float | None = None  # confirmed at or after
    until: float | None = None  # confirmed before
    states: frozenset[str] | None = None
    dispositions: frozenset[str] | None = None
    limit: int = 50
    before: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}, not {self.limit}")
        check_epoch("since", self.since)
        check_epoch("until", self.until)
        _known("state", self.states, EVENT_STATES)
        _known("disposition", self.dispositions, (*DISPOSITIONS, NO_DISPOSITION))


@dataclass(frozen=True)
class EventSummary:
    event: ThreatEvent
    disposition: DispositionInfo | None

    @property
    def acknowledged(self) -> bool:
        """Someone is on it: what stops a protocol's escalation (its wait_ack steps read the same field)."""
        return self.disposition is not None and self.disposition.acknowledged_at is not None


@dataclass(frozen=True)
class EventDetail:
    """`event` is None for a camera-offline incident (it has runs, deliveries and an audit log only)."""

    event_id: str
    camera: str
    event: ThreatEvent | None
    disposition: DispositionInfo | None
    runs: list[RunSummary]
    deliveries: list[Delivery]
    audit: list[AuditEntry]


class EventService:
    def __init__(self, store: EventStore, actions: EventActions):
        self.store, self.actions = store, actions

    def list(self, principal: Principal, filter: EventFilter | None = None) -> list[EventSummary]:
        """The events the principal may see that match `filter`, newest first."""
        principal.require("events:read")
        filter = filter or EventFilter()
        query = select(EventRow, DispositionRow).outerjoin(DispositionRow, DispositionRow.event_id == EventRow.id)
        query = query.where(*_conditions(principal, filter))
        with self.store.errors("cannot read"), self.store.read_session() as session:
            if filter.before is not None:
                query = query.where(_before(session, principal, filter.before))
            query = query.order_by(EventRow.confirmed_at.desc(), EventRow.id).limit(filter.limit)
            return [EventSummary(event_from_row(event), _info(word)) for event, word in session.execute(query)]

    def get(self, principal: Principal, event_id: str) -> EventDetail:
        principal.require("events:read")
        history = event_history(self.store, event_id)
        camera = None if history is None else self._camera(event_id, history.event)
        if history is None or camera is None or not principal.sees(camera):
            raise NotFound(f"no event {event_id}")
        disposition = None if history.disposition is None else DispositionInfo(**history.disposition)
        return EventDetail(event_id, camera, history.event, disposition, history.runs, history.deliveries,
                           history.audit)

    def summary(self, principal: Principal, event_id: str) -> EventSummary:
        """One event as the timeline shows it (the console's banner): NotFound for an incident without event."""
        principal.require("events:read")
        event = self._visible_event(principal, event_id)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return EventSummary(event, _info(session.get(DispositionRow, event_id)))

    def act(self, principal: Principal, event_id: str, action: str, note: str | None = None) -> ActionResult:
        """ack, confirm, false_alarm (or false-alarm), resolve; recorded with `principal.actor`. ActionRefused
        when it does not apply (an event already called a false alarm cannot be resolved)."""
        if action.replace("-", "_") not in ACTION_METHODS:
            raise InvalidRequest(f"unknown action {action!r}; known: {', '.join(ACTION_METHODS)}")
        self._require_visible(principal, event_id)  # before the scope: a hidden event is not found, for anyone
        principal.require("events:act")
        return self.actions.perform(action, event_id, principal.actor, note)

    def evidence_path(self, principal: Principal, event_id: str, which: str) -> Path | None:
        """The event's snapshot, annotated frame or clip, when its file is there (paths are relative to where
        gunwatch runs); None when the event has none (yet: the clip is written after the post-roll)."""
        if which not in EVIDENCE:
            raise InvalidRequest(f"evidence is one of {', '.join(EVIDENCE)}, not {which!r}")
        principal.require("events:read")
        event = self._visible_event(principal, event_id)
        name = getattr(event.evidence, which)
        if not name:
            return None
        path = Path(name)
        return path if path.is_file() else None

    def _visible_event(self, principal: Principal, event_id: str) -> ThreatEvent:
        event = self.store.get_event(event_id)
        if event is None or not principal.sees(event.camera):
            raise NotFound(f"no event {event_id}")
        return event

    def _require_visible(self, principal: Principal, event_id: str) -> None:
        camera = self._camera(event_id, self.store.get_event(event_id))
        if camera is None or not principal.sees(camera):
            raise NotFound(f"no event {event_id}")

    def _camera(self, event_id: str, event: ThreatEvent | None) -> str | None:
        """The event's camera, or a camera-offline incident's (from its protocol run); None: unknown id."""
        if event is not None:
            return event.camera
        query = select(ProtocolRunRow.camera).where(ProtocolRunRow.event_id == event_id).limit(1)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return session.scalar(query)


def _conditions(principal: Principal, filter: EventFilter) -> list[Any]:
    conditions: list[Any] = []
    for cameras in (principal.cameras, filter.cameras):
        if cameras is not None:
            conditions.append(EventRow.camera.in_(sorted(cameras)))
    if filter.since is not None:
        conditions.append(EventRow.confirmed_at >= filter.since)
    if filter.until is not None:
        conditions.append(EventRow.confirmed_at < filter.until)
    if filter.states is not None:
        conditions.append(EventRow.state.in_(sorted(filter.states)))
    if filter.dispositions is not None:
        words = sorted(filter.dispositions - {NO_DISPOSITION})
        chosen = [DispositionRow.disposition.in_(words)] if words else []
        if NO_DISPOSITION in filter.dispositions:
            chosen.append(DispositionRow.event_id.is_(None))
        conditions.append(or_(*chosen))
    return conditions


def _before(session: Session, principal: Principal, cursor: str) -> Any:
    """Events after `cursor` in the timeline's order (confirmed_at descending, then id), compared in SQL: the
    cursor's time is never round-tripped through Python (PostgreSQL keeps microseconds, SQLite text)."""
    row = session.get(EventRow, cursor)
    if row is None or not principal.sees(row.camera):
        raise InvalidRequest(f"unknown cursor {cursor!r}: pass the id of the last event of the previous page")
    at = select(EventRow.confirmed_at).where(EventRow.id == cursor).scalar_subquery()
    return or_(EventRow.confirmed_at < at, and_(EventRow.confirmed_at == at, EventRow.id > cursor))


def _info(row: DispositionRow | None) -> DispositionInfo | None:
    if row is None:
        return None
    return DispositionInfo(row.disposition, row.actor, row.note, row.at, row.acknowledged_at)


def check_epoch(name: str, value: float | None) -> None:
    """A time the store can compare with: finite, from 1970 to 9999 (NaN or 1e20 cannot become a date)."""
    if value is not None and not 0 <= value <= MAX_EPOCH:  # NaN fails both comparisons
        raise InvalidRequest(f"{name} must be epoch seconds from 0 to {MAX_EPOCH:.0f}, not {value}")


def _known(what: str, values: Collection[str] | None, known: tuple[str, ...]) -> None:
    unknown = sorted(set(values or ()) - set(known))
    if unknown:
        raise InvalidRequest(f"unknown {what} {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
