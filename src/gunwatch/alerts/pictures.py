"""The snapshot of an alert that went out without it: a slow or hung evidence disk never holds an alert back.

The pipeline hands an event to the alerts when its snapshot is written, or after a short wait without it
(`pipeline.evidence_writer`); its messages then say "snapshot not available yet" (`texts.NO_SNAPSHOT`). When the
picture comes, `attach_picture` puts it on the event's alert messages not sent yet (and on those being sent,
for a retry), sends it to everyone an alert may have reached, once per (channel, recipient, address), as a
message of its own (kind `snapshot`), and gives it to the event's protocol runs for their later steps. Not after
a cancel or an all-clear: the event is over for its recipients.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gunwatch.alerts import audit
from gunwatch.alerts.locks import lock_event
from gunwatch.alerts.message import THREAT_KINDS, WITHDRAWING_KINDS
from gunwatch.alerts.outbox import NewDelivery, Outbox
from gunwatch.alerts.texts import NO_SNAPSHOT, make_message
from gunwatch.events.evidence import picture_to_send
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store.schema import DeliveryRow, ProtocolRunRow

ACTOR = "pipeline"
_CONTEXT_FIELDS = ("event_id", "camera", "zone", "score", "first_seen", "confirmed_at", "site", "protocol")


@dataclass(frozen=True)
class Attached:
    attached: int  # alert messages not yet sent that now carry the picture
    follow_ups: list[str]  # keys of the snapshot messages queued for alerts already sent (or being sent)


def attach_picture(outbox: Outbox, event: ThreatEvent, now: float | None = None) -> Attached:
    """`event` carries the snapshot its alerts went out without; see the module's words."""
    snapshot = picture_to_send(event.evidence)  # the annotated one: the box that fired drawn
    if not snapshot:
        raise ValueError(f"event {event.id} has no snapshot to attach")
    now = time.time() if now is None else now
    store = outbox.store
    with store.errors(f"cannot attach the snapshot of event {event.id} in"), store.write_session.begin() as session:
        lock_event(session, event.id)  # a false alarm is recorded before this (no picture follows) or after it
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.event_id == event.id)
                               .order_by(DeliveryRow.id).with_for_update()).all()
        if any(row.kind in WITHDRAWING_KINDS for row in rows):
            return Attached(0, [])
        attached, follow_ups, seen = 0, [], set()
        for row in rows:
            if row.action != "message" or row.kind not in THREAT_KINDS or row.payload.get("snapshot"):
                continue
            if row.status in ("pending", "sending"):  # sent now (or retried) with it
                row.payload, row.updated_at = _with_picture(row.payload, snapshot), now
                attached += row.status == "pending"
            if row.status in ("sending", "delivered"):
                key = f"{event.id}:snapshot:{row.channel}:{row.recipient or '-'}:{row.address or '-'}"
                if key not in seen:
                    seen.add(key)
                    follow_ups.append(_follow_up(key, row, snapshot, now))
        for run in session.scalars(select(ProtocolRunRow).where(ProtocolRunRow.event_id == event.id)):
            if not run.context.get("snapshot"):  # the run's later steps (an escalation) carry it
                run.context = {**run.context, "snapshot": snapshot}
        keys = outbox.enqueue(follow_ups, session)
        if attached or keys:
            audit.append(session, ACTOR, "event.snapshot_late", event.id, event.camera, at=now, attached=attached,
                         follow_ups=len(keys))
        return Attached(attached, keys)


def _with_picture(payload: dict[str, Any], snapshot: str) -> dict[str, Any]:
    body = str(payload.get("body") or "").replace("\n" + NO_SNAPSHOT, "")
    return {**payload, "snapshot": snapshot, "body": body}  # a new dict: the JSON column sees the change


def _follow_up(key: str, row: DeliveryRow, snapshot: str, now: float) -> NewDelivery:
    context = {name: row.payload.get(name) for name in _CONTEXT_FIELDS} | {"snapshot": snapshot}
    message = make_message(key, "snapshot", context, now, recipient=row.payload.get("recipient"))
    return NewDelivery(key, "snapshot", "message", row.lane, message.to_json(), row.event_id, row.run_id, row.step,
                       row.channel, row.recipient, row.address)
