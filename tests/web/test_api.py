"""The REST API through FastAPI's TestClient on a real SQLite store: filters and pages, camera access (404 for
what a principal may not see), scopes (403), refused actions (409), bad input (422), evidence with Range."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.types import Message, Receive, Scope, Send

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.model import Evidence
from gunwatch.events.store import EventStore
from gunwatch.service.live import CameraLive
from service.conftest import ALERT_SETTINGS, camera_live, claim, jpeg, message_delivery, threat
from web.api_site import ApiSite, api_site, as_user, sqlite_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with sqlite_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def site(store: EventStore) -> ApiSite:
    return api_site(store)


@pytest.fixture
def client(site: ApiSite) -> Iterator[TestClient]:
    with TestClient(site.app) as client:
        yield client


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    snapshot, annotated, clip = tmp_path / "snap.jpg", tmp_path / "annotated.jpg", tmp_path / "clip.mp4"
    snapshot.write_bytes(jpeg((10, 200, 10)))
    annotated.write_bytes(jpeg((200, 10, 10)))
    clip.write_bytes(bytes(range(256)) * 40)  # 10240 bytes whose values tell their offset
    return Evidence(str(snapshot), str(annotated), str(clip))


def get_ids(client: TestClient, user: str, **params: object) -> list[str]:
    response = client.get("/api/events", params=params, headers=as_user(user))
    assert response.status_code == 200, response.text
    return [item["event"]["id"] for item in response.json()["events"]]


def test_events_filter_by_query_and_page_with_next_before(store: EventStore, client: TestClient) -> None:
    now = time.time()
    old = threat("lobby", now - 300, state="closed", closed_at=now - 200)
    hall, lobby = threat("hall", now - 200), threat("lobby", now - 100)
    for event in (old, hall, lobby):
        store.save_event(event)

    assert get_ids(client, "vera") == [lobby.id, hall.id, old.id]
    assert get_ids(client, "vera", camera=["lobby"]) == [lobby.id, old.id]
    assert get_ids(client, "vera", camera=["lobby", "hall"], since=now - 250) == [lobby.id, hall.id]
    assert get_ids(client, "vera", state=["closed"]) == [old.id]
    assert get_ids(client, "vera", disposition=["none"], until=now - 150) == [hall.id, old.id]
    page = client.get("/api/events", params={"limit": 2}, headers=as_user("vera")).json()
    assert [e["event"]["id"] for e in page["events"]] == [lobby.id, hall.id] and page["next_before"] == hall.id
    rest = client.get("/api/events", params={"limit": 2, "before": hall.id}, headers=as_user("vera")).json()
    assert [e["event"]["id"] for e in rest["events"]] == [old.id] and rest["next_before"] is None


def test_an_event_reads_whole_with_its_evidence_paths(store: EventStore, client: TestClient,
                                                      evidence: Evidence) -> None:
    event = threat("lobby", evidence=Evidence(snapshot=evidence.snapshot))
    store.save_event(event)
    body = client.get(f"/api/events/{event.id}", headers=as_user("vera")).json()
    assert body["id"] == event.id and body["camera"] == "lobby" and body["disposition"] is None
    assert body["event"]["evidence"] == {"snapshot": f"/api/events/{event.id}/snapshot", "annotated": None,
                                         "clip": None}
    assert body["event"]["best_box"] == [1.0, 2.0, 30.0, 40.0] and body["runs"] == [] and body["audit"] == []
    snapshot = client.get(body["event"]["evidence"]["snapshot"], headers=as_user("vera"))
    assert snapshot.status_code == 200 and snapshot.headers["content-type"] == "image/jpeg"
    assert snapshot.content == Path(evidence.snapshot or "").read_bytes()
    assert snapshot.headers["cache-control"] == "no-store"
    missing = client.get(f"/api/events/{event.id}/clip", headers=as_user("vera"))
    assert missing.status_code == 404 and missing.json() == {"detail": f"event {event.id} has no clip (yet)"}


def test_a_user_without_a_camera_sees_nothing_of_it(store: EventStore, site: ApiSite, client: TestClient,
                                                    evidence: Evidence) -> None:
    store.upsert_camera("lobby", "rtsp://10.0.0.5/s", "rtsp")
    store.upsert_camera("hall", "rtsp://10.0.0.6/s", "rtsp")
    store.record_health("hall", "online", "frames arrive")
    site.live.frames.update({"lobby": (jpeg(), 1.0), "hall": (jpeg(), 2.0)})
    lobby, hall = threat("lobby", evidence=evidence), threat("hall", evidence=evidence)
    store.save_event(lobby)
    store.save_event(hall)
    lola = as_user("lola")

    assert get_ids(client, "lola") == [lobby.id]
    assert get_ids(client, "lola", camera=["hall"]) == []
    assert [c["name"] for c in client.get("/api/cameras", headers=lola).json()] == ["lobby"]
    # Each answer is the one a camera or event that does not exist gets: nothing tells that hall exists.
    for hidden, unknown in ((f"/api/events/{hall.id}", "/api/events/{}"),
                            (f"/api/events/{hall.id}/snapshot", "/api/events/{}/snapshot"),
                            (f"/api/events/{hall.id}/clip", "/api/events/{}/clip"),
                            ("/api/cameras/hall/frame.jpg", "/api/cameras/{}/frame.jpg"),
                            ("/api/cameras/hall/health", "/api/cameras/{}/health")):
        response = client.get(hidden, headers=lola)
        name = hall.id if "events" in hidden else "hall"
        nowhere = client.get(unknown.format("nowhere"), headers=lola)
        assert response.status_code == nowhere.status_code == 404, hidden
        assert response.json()["detail"] == nowhere.json()["detail"].replace("nowhere", name), hidden
    acted = client.post(f"/api/events/{hall.id}/actions/false_alarm", headers=lola)
    assert acted.status_code == 404 and AuditLog(store).of_event(hall.id) == []
    # What lola may see works.
    assert client.get("/api/cameras/lobby/frame.jpg", headers=lola).status_code == 200
    assert client.get(f"/api/events/{lobby.id}/annotated", headers=lola).status_code == 200


def test_a_viewer_may_not_act_and_an_operator_is_recorded_as_the_actor(store: EventStore, site: ApiSite,
                                                                      client: TestClient) -> None:
    event = threat("lobby")
    store.save_event(event)
    refused = client.post(f"/api/events/{event.id}/actions/ack", headers=as_user("vera"))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "user:vera may not events act (role viewer)"}

    forged = client.post(f"/api/events/{event.id}/actions/ack", headers={"X-Test-User": "otto"})
    assert forged.status_code == 403 and "security token" in forged.text  # the acting dependency refused it

    done = client.post(f"/api/events/{event.id}/actions/false_alarm", json={"note": "  a phone  "},
                       headers=as_user("otto"))
    assert done.status_code == 200, done.text
    assert done.json() == {"event_id": event.id, "disposition": "false_alarm", "changed": True, "withdrawals": 0,
                           "aborted_runs": 0}
    assert [r.disposition for r in site.actions_done] == ["false_alarm"]
    entries = [(e.actor, e.action, e.detail.get("note")) for e in AuditLog(store).of_event(event.id)]
    assert ("user:otto", "event.false_alarm", "a phone") in entries
    detail = client.get(f"/api/events/{event.id}", headers=as_user("vera")).json()
    assert detail["disposition"]["actor"] == "user:otto" and detail["disposition"]["disposition"] == "false_alarm"

    again = client.post(f"/api/events/{event.id}/actions/resolve", headers=as_user("ada"))
    assert again.status_code == 409
    assert again.json()["detail"] == (f"event {event.id} is already false alarm (by user:otto); "
                                      "it cannot become resolved")


def test_bad_input_is_a_422_that_says_what_is_wrong(store: EventStore, client: TestClient) -> None:
    event = threat("lobby")
    store.save_event(event)
    ada = as_user("ada")
    cases = {
        "/api/events?state=gone": "unknown state 'gone'; known: open, updated, closed",
        "/api/events?disposition=maybe": "unknown disposition 'maybe'",
        "/api/events?before=nope": "unknown cursor 'nope'",
        "/api/runs?state=lost": "unknown run state 'lost'",
    }
    for path, message in cases.items():
        response = client.get(path, headers=ada)
        assert response.status_code == 422 and message in response.json()["detail"], path
    for path in ("/api/events?limit=0", "/api/events?since=yesterday", f"/api/events/{event.id}/raw",
                 "/api/channels?window_s=-1", "/api/cameras/lobby/health?limit=100000"):
        assert client.get(path, headers=ada).status_code == 422, path
    for body in ({"note": "x" * 501}, {"note": 5}, [1, 2]):
        response = client.post(f"/api/events/{event.id}/actions/ack", json=body, headers=ada)
        assert response.status_code == 422, body
    response = client.post(f"/api/events/{event.id}/actions/explode", headers=ada)
    assert response.status_code == 422 and "explode" in response.text
    assert client.post(f"/api/events/{event.id}/actions/ack", content=b"{not json",
                       headers={**ada, "Content-Type": "application/json"}).status_code == 422


def test_the_clip_answers_range_requests(store: EventStore, client: TestClient, evidence: Evidence) -> None:
    event = threat("lobby", evidence=evidence)
    store.save_event(event)
    whole = Path(evidence.clip or "").read_bytes()
    url, vera = f"/api/events/{event.id}/clip", as_user("vera")

    full = client.get(url, headers=vera)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes" and full.content == whole
    assert full.headers["content-type"] == "video/mp4"
    part = client.get(url, headers={**vera, "Range": "bytes=1000-1099"})
    assert part.status_code == 206 and part.content == whole[1000:1100]
    assert part.headers["content-range"] == f"bytes 1000-1099/{len(whole)}"
    tail = client.get(url, headers={**vera, "Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == whole[-16:]
    beyond = client.get(url, headers={**vera, "Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416


def test_cameras_health_and_frames(store: EventStore, site: ApiSite, client: TestClient) -> None:
    store.upsert_camera("lobby", "rtsp://admin:secret@10.0.0.5/s", "rtsp")
    store.record_health("lobby", "offline", "connection refused", at=1000.0)
    store.record_health("lobby", "online", "frames arrive", at=1010.0)
    site.live.live.append(camera_live("lobby", top_score=0.44, analysed=30, still=10))
    site.live.frames["lobby"] = (jpeg(), 1234.5)
    vera = as_user("vera")

    (camera,) = client.get("/api/cameras", headers=vera).json()
    assert (camera["name"], camera["state"], camera["kind"]) == ("lobby", "online", "rtsp")
    assert [change["state"] for change in camera["recent"]] == ["online", "offline"]
    assert camera["live"]["top_score"] == 0.44 and camera["live"]["motion_share"] == 0.75
    assert "secret" not in str(camera)
    health = client.get("/api/cameras/lobby/health", params={"since": 1005}, headers=vera).json()
    assert health == [{"state": "online", "reason": "frames arrive", "at": 1010.0}]
    frame = client.get("/api/cameras/lobby/frame.jpg", headers=vera)
    assert frame.status_code == 200 and frame.content == jpeg() and frame.headers["x-frame-time"] == "1234.500"
    no_frame = client.get("/api/cameras/garage/frame.jpg", headers=vera)
    assert no_frame.status_code == 404 and no_frame.json() == {"detail": "no live frame of camera garage"}
    assert isinstance(site.live.live[0], CameraLive)


def test_channels_and_runs(store: EventStore, client: TestClient) -> None:
    event = threat("lobby")
    store.save_event(event)
    outbox = Outbox(store)
    outbox.enqueue([message_delivery(event.id, "email")])
    outbox.retry(claim(outbox, "email"), "connection refused", retry_at=time.time() + 60)

    (email,) = client.get("/api/channels", headers=as_user("vera")).json()
    assert (email["channel"], email["state"], email["pending"], email["last_error"]) == (
        "email", "failing", 1, "connection refused")
    assert client.get("/api/runs", headers=as_user("vera")).json() == []


def test_runs_and_an_event_show_the_protocol_and_its_deliveries(store: EventStore, client: TestClient) -> None:
    engine = ProtocolEngine(AlertSettings.model_validate(ALERT_SETTINGS), store, Outbox(store))
    lobby, hall = threat("lobby"), threat("hall")
    for event in (lobby, hall):
        store.save_event(event)
        engine.on_event(event)
    engine.tick()

    (run,) = client.get("/api/runs", params={"event_id": lobby.id}, headers=as_user("vera")).json()
    assert (run["protocol"], run["camera"], run["event_id"], run["trigger"]) == ("lockdown", "lobby", lobby.id,
                                                                                 "threat")
    assert [(d["kind"], d["channel"], d["recipient"], d["status"]) for d in run["deliveries"]] == [
        ("alert", "email", "alice", "pending")]
    assert "address" not in run["deliveries"][0]  # a phone number or mail address is not for every viewer
    assert [r["event_id"] for r in client.get("/api/runs", headers=as_user("lola")).json()] == [lobby.id]
    detail = client.get(f"/api/events/{lobby.id}", headers=as_user("vera")).json()
    assert [r["id"] for r in detail["runs"]] == [run["id"]]
    assert [d["key"] for d in detail["deliveries"]] == [d["key"] for d in run["deliveries"]]
    assert {"delivery.queued", "protocol.started"} <= {entry["action"] for entry in detail["audit"]}


def test_every_route_needs_a_principal(site: ApiSite, client: TestClient) -> None:
    paths = site.app.openapi()["paths"]
    assert len(paths) >= 9
    for template, methods in paths.items():
        path = template.replace("{event_id}", "x").replace("{name}", "lobby").replace("{which}", "clip")
        for method in methods:
            response = client.request(method, path.replace("{action}", "ack"))
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"


def test_the_openapi_schema_documents_the_models(site: ApiSite) -> None:
    schema = site.app.openapi()
    assert {"/api/events", "/api/events/{event_id}", "/api/events/{event_id}/actions/{action}",
            "/api/events/{event_id}/{which}", "/api/cameras", "/api/cameras/{name}/health",
            "/api/cameras/{name}/frame.jpg", "/api/channels", "/api/runs"} <= set(schema["paths"])
    listed = schema["paths"]["/api/events"]["get"]["responses"]
    assert listed["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventPageOut"}
    assert listed["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
    assert "acknowledged" in schema["components"]["schemas"]["EventSummaryOut"]["properties"]


def test_a_store_that_cannot_be_read_is_a_503_not_a_500(store: EventStore, client: TestClient) -> None:
    with store.write_session.begin() as session:
        session.execute(text("ALTER TABLE threat_events RENAME TO threat_events_away"))
    response = client.get("/api/events", headers=as_user("vera"))
    assert response.status_code == 503
    assert response.json() == {"detail": "the event store cannot be reached right now"}


def test_times_the_store_cannot_hold_are_a_422(client: TestClient) -> None:
    for value in ("nan", "inf", "-1", "1e20"):
        for path in ("/api/events?since=", "/api/events?until=", "/api/cameras/lobby/health?since="):
            assert client.get(path + value, headers=as_user("ada")).status_code == 422, path + value


# Any text in any path or query parameter: an answer in words (2xx, 404, 409, 422), never a server error.
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_id=WORDS, which=WORDS, name=WORDS, query=st.dictionaries(
    st.sampled_from(["camera", "since", "until", "state", "disposition", "limit", "before", "event_id", "window_s"]),
    WORDS, max_size=4))
def test_no_input_makes_a_server_error(store: EventStore, client: TestClient, event_id: str, which: str, name: str,
                                       query: dict[str, str]) -> None:
    ada = as_user("ada")
    quoted = {key: quote(value, safe="") or "x" for key, value in (("e", event_id), ("w", which), ("n", name))}
    for path in ("/api/events", f"/api/events/{quoted['e']}", f"/api/events/{quoted['e']}/{quoted['w']}",
                 "/api/cameras", f"/api/cameras/{quoted['n']}/health", f"/api/cameras/{quoted['n']}/frame.jpg",
                 "/api/channels", "/api/runs"):
        response = client.get(path, params=query, headers=ada)
        assert response.status_code in (200, 404, 422), (path, query, response.text)
    response = client.post(f"/api/events/{quoted['e']}/actions/{quoted['w']}", json={"note": name}, headers=ada)
    # 405: an empty id or action leaves a path that is another route's (/api/events/), which takes no POST.
    assert response.status_code in (404, 405, 422), response.text


def test_a_picture_replaced_while_it_is_sent_comes_whole(store: EventStore, site: ApiSite,
                                                          evidence: Evidence) -> None:
    """An open event's better frame replaces its pictures (written beside, renamed into place) at any moment;
    here exactly when the response starts. What arrives is one file, whole, with its own length."""
    event = threat("lobby", evidence=evidence)
    store.save_event(event)
    path = Path(evidence.annotated or "")
    before = path.read_bytes()

    async def replacing_at_start(scope: Scope, receive: Receive, send: Send) -> None:  # an ASGI wrapper
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                path.with_name("next.jpg").write_bytes(jpeg((10, 10, 200)) * 3)  # another picture, longer
                path.with_name("next.jpg").replace(path)
            await send(message)
        await site.app(scope, receive, sending)

    with TestClient(replacing_at_start) as client:
        answer = client.get(f"/api/events/{event.id}/annotated", headers=as_user("vera"))
    assert answer.status_code == 200
    assert answer.content == before and int(answer.headers["content-length"]) == len(before)
    assert path.read_bytes() != before  # the file was replaced meanwhile
