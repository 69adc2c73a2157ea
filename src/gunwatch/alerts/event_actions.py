"""What people do with an event: acknowledge, confirm, mark a false alarm, resolve.

A false alarm or a resolve withdraws the alert in the same transaction as the disposition: the event's
protocol runs are aborted (no escalation, no further steps), its alerts not yet attempted are cancelled,
and everyone the alert may have reached (delivered, in flight, or attempted with an unknown outcome such as a
timeout, on every channel; not an address that was refused, nor a receiver nothing reached) is queued a
cancel or all-clear, as are the undo actions of calls, publishes and commands that ran (`Outbox.withdraw`).
Works from any process: the outbox delivers what is queued, here or in the running service.

A note is kept in the audit log (and the disposition), never put in the cancel: whoever holds a link
could otherwise write to every recipient in the site's name. An action from a link is checked against the
link's revocations and its stage (`alerts.link_checks`) in the action's own transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gunwatch.alerts import audit
from gunwatch.alerts.link_checks import link_refusal
from gunwatch.alerts.links import LinkClaim
from gunwatch.alerts.locks import lock_event
from gunwatch.alerts.message import MessageKind
from gunwatch.alerts.outbox import Delivery, NewDelivery, Outbox
from gunwatch.alerts.protocols.steps.registry import BY_ACTION
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DispositionRow, ProtocolRunRow

Disposition = Literal["acknowledged", "confirmed", "false_alarm", "resolved"]
FINAL = ("false_alarm", "resolved")
# What links and the command line call each action -> the method doing it.
ACTION_METHODS = {"ack": "acknowledge", "confirm": "confirm", "false_alarm": "false_alarm", "resolve": "resolve"}
DISPOSITIONS_OF: dict[str, Disposition] = {"acknowledge": "acknowledged", "confirm": "confirmed",
                                           "false_alarm": "false_alarm", "resolve": "resolved"}


class ActionRefused(ValueError):
    """An action that does not apply (an unknown event, or one already closed by a false alarm / resolve)."""


class LinkRefused(ActionRefused):
    """A link that no longer applies: revoked, or issued for a stage the event has left."""


@dataclass(frozen=True)
class ActionResult:
    event_id: str
    disposition: Disposition
    changed: bool  # False: the event already had this disposition (nothing new was sent)
    withdrawals: list[str]  # keys of the cancels / all-clears and undo actions queued
    aborted_runs: int


class EventActions:
    def __init__(self, store: EventStore, outbox: Outbox | None = None):
        self.store = store
        self.outbox = outbox or Outbox(store)

    def acknowledge(self, event_id: str, actor: str, note: str | None = None) -> ActionResult:
        """Someone is on it: escalations stop (the protocol's wait_ack steps see it)."""
        return self._apply(event_id, "acknowledged", actor, note)

    def confirm(self, event_id: str, actor: str, note: str | None = None) -> ActionResult:
        """A verifier saw a real gun: a protocol waiting for verification goes on at once."""
        return self._apply(event_id, "confirmed", actor, note)

    def false_alarm(self, event_id: str, actor: str, note: str | None = None) -> ActionResult:
        return self._apply(event_id, "false_alarm", actor, note)

    def resolve(self, event_id: str, actor: str, note: str | None = None) -> ActionResult:
        return self._apply(event_id, "resolved", actor, note)

    def perform(self, action: str, event_id: str, actor: str, note: str | None = None,
                link: LinkClaim | None = None) -> ActionResult:
        """An action by its name in links and on the command line: ack, confirm, false_alarm (or
        false-alarm), resolve. `link`: the claim of the link it came from, checked in the same transaction
        (LinkRefused when it was revoked or its stage is over)."""
        method = ACTION_METHODS.get(action.replace("-", "_"))
        if method is None:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTION_METHODS)}")
        return self._apply(event_id, DISPOSITIONS_OF[method], actor, note, link=link)

    def withdraw_incident(self, subject: str, actor: str, note: str) -> ActionResult:
        """All-clear for a non-event incident (a camera back online after its offline protocol ran)."""
        return self._apply(subject, "resolved", actor, note, must_exist=False)

    def _apply(self, event_id: str, disposition: Disposition, actor: str, note: str | None,
               must_exist: bool = True, link: LinkClaim | None = None) -> ActionResult:
        now = time.time()
        if must_exist and self.store.get_event(event_id) is None and not self._has_runs(event_id):
            raise ActionRefused(f"no event {event_id} in {self.store.url}")
        with self.store.errors(f"cannot record {disposition} of event {event_id} in"), \
                self.store.write_session.begin() as session:
            lock_event(session, event_id)  # before reading: a protocol starting now sees this, or is seen
            refusal = None if link is None else link_refusal(session, link)
            if refusal is None:
                return self._decide(session, event_id, disposition, actor, note, now)
            assert link is not None
            audit.append(session, actor, "link.refused", event_id, at=now, link_action=link.action,
                         link_kind=link.kind, reason=refusal)  # committed: the attempt is on record
        raise LinkRefused(f"this link no longer applies: {refusal}")

    def _decide(self, session: Session, event_id: str, disposition: Disposition, actor: str, note: str | None,
                now: float) -> ActionResult:
        current = session.get(DispositionRow, event_id)
        if current is not None and current.disposition in FINAL:
            if current.disposition == disposition:
                audit.append(session, actor, f"event.{disposition}.repeated", event_id, at=now, note=note)
                return ActionResult(event_id, disposition, False, [], 0)
            raise ActionRefused(f"event {event_id} is already {current.disposition.replace('_', ' ')} "
                                f"(by {current.actor}); it cannot become {disposition.replace('_', ' ')}")
        if current is not None and current.disposition == disposition:
            audit.append(session, actor, f"event.{disposition}.repeated", event_id, at=now, note=note)
            return ActionResult(event_id, disposition, False, [], 0)
        self._record(session, current, event_id, disposition, actor, note, now)
        audit.append(session, actor, f"event.{disposition}", event_id, at=now, note=note)
        if disposition not in FINAL:
            return ActionResult(event_id, disposition, True, [], 0)
        aborted = _abort_runs(session, event_id, actor, now)
        kind: MessageKind = "cancel" if disposition == "false_alarm" else "all_clear"
        reached = self.outbox.withdraw(session, event_id)
        withdrawals = _withdrawals(reached, kind, {"actor": actor}, now)
        keys = self.outbox.enqueue(withdrawals, session)
        audit.append(session, actor, f"event.{kind}_queued", event_id, at=now, deliveries=len(keys),
                     reached=len(reached))
        return ActionResult(event_id, disposition, True, keys, aborted)

    def _has_runs(self, event_id: str) -> bool:
        with self.store.read_session() as session:
            return session.query(ProtocolRunRow.id).filter(ProtocolRunRow.event_id == event_id).first() is not None

    @staticmethod
    def _record(session: Session, current: DispositionRow | None, event_id: str, disposition: Disposition,
                actor: str, note: str | None, now: float) -> None:
        acknowledged_at = current.acknowledged_at if current is not None else None
        if disposition == "acknowledged" and acknowledged_at is None:
            acknowledged_at = now
        if current is None:
            session.add(DispositionRow(event_id=event_id, disposition=disposition, actor=actor, note=note,
                                       acknowledged_at=acknowledged_at, at=now))
        else:
            current.disposition, current.actor, current.note = disposition, actor, note
            current.acknowledged_at, current.at = acknowledged_at, now
        session.flush()


def _abort_runs(session: Session, event_id: str, actor: str, now: float) -> int:
    # Locked in id order first, as ProtocolEngine.tick locks the active runs: two transactions locking the
    # same runs in different orders could deadlock (PostgreSQL), failing the false alarm.
    session.execute(select(ProtocolRunRow.id).where(ProtocolRunRow.event_id == event_id)
                    .order_by(ProtocolRunRow.id).with_for_update())
    aborted = session.execute(
        update(ProtocolRunRow).where(ProtocolRunRow.event_id == event_id, ProtocolRunRow.state != "aborted")
        .values(state="aborted", wake_at=None, updated_at=now)
    ).rowcount
    if aborted:
        audit.append(session, actor, "protocol.aborted", event_id, at=now, runs=aborted)
    return aborted


def _withdrawals(reached: list[Delivery], kind: MessageKind, extra: dict[str, Any], now: float) -> list[NewDelivery]:
    """What each delivery that may have happened is undone by, as its kind of step says: a cancel (or
    all-clear) for every (channel, recipient, address) a message may have reached, the undo of every action
    that ran and has one."""
    out: list[NewDelivery] = []
    seen: set[str] = set()
    for delivery in reached:
        step_kind = BY_ACTION.get(delivery.action)
        undo = None if step_kind is None else step_kind.undo(delivery, kind, extra, now)
        if undo is not None and undo.key not in seen:  # one cancel per address, however many messages went
            seen.add(undo.key)
            out.append(undo)
    return out
