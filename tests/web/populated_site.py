"""The whole web app as `gunwatch serve` composes it (console, API, docs, metrics, action links) over a real
SQLite store holding a little of everything: users of each kind with their API tokens, two cameras with a
health history and live frames, events with evidence files, a protocol run and deliveries in the outbox.

    site = populated_site(tmp_path)
    client = TestClient(site.app)
    client.get("/api/events", headers=site.bearer("admin"))
    ...
    site.close()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.config.alerts import AlertSettings
from gunwatch.config.console import ConsoleSettings
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.users.principal import ROLE_SCOPES
from gunwatch.users.store import UserStore
from gunwatch.web.app import create_app
from gunwatch.web.site import Console
from service.conftest import ALERT_SETTINGS, FixedLiveView, camera_live, claim, jpeg, message_delivery, threat

PASSWORD = "correct horse battery"
LINK_SECRET = "a link secret for the tests, long enough to sign"
CAMERAS = ("lobby", "hall")
# name -> (role, cameras it may see; None: all)
USERS: dict[str, tuple[str, list[str] | None]] = {
    "admin": ("admin", None),
    "operator": ("operator", None),
    "viewer": ("viewer", None),
    "lobby_operator": ("operator", ["lobby"]),
}


@dataclass
class PopulatedSite:
    store: EventStore
    console: Console
    app: Any
    events: list[ThreatEvent]
    tokens: dict[str, str] = field(default_factory=dict)  # user -> a token with every scope of its role

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def close(self) -> None:
        self.console.close()
        self.store.close()


def populated_site(folder: Path) -> PopulatedSite:
    store = EventStore(f"sqlite:///{folder / 'store.db'}")
    users = UserStore(store)
    tokens = {}
    for name, (role, cameras) in USERS.items():
        users.add_user(name, role, PASSWORD, cameras=cameras)
        tokens[name] = users.create_token(f"{name}-token", name, ROLE_SCOPES[role])  # type: ignore[index]
    events = _events(store, folder)
    live = FixedLiveView([camera_live(name) for name in CAMERAS],
                         {name: (jpeg((10, 200, 10)), time.time()) for name in CAMERAS})
    actions = EventActions(store)
    console = Console.build(store, actions, ConsoleSettings(), live=live, channels=["email", "webhook"])
    app = create_app(store, actions, LINK_SECRET, console=console)
    return PopulatedSite(store, console, app, events, tokens)


def _events(store: EventStore, folder: Path) -> list[ThreatEvent]:
    """An open event on each camera with its snapshot, annotated picture and clip on disk, and one closed event
    without evidence; a protocol run for each open one and a failing webhook delivery."""
    now = time.time()
    for name in CAMERAS:
        store.upsert_camera(name, f"rtsp://user:secret@{name}.cameras.example/stream", "rtsp")
        store.record_health(name, "online", "frames arrive", at=now - 120)
        store.record_health(name, "stalled", "no frame for 10 s", at=now - 60)
        store.record_health(name, "online", "frames arrive", at=now - 30)
    events = []
    for index, name in enumerate(CAMERAS):
        files = {kind: folder / f"{name}-{kind}" for kind in ("snapshot.jpg", "annotated.jpg", "clip.mp4")}
        for path in files.values():
            path.write_bytes(jpeg((index * 100, 20, 20)))  # any bytes: the API serves files, it does not read them
        evidence = Evidence(str(files["snapshot.jpg"]), str(files["annotated.jpg"]), str(files["clip.mp4"]))
        events.append(threat(name, confirmed_at=now - 10 * (index + 1), evidence=evidence))
    events.append(threat("hall", confirmed_at=now - 3600, state="closed"))
    engine = ProtocolEngine(AlertSettings.model_validate(ALERT_SETTINGS), store, Outbox(store))
    for event in events:
        store.save_event(event)
        if event.state == "open":
            engine.on_event(event)
    engine.tick()
    outbox = Outbox(store)
    outbox.enqueue([message_delivery(events[0].id, "webhook")])
    outbox.retry(claim(outbox, "webhook"), "connection refused", retry_at=now + 60)
    return events
