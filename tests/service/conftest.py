"""Shared fixtures of the service-layer tests: principals of each role, events saved by the real store, protocol
runs started by the real engine, deliveries moved through the real outbox, and a fixed LiveView.

The store runs on both backends (a SQLite file and a real PostgreSQL server): the service's queries (the
timeline's cursor, channel health's aggregates, the feed's look-back) are SQL that differs between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import pytest
from PIL import Image

from gunwatch.alerts.message import AlertMessage
from gunwatch.alerts.outbox import Delivery, NewDelivery, Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.service.live import CameraLive
from gunwatch.users.principal import Principal, user_principal

ADMIN = user_principal("ada", "admin", None)
OPERATOR = user_principal("otto", "operator", None)
VIEWER = user_principal("vera", "viewer", None)
LOBBY_ONLY = user_principal("lola", "operator", frozenset({"lobby"}))


@pytest.fixture
def principals() -> dict[str, Principal]:
    return {"admin": ADMIN, "operator": OPERATOR, "viewer": VIEWER, "lobby_only": LOBBY_ONLY}


def threat(camera: str = "lobby", confirmed_at: float | None = None, **changes: Any) -> ThreatEvent:
    """An open threat event on `camera`, confirmed at `confirmed_at` (default now)."""
    at = time.time() if confirmed_at is None else confirmed_at
    fields: dict[str, Any] = {"camera": camera, "state": "open", "first_seen": at - 0.5, "confirmed_at": at,
                              "last_seen": at, "max_score": 0.8, "best_box": (1.0, 2.0, 30.0, 40.0), "zone": "door"}
    return ThreatEvent(**(fields | changes))


@pytest.fixture
def save_event(store: EventStore) -> Callable[..., ThreatEvent]:
    """`save_event(camera="lobby", confirmed_at=None, **changes)`: a ThreatEvent saved by the store."""

    def save(camera: str = "lobby", confirmed_at: float | None = None, **changes: Any) -> ThreatEvent:
        event = threat(camera, confirmed_at, **changes)
        store.save_event(event)
        return event

    return save


def jpeg(color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, format="JPEG")
    return buffer.getvalue()


ALERT_SETTINGS = {
    "channels": {"email": {"url": "smtp://127.0.0.1:9"}},
    "recipients": {"alice": {"addresses": {"email": "alice@school.example"}}},
    "protocols": {"lockdown": {"steps": [{"notify": {"to": ["alice"], "via": ["email"]}}]}},
}


@pytest.fixture
def start_protocol(store: EventStore) -> Callable[[ThreatEvent], int]:
    """`start_protocol(event)`: the real engine starts the site's protocol for the event and runs its notify
    step (an alert to alice by email, queued in the outbox); returns the run's id."""
    engine = ProtocolEngine(AlertSettings.model_validate(ALERT_SETTINGS), store, Outbox(store))

    def start(event: ThreatEvent) -> int:
        (run_id,) = engine.on_event(event)
        engine.tick()
        return run_id

    return start


def message_delivery(event_id: str | None, channel: str, recipient: str = "alice", kind: str = "alert") -> NewDelivery:
    """A message to `recipient` on `channel` (its own lane), as a protocol's notify step queues it."""
    key = f"{event_id}:{channel}:{recipient}:{kind}"
    message = AlertMessage(key, kind, "Gun seen", "camera lobby", camera="lobby", event_id=event_id,  # type: ignore[arg-type]
                           created_at=time.time(), recipient=recipient)
    return NewDelivery(key, kind, "message", channel, message.to_json(), event_id, channel=channel,
                       recipient=recipient, address=f"{recipient}@example.org")


@pytest.fixture
def outbox(store: EventStore) -> Outbox:
    return Outbox(store)


def claim(outbox: Outbox, lane: str) -> Delivery:
    delivery = outbox.claim(lane, lease_s=30.0)
    assert delivery is not None, f"nothing to claim on lane {lane}"
    return delivery


@dataclass
class FixedLiveView:
    """A LiveView with fixed numbers and frames, as the pipeline's (gunwatch.pipeline.live_view) reports them."""

    live: list[CameraLive] = field(default_factory=list)
    frames: dict[str, tuple[bytes, float]] = field(default_factory=dict)

    def cameras(self) -> list[CameraLive]:
        return list(self.live)

    def frame_jpeg(self, camera: str) -> tuple[bytes, float] | None:
        return self.frames.get(camera)


def camera_live(camera: str, **changes: Any) -> CameraLive:
    fields: dict[str, Any] = {
        "camera": camera, "state": "online", "reason": "frames arrive", "fps_in": 10.0, "fps_analysed": 4.0,
        "frames_in": 1000, "dropped": 600, "analysed": 300, "still": 100, "infer_ms": 12.5, "top_score": 0.31,
        "threshold": 0.5, "events": 1, "restarts": 0}
    return CameraLive(**(fields | changes))
