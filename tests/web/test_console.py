"""The console's pages through FastAPI's TestClient on a real SQLite store with real users: the wall, the
banner, events, an event, cameras; the four actions from a form (CSRF, roles, the user in the audit log);
camera access hiding frames and events from a user who may not see them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.event_actions import EventActions
from gunwatch.config.console import ConsoleSettings
from gunwatch.events.model import Evidence
from gunwatch.events.store import EventStore
from gunwatch.users.store import UserStore
from gunwatch.web.app import create_app
from gunwatch.web.site import Console
from service.conftest import jpeg, threat

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as opened:
        users = UserStore(opened)
        users.add_user("olga", "operator", PASSWORD)
        users.add_user("vic", "viewer", PASSWORD)
        users.add_user("hal", "operator", PASSWORD, cameras=["hall"])
        yield opened


@pytest.fixture
def console(store: EventStore) -> Iterator[Console]:
    built = Console.build(store, EventActions(store), ConsoleSettings())
    yield built
    built.close()


@pytest.fixture
def app(store: EventStore, console: Console) -> Any:
    return create_app(store, console.services.events.actions, None, console=console)


def signed_in(app: Any, name: str) -> TestClient:
    browser = TestClient(app)
    page = browser.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = browser.post("/login", data={"csrf": csrf, "name": name, "password": PASSWORD, "next": "/"},
                          follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return browser


def main_part(html: str) -> str:
    """The page without its banner (which lists every open alert whatever the page shows)."""
    return html[html.index("<main>"):]


def page_csrf(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_every_page_needs_a_sign_in(app: Any) -> None:
    browser = TestClient(app)
    for path in ("/", "/events", "/cameras", "/console/banner"):
        answer = browser.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path


def test_an_open_event_shows_on_the_banner_of_every_page_until_someone_acts(app: Any, store: EventStore,
                                                                             tmp_path: Path) -> None:
    annotated = tmp_path / "annotated.jpg"
    annotated.write_bytes(jpeg((200, 10, 10)))
    event = threat("lobby", zone="front door", evidence=Evidence(annotated=str(annotated)))
    store.save_event(event)
    olga = signed_in(app, "olga")
    for path in ("/", "/events", "/cameras"):
        html = olga.get(path).text
        assert f'data-event="{event.id}"' in html and "front door" in html and 'class="alert unacted"' in html, path
    assert olga.get(f"/api/events/{event.id}/annotated").content == annotated.read_bytes()

    home = olga.get("/").text
    answer = olga.post(f"/events/{event.id}/act", data={"csrf": page_csrf(home), "action": "false_alarm",
                                                        "note": "a phone"}, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json()["message"].startswith("Marked false alarm")
    assert f'data-event="{event.id}"' not in olga.get("/console/banner").text
    [entry] = [a for a in AuditLog(store).of_event(event.id) if a.action == "event.false_alarm"]
    assert entry.actor == "user:olga" and entry.detail["note"] == "a phone"
    assert "user:olga" in olga.get(f"/events/{event.id}").text  # the history names who called it off


def test_an_acknowledged_alert_stays_on_the_banner_without_the_alarm(app: Any, store: EventStore) -> None:
    event = threat("lobby")
    store.save_event(event)
    olga = signed_in(app, "olga")
    olga.post(f"/events/{event.id}/act", data={"csrf": page_csrf(olga.get("/").text), "action": "ack"},
              headers={"Accept": "application/json"})
    banner = olga.get("/console/banner").text
    assert f'data-event="{event.id}"' in banner and "unacted" not in banner and "acknowledged by user:olga" in banner


def test_an_action_without_the_sessions_csrf_token_is_refused(app: Any, store: EventStore) -> None:
    event = threat("lobby")
    store.save_event(event)
    olga = signed_in(app, "olga")
    for data in ({"action": "false_alarm"}, {"action": "false_alarm", "csrf": "forged"}):
        assert olga.post(f"/events/{event.id}/act", data=data).status_code == 403
    assert AuditLog(store).of_event(event.id) == []


def test_a_viewer_sees_the_alert_but_cannot_act(app: Any, store: EventStore) -> None:
    event = threat("lobby")
    store.save_event(event)
    vic = signed_in(app, "vic")
    home = vic.get("/").text
    assert f'data-event="{event.id}"' in home and 'name="action"' not in home
    answer = vic.post(f"/events/{event.id}/act", data={"csrf": page_csrf(home), "action": "false_alarm"},
                      headers={"Accept": "application/json"})
    assert answer.status_code == 403
    assert AuditLog(store).of_event(event.id) == []


def test_a_user_without_a_camera_never_sees_its_events(app: Any, store: EventStore) -> None:
    lobby, hall = threat("lobby"), threat("hall")
    store.save_event(lobby)
    store.save_event(hall)
    store.upsert_camera("lobby", "rtsp://lobby", "rtsp")
    store.upsert_camera("hall", "rtsp://hall", "rtsp")
    hal = signed_in(app, "hal")
    for path in ("/", "/events", "/cameras", "/console/banner"):
        html = hal.get(path).text
        assert lobby.id not in html and ">lobby<" not in html, path
    assert hall.id in hal.get("/events").text
    assert hal.get(f"/events/{lobby.id}").status_code == 404
    assert hal.get("/cameras/lobby").status_code == 404
    answer = hal.post(f"/events/{lobby.id}/act", data={"csrf": page_csrf(hal.get("/").text), "action": "resolve"},
                      headers={"Accept": "application/json"})
    assert answer.status_code == 404


def test_the_events_timeline_filters_by_camera_and_disposition(app: Any, store: EventStore) -> None:
    lobby, hall = threat("lobby"), threat("hall")
    store.save_event(lobby)
    store.save_event(hall)
    EventActions(store).resolve(hall.id, "cli:test")
    olga = signed_in(app, "olga")
    lobby_only = main_part(olga.get("/events", params={"camera": "lobby"}).text)
    assert lobby.id in lobby_only and hall.id not in lobby_only
    resolved = main_part(olga.get("/events", params={"disposition": "resolved"}).text)
    assert hall.id in resolved and lobby.id not in resolved
    assert olga.get("/events", params={"since": "not a date"}).status_code == 422


def test_an_event_page_shows_its_clip_pictures_and_story(app: Any, store: EventStore, tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("snap.jpg", "annotated.jpg", "clip.mp4")}
    for path in files.values():
        path.write_bytes(jpeg((1, 2, 3)))
    event = threat("lobby", evidence=Evidence(str(files["snap.jpg"]), str(files["annotated.jpg"]),
                                              str(files["clip.mp4"])))
    store.save_event(event)
    olga = signed_in(app, "olga")
    html = olga.get(f"/events/{event.id}").text
    for part in (f"/api/events/{event.id}/clip", f"/api/events/{event.id}/annotated",
                 f"/api/events/{event.id}/snapshot", "Protocol runs", "Deliveries", "History"):
        assert part in html
    assert olga.get(f"/events/{event.id}/story").status_code == 200


def test_the_pages_load_only_the_consoles_own_script_and_style(app: Any) -> None:
    olga = signed_in(app, "olga")
    answer = olga.get("/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert olga.get("/static/console.js").headers["content-type"].startswith("text/javascript")
    assert olga.get("/static/../app.py").status_code == 404


def test_a_message_link_keeps_working_beside_the_console_and_leads_into_it(store: EventStore,
                                                                          console: Console) -> None:
    from web.test_links_app import SECRET, link_token

    event = threat("lobby")
    store.save_event(event)
    app = create_app(store, console.services.events.actions, SECRET, console=console)
    browser = TestClient(app)
    path = f"/act/{link_token('ack', 'alice', event_id=event.id)}"
    shown = browser.get(path)
    assert shown.status_code == 200 and f'href="../events/{event.id}"' in shown.text
    done = browser.post(path, data={})
    assert done.status_code == 200 and f'href="../events/{event.id}"' in done.text
    [entry] = [a for a in AuditLog(store).of_event(event.id) if a.action == "event.acknowledged"]
    assert entry.actor == "link:alice"
    # The console's page behind that link asks for a sign-in: the link's token opens nothing more.
    target = browser.get(f"/events/{event.id}", follow_redirects=False)
    assert target.status_code == 303 and target.headers["location"].startswith("/login")


def test_an_admin_sees_users_and_tokens_and_revokes_a_token_others_cannot(app: Any, store: EventStore) -> None:
    users = UserStore(store)
    users.add_user("ada", "admin", PASSWORD)
    secret = users.create_token("vms", "olga", ["events:read"])
    ada = signed_in(app, "ada")
    listing = ada.get("/users").text
    assert ">olga<" in listing and ">vms<" in listing and "Revoke" in listing
    olga = signed_in(app, "olga")
    assert olga.get("/users").status_code == 403
    refused = olga.post("/users/tokens/vms/revoke", data={"csrf": page_csrf(olga.get("/").text)})
    assert refused.status_code == 403 and users.token_principal(secret) is not None
    assert ada.post("/users/tokens/vms/revoke", data={}).status_code == 403  # no CSRF token: refused
    done = ada.post("/users/tokens/vms/revoke", data={"csrf": page_csrf(listing)}, follow_redirects=False)
    assert done.status_code == 303 and users.token_principal(secret) is None
    assert ada.post("/users/tokens/nope/revoke", data={"csrf": page_csrf(listing)}).status_code == 404


def test_sign_out_everywhere_from_the_account_page_ends_every_session(app: Any) -> None:
    phone, desk = signed_in(app, "olga"), signed_in(app, "olga")
    account = phone.get("/account").text
    assert "Sign out everywhere" in account and "every camera" in account
    phone.post("/logout/all", data={"csrf": page_csrf(account)})
    for browser in (phone, desk):
        assert browser.get("/", follow_redirects=False).status_code == 303
