"""GET /api/stream served for real (uvicorn on loopback, httpx reading the stream) from an EventFeed on SQLite:
an event stored reaches the stream; camera access filters it; Last-Event-ID brings back what was missed.

Waits are the stream's own: a read blocks until the next line comes (httpx's read timeout only guards a hang)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gunwatch.events.store import EventStore
from gunwatch.service.feed import EventFeed
from gunwatch.web.server import LinkServer
from gunwatch.web.stream import stream_router
from service.conftest import threat
from web.api_site import api_site, as_user, sqlite_store, test_principal

WAIT_S = 30.0


@dataclass
class Sse:
    """One message of the stream: its fields, and its comment line if it has one."""

    id: str | None = None
    event: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    retry: int | None = None
    comment: str | None = None


class Stream:
    def __init__(self, response: httpx.Response):
        self.response, self._lines = response, response.iter_lines()

    def next(self) -> Sse:
        message = Sse()
        for line in self._lines:
            if line == "":
                if message != Sse():
                    return message
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                message.comment = value
            elif name == "data":
                message.data = json.loads(value)
            elif name == "retry":
                message.retry = int(value)
            else:
                setattr(message, name, value)
        raise AssertionError("the stream ended")

    def next_event(self) -> Sse:
        """The next message that is an event (not a heartbeat)."""
        while (message := self.next()).event is None:
            pass
        return message


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with sqlite_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def feed(store: EventStore) -> Iterator[EventFeed]:
    feed = EventFeed(store, poll_s=0.05).start()
    yield feed
    feed.stop()


@pytest.fixture
def server(store: EventStore, feed: EventFeed) -> Iterator[LinkServer]:
    with LinkServer(api_site(store, feed).app, "127.0.0.1", 0) as server:
        yield server


@pytest.fixture
def client(server: LinkServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=WAIT_S) as client:
        yield client


def open_stream(client: httpx.Client, user: str, **headers: str) -> Any:
    return client.stream("GET", "/api/stream", headers={**as_user(user), **headers})


def connected(response: httpx.Response) -> Stream:
    """The stream, once its first message (retry and the connected comment) came: subscribed from here on."""
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    stream = Stream(response)
    first = stream.next()
    assert first.retry == 3000 and (first.comment or "").startswith("connected ")
    return stream


def test_an_event_stored_reaches_the_stream(store: EventStore, feed: EventFeed, client: httpx.Client) -> None:
    with open_stream(client, "vera") as response:
        stream = connected(response)
        event = threat("lobby")
        store.save_event(event)
        feed.wake()  # as `gunwatch watch` does on each stored event
        message = stream.next_event()
        assert (message.event, message.data["event_id"], message.data["camera"]) == ("event", event.id, "lobby")
        assert message.id == message.data["id"] and message.id.startswith(f"{feed.feed_id}-")


def test_a_stream_carries_only_the_cameras_its_user_may_see(store: EventStore, client: httpx.Client) -> None:
    with open_stream(client, "ada") as everything, open_stream(client, "lola") as lobby_only:
        all_events, lobby_events = connected(everything), connected(lobby_only)
        hall = threat("hall")
        store.save_event(hall)
        assert all_events.next_event().data["event_id"] == hall.id
        lobby = threat("lobby")
        store.save_event(lobby)
        assert all_events.next_event().data["event_id"] == lobby.id
        assert lobby_events.next_event().data["event_id"] == lobby.id  # its first: the hall event never came


def test_a_reconnecting_client_gets_what_it_missed(store: EventStore, feed: EventFeed, client: httpx.Client) -> None:
    with open_stream(client, "vera") as response:
        stream = connected(response)
        store.save_event(threat("lobby"))
        last = stream.next_event()
    missed = threat("lobby")
    store.save_event(missed)
    seq = int((last.id or "").rpartition("-")[2])
    assert feed.wait_polled(feed.polls + 2, WAIT_S) and feed.seq > seq  # the feed has it: the client was away
    with open_stream(client, "vera", **{"Last-Event-ID": last.id or ""}) as response:
        assert connected(response).next_event().data["event_id"] == missed.id
    with open_stream(client, "vera", **{"Last-Event-ID": "another-feed-7"}) as response:
        assert connected(response).next_event().event == "resync"


def test_an_idle_stream_sends_heartbeats(store: EventStore, feed: EventFeed) -> None:
    app = FastAPI()
    app.include_router(stream_router(feed, test_principal, heartbeat_s=0.05), prefix="/api")
    with LinkServer(app, "127.0.0.1", 0) as server, httpx.Client(base_url=server.url, timeout=WAIT_S) as client, \
            open_stream(client, "vera") as response:
        stream = connected(response)
        assert stream.next() == Sse(comment="heartbeat")


def test_the_stream_needs_a_principal_with_events_read(client: httpx.Client) -> None:
    assert client.get("/api/stream").status_code == 401
    refused = client.get("/api/stream", headers=as_user("scraper"))
    assert refused.status_code == 403 and "may not events read" in refused.json()["detail"]
