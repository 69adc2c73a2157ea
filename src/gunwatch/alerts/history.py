"""One event's whole story for `gunwatch event show`: the event, what people said, the protocol runs, every
delivery with its status and attempts, and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from gunwatch.alerts.audit import AuditEntry, AuditLog
from gunwatch.alerts.outbox import Delivery, Outbox
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.report import event_json, local_time, seconds_text, text_table
from gunwatch.events.store.schema import DispositionRow, ProtocolRunRow


@dataclass(frozen=True)
class RunSummary:
    id: int
    protocol: str
    trigger: str
    state: str
    step: int
    escalated: bool
    wake_at: float | None
    started_at: float


@dataclass(frozen=True)
class EventHistory:
    event_id: str
    event: ThreatEvent | None  # None for a camera-offline incident
    disposition: dict[str, Any] | None
    runs: list[RunSummary]
    deliveries: list[Delivery]
    audit: list[AuditEntry]


def event_history(store: EventStore, event_id: str) -> EventHistory | None:
    """None when the store knows nothing of this id."""
    event = store.get_event(event_id)
    with store.errors("cannot read"), store.read_session() as session:
        row = session.get(DispositionRow, event_id)
        disposition = None if row is None else {
            "disposition": row.disposition, "actor": row.actor, "note": row.note, "at": row.at,
            "acknowledged_at": row.acknowledged_at}
        runs = [RunSummary(r.id, r.protocol, r.trigger, r.state, r.step, bool(r.escalated), r.wake_at, r.started_at)
                for r in session.scalars(select(ProtocolRunRow).where(ProtocolRunRow.event_id == event_id)
                                         .order_by(ProtocolRunRow.id))]
    deliveries = Outbox(store).of_event(event_id)
    audit = AuditLog(store).of_event(event_id)
    if event is None and not runs and not deliveries and not audit:
        return None
    return EventHistory(event_id, event, disposition, runs, deliveries, audit)


def history_json(history: EventHistory) -> dict[str, Any]:
    disposition = None if history.disposition is None else {
        **history.disposition, "at": local_time(history.disposition["at"]),
        "acknowledged_at": local_time(history.disposition["acknowledged_at"])}
    return {
        "id": history.event_id,
        "event": None if history.event is None else event_json(history.event),
        "disposition": disposition,
        "runs": [{"id": r.id, "protocol": r.protocol, "trigger": r.trigger, "state": r.state, "next_step": r.step,
                  "escalated": r.escalated, "wake_at": local_time(r.wake_at), "started_at": local_time(r.started_at)}
                 for r in history.runs],
        "deliveries": [{"key": d.key, "kind": d.kind, "action": d.action, "channel": d.channel,
                        "recipient": d.recipient, "address": d.address, "status": d.status, "attempts": d.attempts,
                        "last_error": d.last_error, "created_at": local_time(d.created_at),
                        "delivered_at": local_time(d.delivered_at)} for d in history.deliveries],
        "audit": [{"at": local_time(a.at), "actor": a.actor, "action": a.action, "detail": a.detail}
                  for a in history.audit],
    }


def format_history(history: EventHistory) -> str:
    parts = []
    event = history.event
    if event is not None:
        parts.append(f"event {event.id}: camera {event.camera}{f' zone {event.zone}' if event.zone else ''}, "
                     f"{event.state}, max score {event.max_score:.2f}, first seen {seconds_text(event.first_seen)}, "
                     f"last seen {seconds_text(event.last_seen)}")
        evidence = [p for p in (event.evidence.snapshot, event.evidence.annotated, event.evidence.clip) if p]
        parts.append(f"evidence: {' '.join(evidence) or '-'}")
    else:
        parts.append(f"incident {history.event_id}")
    if history.disposition is not None:
        d = history.disposition
        parts.append(f"disposition: {d['disposition'].replace('_', ' ')} by {d['actor']} at {seconds_text(d['at'])}"
                     + (f" ({d['note']})" if d["note"] else ""))
    else:
        parts.append("disposition: none yet (not acknowledged)")
    if history.runs:
        header = ["id", "protocol", "trigger", "state", "next step", "started"]
        parts.append("protocol runs:\n" + text_table([header] + [
            [str(r.id), r.protocol, r.trigger, r.state + (" (escalated)" if r.escalated else ""), str(r.step),
             seconds_text(r.started_at)] for r in history.runs]))
    if history.deliveries:
        parts.append("deliveries:\n" + text_table([["kind", "channel", "recipient", "status", "tries", "error"]] + [
            [d.kind, d.channel or d.action, d.recipient or "-", d.status, str(d.attempts),
             (d.last_error or "-")[:60]] for d in history.deliveries]))
    if history.audit:
        parts.append("history:\n" + text_table([["time", "by", "what", "detail"]] + [
            [_clock(a.at), a.actor, a.action, _detail(a.detail)] for a in history.audit]))
    return "\n".join(parts)


def _clock(at: float) -> str:
    """Time of day to the millisecond: the history spans seconds, and its order is what matters."""
    return datetime.fromtimestamp(at).astimezone().strftime("%H:%M:%S.%f")[:-3]


def _detail(detail: dict[str, Any]) -> str:
    shown = {k: v for k, v in detail.items() if v not in (None, [], "") and k != "key"}
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    key = detail.get("key")
    if key:
        text = f"{key.split(':', 1)[-1]}" + (f" {text}" if text else "")
    return text[:110]
