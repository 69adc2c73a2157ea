"""The outbox's table operations: enqueue, claim, settle, cancel, and recover claims a crash left behind.

Every change of a delivery is one short transaction that also appends its audit entry. Claims are
conditional updates (`... WHERE id = ? AND status = 'pending'`), so two workers, or two processes (the
service and a CLI command delivering a cancel), never both send one delivery.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from gunwatch.alerts import audit
from gunwatch.alerts.message import WITHDRAWING_KINDS
from gunwatch.alerts.outbox.deliveries import Delivery, NewDelivery
from gunwatch.events.store import EventStore
from gunwatch.events.store.columns import EpochTime
from gunwatch.events.store.schema import AuditRow, DeliveryRow

OUTBOX_ACTOR = "outbox"
_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def this_worker() -> str:
    """HOST:PID, written on a claim: a restart on the same host can tell its dead predecessor's claims."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Outbox:
    def __init__(self, store: EventStore, worker: str | None = None):
        self.store = store
        self.worker = worker or this_worker()

    # --- writing deliveries --------------------------------------------------------------------------

    def enqueue(self, deliveries: Iterable[NewDelivery], session: Session | None = None) -> list[str]:
        """Store deliveries (a key already stored is left as it is); returns the keys that were new.

        Pass `session` to enqueue inside the caller's transaction (a protocol step and its deliveries
        commit together)."""
        items = list(deliveries)
        if not items:
            return []
        if session is not None:
            return self._insert(session, items)
        with self.store.errors("cannot enqueue deliveries in"), self.store.write_session.begin() as own:
            return self._insert(own, items)

    def _insert(self, session: Session, items: list[NewDelivery]) -> list[str]:
        now = time.time()
        new = []
        for item in items:
            values = _row_values(item, now)
            # RETURNING says whether the row was inserted: an ORM insert's rowcount is -1 on PostgreSQL.
            statement = _INSERTS[self.store.dialect](DeliveryRow).values(values).on_conflict_do_nothing(
                index_elements=["key"]).returning(DeliveryRow.id)
            if session.execute(statement).first() is not None:
                new.append(item.key)
                # `delivery_action`: `action` is audit.append's own parameter (the audit entry's action).
                audit.append(session, OUTBOX_ACTOR, "delivery.queued", item.event_id, at=now, key=item.key,
                             kind=item.kind, delivery_action=item.action, channel=item.channel,
                             recipient=item.recipient)
        return new

    # --- the worker's side ---------------------------------------------------------------------------

    def claim(self, lane: str, lease_s: float, now: float | None = None,
              keys: Collection[str] | None = None) -> Delivery | None:
        """The lane's oldest due delivery, now `sending` and counted as an attempt; None when none is due.

        Due: pending and its time has come, or claimed by a worker whose lease ran out (it died, or lost
        the database while recording the outcome). `keys` limits the claim to those deliveries (a command
        delivering its own cancels). A cancel waits while an alert of its event is being sent on the same
        lane by another worker, so it cannot overtake it."""
        now = time.time() if now is None else now
        other = aliased(DeliveryRow)
        alert_in_flight = select(other.id).where(
            other.event_id == DeliveryRow.event_id, other.lane == DeliveryRow.lane, other.status == "sending",
            other.kind.not_in(WITHDRAWING_KINDS), other.lease_until >= now).exists()
        claimable = or_(and_(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now),
                        and_(DeliveryRow.status == "sending", DeliveryRow.lease_until < now))
        due = and_(DeliveryRow.lane == lane, claimable,
                   ~and_(DeliveryRow.kind.in_(WITHDRAWING_KINDS), alert_in_flight))
        if keys is not None:
            due = and_(due, DeliveryRow.key.in_(list(keys)))
        with self.store.errors(f"cannot claim a delivery of lane {lane} in"):
            for _ in range(5):  # another worker may win the row between the select and the update
                with self.store.write_session.begin() as session:
                    row = session.scalars(
                        select(DeliveryRow).where(due).order_by(DeliveryRow.next_attempt_at, DeliveryRow.id).limit(1)
                    ).first()
                    if row is None:
                        return None
                    lost_claim = row.status == "sending"
                    if lost_claim and self._withdrawn_meanwhile(session, _delivery(row)):
                        # An alert whose worker was lost, withdrawn since: sent now, it would follow its cancel.
                        row.status, row.lease_until, row.updated_at = "cancelled", None, now
                        audit.append(session, OUTBOX_ACTOR, "delivery.cancelled", row.event_id, at=now,
                                     key=row.key, reason="alert withdrawn while its claim was lost")
                        continue
                    claimed = session.execute(
                        update(DeliveryRow)
                        .where(DeliveryRow.id == row.id, claimable)
                        .values(status="sending", attempts=DeliveryRow.attempts + 1, lease_until=now + lease_s,
                                claimed_by=self.worker, updated_at=now,
                                # `now` typed as the column: a bare float is stored as a number, not a time.
                                first_attempt_at=func.coalesce(DeliveryRow.first_attempt_at,
                                                               literal(now, EpochTime())))
                    ).rowcount
                    if claimed:
                        if lost_claim:
                            audit.append(session, OUTBOX_ACTOR, "delivery.recovered", row.event_id, at=now,
                                         key=row.key, claimed_by=row.claimed_by, attempt=row.attempts,
                                         reason="its claim's lease ran out")
                        session.flush()
                        session.refresh(row)
                        return _delivery(row)
        return None

    def delivered(self, delivery: Delivery, duration_s: float) -> None:
        now = time.time()
        with self._settling(delivery) as session:
            session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery.id).values(
                status="delivered", delivered_at=now, lease_until=None, last_error=None, updated_at=now))
            audit.append(session, OUTBOX_ACTOR, "delivery.delivered", delivery.event_id, at=now, key=delivery.key,
                         channel=delivery.channel, recipient=delivery.recipient, attempt=delivery.attempts,
                         duration_ms=round(duration_s * 1000, 1))

    def retry(self, delivery: Delivery, error: str, retry_at: float, may_have_arrived: bool = True) -> None:
        """Back to pending until `retry_at`; cancelled instead when its alert was withdrawn meanwhile (a
        retried alert must never arrive after its cancel). `may_have_arrived`: the attempt's outcome is unknown
        (a timeout): kept in the audit entry, for `withdraw` to tell."""
        now = time.time()
        with self._settling(delivery) as session:
            withdrawn = self._withdrawn_meanwhile(session, delivery)
            status = "cancelled" if withdrawn else "pending"
            session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery.id).values(
                status=status, next_attempt_at=retry_at, lease_until=None, last_error=error, updated_at=now))
            audit.append(session, OUTBOX_ACTOR, "delivery.failed_attempt", delivery.event_id, at=now,
                         key=delivery.key, channel=delivery.channel, recipient=delivery.recipient,
                         attempt=delivery.attempts, error=error, may_have_arrived=may_have_arrived,
                         next="cancelled (alert withdrawn)" if withdrawn else f"retry in {retry_at - now:.1f} s")

    def defer(self, delivery: Delivery, until: float, reason: str) -> None:
        """Put a claimed delivery back, not attempted (the attempt is not counted), until `until`; cancelled
        instead when its alert was withdrawn meanwhile (as in `retry`: sent later, it would follow its cancel)."""
        now = time.time()
        with self._settling(delivery) as session:
            withdrawn = self._withdrawn_meanwhile(session, delivery)
            session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery.id).values(
                status="cancelled" if withdrawn else "pending", attempts=DeliveryRow.attempts - 1,
                next_attempt_at=until, lease_until=None, updated_at=now))
            if withdrawn:
                audit.append(session, OUTBOX_ACTOR, "delivery.cancelled", delivery.event_id, at=now,
                             key=delivery.key, channel=delivery.channel, recipient=delivery.recipient,
                             attempts=delivery.attempts - 1, reason=f"alert withdrawn while held back ({reason})")
            else:
                audit.append(session, OUTBOX_ACTOR, "delivery.deferred", delivery.event_id, at=now,
                             key=delivery.key, channel=delivery.channel, recipient=delivery.recipient, until=until,
                             reason=reason)

    def failed(self, delivery: Delivery, error: str, may_have_arrived: bool = True) -> None:
        """Given up: an error no retry can fix, or too many attempts. `may_have_arrived` as in `retry`."""
        now = time.time()
        with self._settling(delivery) as session:
            session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery.id).values(
                status="failed", lease_until=None, last_error=error, updated_at=now))
            audit.append(session, OUTBOX_ACTOR, "delivery.given_up", delivery.event_id, at=now, key=delivery.key,
                         channel=delivery.channel, recipient=delivery.recipient, attempt=delivery.attempts,
                         error=error, may_have_arrived=may_have_arrived)

    def next_due(self, lane: str) -> float | None:
        """When the lane's next pending delivery is due (None: nothing pending)."""
        query = select(func.min(DeliveryRow.next_attempt_at)).where(
            DeliveryRow.lane == lane, DeliveryRow.status == "pending")
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return session.scalar(query)

    def recover(self, now: float | None = None) -> int:
        """Claims left by workers that died (`kill -9`, a power cut) go back to pending: a claim of a dead
        process on this host at once, any other claim once its lease has run out. Returns how many go out
        again: an alert whose event was withdrawn meanwhile is cancelled instead (as `retry` does), since sent
        now it would arrive after its cancel.

        At-least-once: such a delivery may have reached its receiver just before the crash, and then
        arrives twice, with the same idempotency key."""
        now = time.time() if now is None else now
        host = socket.gethostname()
        requeued = 0
        with self.store.errors("cannot recover deliveries in"), self.store.write_session.begin() as session:
            # Locked, as `withdraw` locks them: a withdrawal committing meanwhile is seen by `_withdrawn` below.
            rows = session.scalars(select(DeliveryRow).where(DeliveryRow.status == "sending").with_for_update()).all()
            lost = [row for row in rows if _claim_lost(row, host, now, self.worker)]
            for row in lost:
                withdrawn = row.kind not in WITHDRAWING_KINDS and self._withdrawn(session, row.event_id)
                session.execute(update(DeliveryRow).where(DeliveryRow.id == row.id, DeliveryRow.status == "sending")
                                .values(status="cancelled" if withdrawn else "pending", next_attempt_at=now,
                                        lease_until=None, updated_at=now))
                audit.append(session, OUTBOX_ACTOR, "delivery.recovered", row.event_id, at=now, key=row.key,
                             claimed_by=row.claimed_by, attempt=row.attempts,
                             next="cancelled (alert withdrawn)" if withdrawn else "retry now")
                requeued += not withdrawn
            return requeued

    # --- cancel --------------------------------------------------------------------------------------

    def withdraw(self, session: Session, event_id: str) -> list[Delivery]:
        """Inside the caller's transaction: stop the event's pending alerts (they are cancelled, never sent)
        and return every delivery of the event that may have reached someone, for the cancel to follow.

        A message may have reached someone when it was delivered, is being sent, or had an attempt whose
        outcome is unknown (a timeout, a lost worker). One whose every attempt certainly failed (refused,
        nothing connected), and one never attempted, reached nobody: they get no "cancelled". Actions (calls,
        publishes, commands) that ran at all are returned as before: a failed lockdown call may have locked
        some doors, and its undo is harmless."""
        now = time.time()
        # FOR UPDATE (PostgreSQL; SQLite's write lock serialises anyway): a worker settling an attempt of one
        # of these rows (`retry`, `defer`, `recover`) locks it first, so one of the two waits for the other.
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.event_id == event_id)
                               .order_by(DeliveryRow.id).with_for_update()).all()
        for row in rows:
            if row.status == "pending" and row.kind not in WITHDRAWING_KINDS:
                row.status, row.updated_at = "cancelled", now
                audit.append(session, OUTBOX_ACTOR, "delivery.cancelled", event_id, at=now, key=row.key,
                             channel=row.channel, recipient=row.recipient, attempts=row.attempts)
        session.flush()
        attempted = [d for d in map(_delivery, rows) if d.may_have_reached and d.kind not in WITHDRAWING_KINDS]
        unsure = [d.key for d in attempted if d.action == "message" and d.status not in ("delivered", "sending")]
        maybe = _attempts_maybe_arrived(session, event_id, unsure) if unsure else set()
        return [d for d in attempted if d.key not in unsure or d.key in maybe]

    def _withdrawn_meanwhile(self, session: Session, delivery: Delivery) -> bool:
        """Whether `delivery`, claimed by this worker, is an alert whose event was withdrawn since. Its row is
        locked first, so a concurrent withdrawal either committed before (its cancel is seen here) or waits
        for this transaction and then finds the delivery pending, and cancels it itself. Without the lock,
        on PostgreSQL, a retry settled while the withdrawal commits would go back to pending and be sent
        after the cancel."""
        if delivery.kind in WITHDRAWING_KINDS:
            return False
        session.execute(select(DeliveryRow.id).where(DeliveryRow.id == delivery.id).with_for_update())
        return self._withdrawn(session, delivery.event_id)

    def _withdrawn(self, session: Session, event_id: str | None) -> bool:
        if event_id is None:
            return False
        query = select(DeliveryRow.id).where(DeliveryRow.event_id == event_id,
                                             DeliveryRow.kind.in_(WITHDRAWING_KINDS)).limit(1)
        return session.scalar(query) is not None

    # --- reading -------------------------------------------------------------------------------------

    def of_event(self, event_id: str) -> list[Delivery]:
        return self.list(event_id=event_id)

    def list(self, event_id: str | None = None, status: str | None = None, limit: int = 1000) -> list[Delivery]:
        query = select(DeliveryRow).order_by(DeliveryRow.id)
        if event_id is not None:
            query = query.where(DeliveryRow.event_id == event_id)
        if status is not None:
            query = query.where(DeliveryRow.status == status)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return [_delivery(row) for row in session.scalars(query.limit(limit))]

    def get(self, key: str) -> Delivery | None:
        with self.store.errors("cannot read"), self.store.read_session() as session:
            row = session.scalars(select(DeliveryRow).where(DeliveryRow.key == key)).first()
            return None if row is None else _delivery(row)

    @contextmanager
    def _settling(self, delivery: Delivery) -> Iterator[Session]:
        """A write transaction for one delivery's outcome; a failure names the delivery."""
        with self.store.errors(f"cannot record the outcome of {delivery.key} in"), \
                self.store.write_session.begin() as session:
            yield session


# The audit entries that end an attempt without a success: each says whether it may have arrived all the same.
_ATTEMPT_ENDINGS = ("delivery.failed_attempt", "delivery.given_up", "delivery.recovered")


def _attempts_maybe_arrived(session: Session, event_id: str, keys: list[str]) -> set[str]:
    """Which of `keys` had an attempt that may have arrived, as the audit log records each attempt's end: a
    worker lost mid-attempt (recovered), or a failure not known to be a refusal. Entries written before the
    outcome was recorded count as unknown."""
    wanted = set(keys)
    query = select(AuditRow.detail).where(AuditRow.event_id == event_id, AuditRow.action.in_(_ATTEMPT_ENDINGS))
    maybe: set[str] = set()
    for detail in session.scalars(query):
        key = detail.get("key") if isinstance(detail, dict) else None
        if key in wanted and detail.get("may_have_arrived", True):
            maybe.add(key)
    return maybe


def _claim_lost(row: DeliveryRow, host: str, now: float, worker: str) -> bool:
    if row.claimed_by and row.claimed_by != worker and row.claimed_by.rpartition(":")[0] == host:
        pid = row.claimed_by.rpartition(":")[2]
        if pid.isdigit() and not _process_alive(int(pid)):
            return True
    return row.lease_until is None or row.lease_until < now


def _row_values(item: NewDelivery, now: float) -> dict[str, Any]:
    return {
        "key": item.key, "event_id": item.event_id, "run_id": item.run_id, "step": item.step, "kind": item.kind,
        "action": item.action, "lane": item.lane, "channel": item.channel, "recipient": item.recipient,
        "address": item.address, "payload": item.payload, "status": "pending", "attempts": 0,
        "next_attempt_at": now if item.not_before is None else max(now, item.not_before),
        "created_at": now, "updated_at": now,
    }


def _delivery(row: DeliveryRow) -> Delivery:
    return Delivery(row.id, row.key, row.kind, row.action, row.lane, dict(row.payload), row.event_id,  # type: ignore[arg-type]
                    row.run_id, row.step, row.channel, row.recipient, row.address, row.status,  # type: ignore[arg-type]
                    row.attempts, row.next_attempt_at, row.last_error, row.created_at, row.first_attempt_at,
                    row.delivered_at)



