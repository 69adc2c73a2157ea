"""The one message type every channel carries: an alert about a threat event or a camera, or its cancel."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

MessageKind = Literal[
    "pre_alert",  # to verifiers only: confirm or call a false alarm before the protocol goes on
    "alert",  # a confirmed threat: act now
    "escalation",  # nobody acknowledged in time: the next group is told
    "cancel",  # false alarm: stop acting on the alert
    "all_clear",  # the threat is over (resolved)
    "camera_offline",  # a camera stopped delivering video (an attacker may disable cameras first)
    "disk_low",  # the evidence disk is below its floor: events go on, without pictures and clips
    "snapshot",  # the picture of an alert that went out without it (the evidence disk was slow)
    "test",  # `gunwatch alert test`: does the channel work? Nothing happened
]
MESSAGE_KINDS: tuple[str, ...] = ("pre_alert", "alert", "escalation", "cancel", "all_clear", "camera_offline",
                                  "disk_low", "snapshot", "test")
# Kinds that tell of a threat: they carry its snapshot, or say that it follows.
THREAT_KINDS = ("pre_alert", "alert", "escalation")
# Kinds that withdraw earlier ones: channels show them so nobody can mistake them for a new alert.
WITHDRAWING_KINDS = ("cancel", "all_clear")


@dataclass(frozen=True)
class AlertMessage:
    """What one delivery says. Times are epoch seconds; `snapshot` is a local JPEG path (attached where the
    channel can carry files), `snapshot_url` a link to it. `key` is the idempotency key: the same key is
    the same notification, however often it is delivered (receivers deduplicate on it)."""

    key: str
    kind: MessageKind
    title: str
    body: str
    camera: str | None = None
    event_id: str | None = None
    zone: str | None = None
    score: float | None = None
    first_seen: float | None = None
    confirmed_at: float | None = None
    created_at: float = 0.0
    site: str | None = None
    protocol: str | None = None
    step: int | None = None
    recipient: str | None = None
    snapshot: str | None = None
    snapshot_url: str | None = None
    # action name -> signed URL (ack, false_alarm, ...): set only when sent to one person on their own
    # channel (alerts.outbox.executor); never stored, never broadcast.
    links: dict[str, str] = field(default_factory=dict)

    @property
    def withdraws(self) -> bool:
        return self.kind in WITHDRAWING_KINDS

    def to_json(self) -> dict[str, Any]:
        """The JSON object webhooks, MQTT and the file sink carry (times as epoch seconds and ISO text)."""
        data = asdict(self)
        for name in ("first_seen", "confirmed_at", "created_at"):
            value = data[name]
            data[f"{name}_iso"] = None if value is None else datetime.fromtimestamp(value).astimezone().isoformat()
        return data

    def broadcast_json(self) -> dict[str, Any]:
        """`to_json()` without the action links or the snapshot link, for what many read (an MQTT topic, a
        shared file): a link is a credential of the one person it was sent to."""
        data = self.to_json()
        del data["links"]
        data["snapshot_url"] = None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertMessage:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)
