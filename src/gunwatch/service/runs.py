"""Protocol runs, each with its deliveries: the protocol's progress the console shows under an alert."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from gunwatch.alerts.outbox import Delivery
from gunwatch.alerts.outbox.outbox import _delivery
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import RUN_STATES, DeliveryRow, ProtocolRunRow
from gunwatch.service.errors import InvalidRequest
from gunwatch.users.principal import Principal

MAX_LIMIT = 500


@dataclass(frozen=True)
class RunView:
    id: int
    protocol: str
    subject: str  # the event id, or offline-HEX for a camera-offline incident
    trigger: str
    event_id: str | None
    camera: str
    state: str
    step: int  # the next step to run
    escalated: bool
    wake_at: float | None
    started_at: float
    updated_at: float
    deliveries: list[Delivery]


class RunService:
    def __init__(self, store: EventStore):
        self.store = store

    def list(self, principal: Principal, event_id: str | None = None, state: str | None = None,
             limit: int = 100) -> list[RunView]:
        """The runs of the cameras the principal may see, newest first; an event it may not see has none."""
        principal.require("events:read")
        if state is not None and state not in RUN_STATES:
            raise InvalidRequest(f"unknown run state {state!r}; known: {', '.join(RUN_STATES)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        query = select(ProtocolRunRow)
        if principal.cameras is not None:
            query = query.where(ProtocolRunRow.camera.in_(sorted(principal.cameras)))
        if event_id is not None:
            query = query.where(ProtocolRunRow.event_id == event_id)
        if state is not None:
            query = query.where(ProtocolRunRow.state == state)
        query = query.order_by(ProtocolRunRow.started_at.desc(), ProtocolRunRow.id.desc()).limit(limit)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            runs = list(session.scalars(query))
            ids = [run.id for run in runs]
            deliveries: dict[int, list[Delivery]] = {}
            if ids:
                for row in session.scalars(select(DeliveryRow).where(DeliveryRow.run_id.in_(ids))
                                           .order_by(DeliveryRow.id)):
                    deliveries.setdefault(row.run_id, []).append(_delivery(row))  # type: ignore[arg-type]
            return [RunView(r.id, r.protocol, r.subject, r.trigger, r.event_id, r.camera, r.state, r.step,
                            bool(r.escalated), r.wake_at, r.started_at, r.updated_at, deliveries.get(r.id, []))
                    for r in runs]
