"""GET /metrics: the exposition text parses (prometheus_client's own parser) and carries the per-camera series
from the LiveView, and the store's events, queue depth, delivery latency and protocol runs, within the
scraping principal's camera access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, text

from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.protocols.engine import ProtocolEngine
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DeliveryRow
from gunwatch.web.metrics import metrics_router, metrics_text
from service.conftest import ALERT_SETTINGS, FixedLiveView, camera_live, claim, message_delivery, threat
from web.api_site import as_user, sqlite_store, test_principal

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with sqlite_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def live() -> FixedLiveView:
    return FixedLiveView([camera_live("lobby", frames_in=1000, dropped=600, analysed=300, still=100, infer_ms=12.5,
                                      fps_in=10.0, top_score=0.31, state="online"),
                          camera_live("hall", frames_in=50, state="stalled")])


@pytest.fixture
def client(store: EventStore, live: FixedLiveView) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(metrics_router(store, live, test_principal))
    with TestClient(app) as client:
        yield client


def samples(text: str) -> Samples:
    """Every sample of the text, by name and labels; parsing fails on anything Prometheus would refuse."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


def test_the_per_camera_series_and_the_store_series(store: EventStore, client: TestClient) -> None:
    store.upsert_camera("garage", "rtsp://10.0.0.7/s", "rtsp")
    store.record_health("garage", "offline", "connection refused")
    events = [threat("lobby"), threat("lobby"), threat("hall")]
    for event in events:
        store.save_event(event)
    EventActions(store).false_alarm(events[0].id, "user:otto")
    outbox = Outbox(store)
    outbox.enqueue([message_delivery(events[1].id, "email"), message_delivery(events[2].id, "email", "bob"),
                    message_delivery(events[1].id, "webhook")])
    outbox.delivered(claim(outbox, "email"), 0.1)

    response = client.get("/metrics", headers=as_user("scraper"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert value(found, "gunwatch_camera_frames_in_total", camera="lobby") == 1000
    assert value(found, "gunwatch_camera_frames_dropped_total", camera="lobby") == 600
    assert value(found, "gunwatch_camera_frames_analysed_total", camera="lobby") == 300
    assert value(found, "gunwatch_camera_inference_ms", camera="lobby") == 12.5
    assert value(found, "gunwatch_camera_fps_in", camera="lobby") == 10.0
    assert value(found, "gunwatch_camera_top_score", camera="lobby") == 0.31
    assert value(found, "gunwatch_camera_state", camera="lobby", state="online") == 1
    assert value(found, "gunwatch_camera_state", camera="hall", state="online") == 0
    assert value(found, "gunwatch_camera_state", camera="hall", state="stalled") == 1
    assert value(found, "gunwatch_camera_state", camera="garage", state="offline") == 1  # stored, not live
    assert value(found, "gunwatch_events", camera="lobby", state="open") == 2
    assert value(found, "gunwatch_event_dispositions", disposition="false_alarm") == 1
    assert value(found, "gunwatch_event_dispositions", disposition="none") == 2
    assert value(found, "gunwatch_outbox_queue_depth", lane="email", channel="email") == 1
    assert value(found, "gunwatch_outbox_queue_depth", lane="webhook", channel="webhook") == 1
    assert value(found, "gunwatch_delivery_latency_seconds_count", channel="email") == 1
    latency = value(found, "gunwatch_delivery_latency_seconds", channel="email", quantile="0.5")
    assert latency == value(found, "gunwatch_delivery_latency_seconds_sum", channel="email") and latency >= 0
    assert value(found, "gunwatch_store_up") == 1


def test_protocol_runs_by_state(store: EventStore, client: TestClient) -> None:
    engine = ProtocolEngine(AlertSettings.model_validate(ALERT_SETTINGS), store, Outbox(store))
    first, second = threat("lobby"), threat("lobby")
    for event in (first, second):
        store.save_event(event)
        engine.on_event(event)
    EventActions(store).false_alarm(second.id, "user:otto")
    found = samples(client.get("/metrics", headers=as_user("scraper")).text)
    assert value(found, "gunwatch_protocol_runs", state="aborted") == 1
    assert sum(v for (name, labels), v in found.items() if name == "gunwatch_protocol_runs") == 2


def test_a_scraper_sees_only_its_cameras(store: EventStore, live: FixedLiveView) -> None:
    store.save_event(threat("hall"))
    found = samples(metrics_text(store, live, ["lobby"]).decode())
    cameras = {dict(labels).get("camera") for _, labels in found} - {None}
    assert cameras == {"lobby"}
    assert not any(name == "gunwatch_events" for name, _ in found)


def test_without_a_watch_the_store_still_answers(store: EventStore) -> None:
    store.upsert_camera("lobby", "rtsp://10.0.0.5/s", "rtsp")
    store.record_health("lobby", "online", "frames arrive")
    found = samples(metrics_text(store, None).decode())
    assert value(found, "gunwatch_camera_state", camera="lobby", state="online") == 1
    assert not any(name == "gunwatch_camera_frames_in_total" for name, _ in found)


def test_the_route_needs_cameras_read(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers=as_user("psim"))
    assert refused.status_code == 403 and refused.json()["detail"] == "token:psim (user:int) may not cameras read " \
                                                                    "(role viewer)"
    assert client.get("/metrics", headers=as_user("vera")).status_code == 200


def test_latency_quantiles_are_latencies_that_happened(store: EventStore) -> None:
    event = threat("lobby")
    store.save_event(event)
    outbox = Outbox(store)
    outbox.enqueue([message_delivery(event.id, "email", f"r{n}") for n in range(4)])
    for _ in range(4):
        outbox.delivered(claim(outbox, "email"), 0.1)
    with store.read_session() as session:
        taken = sorted(d - c for c, d in session.execute(select(DeliveryRow.created_at, DeliveryRow.delivered_at)))
    found = samples(metrics_text(store, None).decode())
    assert value(found, "gunwatch_delivery_latency_seconds", channel="email", quantile="0.5") == pytest.approx(
        taken[1])
    assert value(found, "gunwatch_delivery_latency_seconds", channel="email", quantile="0.99") == pytest.approx(
        taken[3])


def test_an_unreadable_store_still_gives_the_live_series_and_says_so(store: EventStore, live: FixedLiveView) -> None:
    with store.write_session.begin() as session:
        session.execute(text("ALTER TABLE deliveries RENAME TO deliveries_away"))
    found = samples(metrics_text(store, live).decode())
    assert value(found, "gunwatch_store_up") == 0
    assert value(found, "gunwatch_camera_frames_in_total", camera="lobby") == 1000
    assert not any(name == "gunwatch_events" for name, _ in found)
