"""The REST API's response and request bodies, as Pydantic models: what /api/openapi.json documents is what the
routes return. Times are epoch seconds (floats), as everywhere in gunwatch."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gunwatch.alerts.audit import AuditEntry
from gunwatch.alerts.event_actions import ActionResult
from gunwatch.alerts.history import RunSummary
from gunwatch.alerts.outbox import Delivery
from gunwatch.events.model import ThreatEvent
from gunwatch.service.cameras import CameraView
from gunwatch.service.channels import ChannelHealth
from gunwatch.service.events import DispositionInfo, EventDetail, EventSummary
from gunwatch.service.live import CameraLive
from gunwatch.service.runs import RunView
from gunwatch.video.health import HealthChange

MAX_NOTE = 500


class ErrorOut(BaseModel):
    detail: str = Field(description="what was wrong, in words")


class EvidenceOut(BaseModel):
    """API paths of the event's evidence files; None when the event names none (yet)."""

    snapshot: str | None
    annotated: str | None
    clip: str | None


class EventOut(BaseModel):
    id: str
    camera: str
    zone: str | None
    state: Literal["open", "updated", "closed"]
    max_score: float
    best_box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the analysed frame")
    boxes: list[list[float]]
    first_seen: float
    confirmed_at: float
    last_seen: float
    closed_at: float | None
    track_id: int | None
    evidence: EvidenceOut

    @classmethod
    def of(cls, event: ThreatEvent) -> EventOut:
        files = {which: f"/api/events/{event.id}/{which}" if getattr(event.evidence, which) else None
                 for which in ("snapshot", "annotated", "clip")}
        return cls(id=event.id, camera=event.camera, zone=event.zone, state=event.state, max_score=event.max_score,
                   best_box=list(event.best_box), boxes=[list(box) for box in event.boxes],
                   first_seen=event.first_seen, confirmed_at=event.confirmed_at, last_seen=event.last_seen,
                   closed_at=event.closed_at, track_id=event.track_id, evidence=EvidenceOut(**files))


class DispositionOut(BaseModel):
    disposition: Literal["acknowledged", "confirmed", "false_alarm", "resolved"]
    actor: str = Field(description="who said it: user:NAME, token:NAME (user:USER), cli:USER, link:RECIPIENT")
    note: str | None
    at: float
    acknowledged_at: float | None

    @classmethod
    def of(cls, info: DispositionInfo | None) -> DispositionOut | None:
        return None if info is None else cls.model_validate(info, from_attributes=True)


class EventSummaryOut(BaseModel):
    event: EventOut
    disposition: DispositionOut | None
    acknowledged: bool = Field(description="someone acknowledged it: escalations stopped")

    @classmethod
    def of(cls, summary: EventSummary) -> EventSummaryOut:
        return cls(event=EventOut.of(summary.event), disposition=DispositionOut.of(summary.disposition),
                   acknowledged=summary.acknowledged)


class EventPageOut(BaseModel):
    events: list[EventSummaryOut]
    next_before: str | None = Field(description="pass as `before` for the next page; None: this was the last")


class DeliveryOut(BaseModel):
    """One notification or action of the outbox (the recipient's address is left out: a phone number or mail
    address is not for every viewer)."""

    key: str
    kind: str
    action: str
    channel: str | None
    lane: str
    recipient: str | None
    status: Literal["pending", "sending", "delivered", "failed", "cancelled"]
    attempts: int
    last_error: str | None
    created_at: float
    first_attempt_at: float | None
    delivered_at: float | None
    next_attempt_at: float

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls.model_validate(delivery, from_attributes=True)


class RunSummaryOut(BaseModel):
    id: int
    protocol: str
    trigger: str
    state: str
    step: int = Field(description="the next step to run")
    escalated: bool
    wake_at: float | None
    started_at: float

    @classmethod
    def of(cls, run: RunSummary) -> RunSummaryOut:
        return cls.model_validate(run, from_attributes=True)


class AuditOut(BaseModel):
    at: float
    actor: str
    action: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditOut:
        return cls(at=entry.at, actor=entry.actor, action=entry.action, detail=entry.detail)


class EventDetailOut(BaseModel):
    id: str
    camera: str
    event: EventOut | None = Field(description="None for a camera-offline incident")
    disposition: DispositionOut | None
    runs: list[RunSummaryOut]
    deliveries: list[DeliveryOut]
    audit: list[AuditOut] = Field(description="the event's history, oldest first")

    @classmethod
    def of(cls, detail: EventDetail) -> EventDetailOut:
        return cls(id=detail.event_id, camera=detail.camera,
                   event=None if detail.event is None else EventOut.of(detail.event),
                   disposition=DispositionOut.of(detail.disposition), runs=[RunSummaryOut.of(r) for r in detail.runs],
                   deliveries=[DeliveryOut.of(d) for d in detail.deliveries],
                   audit=[AuditOut.of(a) for a in detail.audit])


class ActionIn(BaseModel):
    note: str | None = Field(None, max_length=MAX_NOTE, description="kept in the audit log, never sent to anyone")


class ActionResultOut(BaseModel):
    event_id: str
    disposition: str
    changed: bool = Field(description="False: the event already had this disposition; nothing new was sent")
    withdrawals: int = Field(description="cancels, all-clears and undo actions queued")
    aborted_runs: int

    @classmethod
    def of(cls, result: ActionResult) -> ActionResultOut:
        return cls(event_id=result.event_id, disposition=result.disposition, changed=result.changed,
                   withdrawals=len(result.withdrawals), aborted_runs=result.aborted_runs)


class HealthOut(BaseModel):
    state: str
    reason: str
    at: float

    @classmethod
    def of(cls, change: HealthChange) -> HealthOut:
        return cls(state=change.state, reason=change.reason, at=change.at)


class CameraLiveOut(BaseModel):
    """The running watch's numbers: rates over the last few seconds, counters since it started."""

    state: str
    reason: str
    fps_in: float
    fps_analysed: float
    frames_in: int
    dropped: int
    analysed: int
    still: int
    infer_ms: float
    top_score: float = Field(description="the highest gun score of the last few seconds, counted or not")
    threshold: float
    motion_share: float
    events: int
    restarts: int

    @classmethod
    def of(cls, live: CameraLive | None) -> CameraLiveOut | None:
        if live is None:
            return None
        return cls.model_validate({**live.__dict__, "motion_share": live.motion_share})


class CameraOut(BaseModel):
    name: str
    kind: str | None
    state: str | None = Field(description="the stored health; None before its first record")
    reason: str | None
    state_at: float | None
    recent: list[HealthOut] = Field(description="the latest health changes, newest first")
    live: CameraLiveOut | None = Field(description="None when this server does not run the cameras")

    @classmethod
    def of(cls, view: CameraView) -> CameraOut:
        return cls(name=view.name, kind=view.kind, state=view.state, reason=view.reason, state_at=view.state_at,
                   recent=[HealthOut.of(c) for c in view.recent], live=CameraLiveOut.of(view.live))


class ChannelOut(BaseModel):
    channel: str
    state: Literal["ok", "failing", "idle"]
    delivered: int
    failed: int
    pending: int
    last_delivered_at: float | None
    last_error_at: float | None
    last_error: str | None
    oldest_pending_age_s: float | None
    window_s: float

    @classmethod
    def of(cls, health: ChannelHealth) -> ChannelOut:
        return cls.model_validate(health, from_attributes=True)


class RunOut(BaseModel):
    id: int
    protocol: str
    subject: str
    trigger: str
    event_id: str | None
    camera: str
    state: str
    step: int
    escalated: bool
    wake_at: float | None
    started_at: float
    updated_at: float
    deliveries: list[DeliveryOut]

    @classmethod
    def of(cls, run: RunView) -> RunOut:
        return cls.model_validate({**run.__dict__, "deliveries": [DeliveryOut.of(d) for d in run.deliveries]})
