"""EventFeed: changes written to the store (by this process or another one) reach subscribers, within their
camera access, in bounded queues; a reconnecting client gets what it missed, or a resync.

Waits are on the subscription (an item arrives) or on the feed's poll count, never on a sleep."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from gunwatch.alerts.event_actions import EventActions
from gunwatch.alerts.outbox import Outbox
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.service.feed import EventFeed, FeedItem, Subscription
from service.conftest import ADMIN, LOBBY_ONLY, claim, message_delivery, threat

WAIT_S = 30.0  # how long a test waits for what it expects; a pass never waits it out


@pytest.fixture
def feed(store: EventStore) -> Iterator[EventFeed]:
    feed = EventFeed(store, poll_s=0.05).start()
    yield feed
    feed.stop()


def next_item(subscription: Subscription, kind: str | None = None) -> FeedItem:
    """The next item (of `kind`, skipping others)."""
    while True:
        item = subscription.get(WAIT_S)
        assert item is not None, f"no {kind or 'item'} within {WAIT_S} s"
        if kind is None or item.kind == kind:
            return item


def test_each_kind_of_change_reaches_a_subscriber(store: EventStore, feed: EventFeed, outbox: Outbox) -> None:
    with feed.subscribe(ADMIN) as subscription:
        event = threat("lobby")
        store.save_event(event)
        item = next_item(subscription)
        assert (item.kind, item.event_id, item.camera, item.state) == ("event", event.id, "lobby", "open")
        EventActions(store).acknowledge(event.id, "user:otto")
        item = next_item(subscription)
        assert (item.kind, item.event_id, item.camera, item.state) == ("disposition", event.id, "lobby", "acknowledged")
        outbox.enqueue([message_delivery(event.id, "email")])
        item = next_item(subscription)
        assert (item.kind, item.camera, item.state, item.channel) == ("delivery", "lobby", "pending", "email")
        outbox.delivered(claim(outbox, "email"), 0.1)
        while (item := next_item(subscription, "delivery")).state != "delivered":
            assert item.state == "sending"  # claimed and settled in one poll or in two
        store.record_health("lobby", "stalled", "no frame for 10 s")
        item = next_item(subscription, "health")
        assert (item.camera, item.state) == ("lobby", "stalled")
        assert item.seq > 1 and item.id == f"{feed.feed_id}-{item.seq}"


def test_an_update_is_a_new_item_and_nothing_comes_twice(store: EventStore, feed: EventFeed) -> None:
    with feed.subscribe(ADMIN) as subscription:
        event = threat("lobby")
        store.save_event(event)
        assert next_item(subscription).state == "open"
        polls = feed.polls
        assert feed.wait_polled(polls + 3, WAIT_S)  # polls that re-read the event within the look-back
        store.save_event(ThreatEvent(**{**event.__dict__, "state": "closed", "closed_at": time.time()}))
        assert next_item(subscription).state == "closed"
        assert feed.wait_polled(feed.polls + 3, WAIT_S)  # polls that read it again within the look-back
        assert subscription.get_nowait() is None


def test_changes_written_by_another_process_are_seen(store_url: str, feed: EventFeed) -> None:
    with feed.subscribe(ADMIN) as subscription, EventStore(store_url) as elsewhere:
        event = threat("hall")
        elsewhere.save_event(event)
        assert next_item(subscription).event_id == event.id


def test_wake_polls_at_once(store: EventStore) -> None:
    feed = EventFeed(store, poll_s=3600.0).start()  # left alone, it would not poll within the test
    try:
        with feed.subscribe(ADMIN) as subscription:
            event = threat("lobby")
            store.save_event(event)
            feed.wake()
            assert next_item(subscription).event_id == event.id
    finally:
        feed.stop()


def test_what_was_stored_before_the_start_is_not_replayed(store: EventStore) -> None:
    before = threat("lobby")
    store.save_event(before)
    feed = EventFeed(store, poll_s=0.05).start()
    try:
        with feed.subscribe(ADMIN) as subscription:
            after = threat("lobby")
            store.save_event(after)
            assert next_item(subscription).event_id == after.id
    finally:
        feed.stop()


def test_a_subscriber_sees_only_its_cameras(store: EventStore, feed: EventFeed) -> None:
    with feed.subscribe(ADMIN) as everything, feed.subscribe(LOBBY_ONLY) as lobby_only:
        hall = threat("hall")
        store.save_event(hall)
        assert next_item(everything).event_id == hall.id  # the hall event went out to whoever may see it
        lobby = threat("lobby")
        store.save_event(lobby)
        assert next_item(everything).event_id == lobby.id
        assert next_item(lobby_only).event_id == lobby.id  # the first it got: the hall event never came
        assert lobby_only.get_nowait() is None


def test_a_subscriber_that_does_not_read_gets_a_resync_not_a_growing_queue(
        store: EventStore, feed: EventFeed, save_event: Callable[..., ThreatEvent]) -> None:
    with feed.subscribe(ADMIN) as reader, feed.subscribe(ADMIN, queue_size=2) as stuck:
        saved = [save_event("lobby") for _ in range(5)]
        assert {next_item(reader).event_id for _ in saved} == {event.id for event in saved}
        held = stuck.drain()
        assert len(held) <= 2 and held[0].kind == "resync"
        later = save_event("lobby")
        assert next_item(stuck).event_id == later.id  # it goes on after the resync


def test_a_reconnecting_client_gets_what_it_missed_or_a_resync(store: EventStore, feed: EventFeed) -> None:
    with feed.subscribe(ADMIN) as first:
        store.save_event(threat("lobby"))
        seen = next_item(first)
        missed = threat("lobby")
        store.save_event(missed)
        assert next_item(first).event_id == missed.id
    with feed.subscribe(ADMIN, last_id=seen.id) as again:
        assert (again.get_nowait().event_id, again.get_nowait()) == (missed.id, None)
    for unknown in ("0000-1", f"{feed.feed_id}-999999", "garbage"):
        with feed.subscribe(ADMIN, last_id=unknown) as again:
            assert again.get_nowait().kind == "resync"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_after_the_store_was_unreadable_everyone_resyncs(store: EventStore, feed: EventFeed) -> None:
    with feed.subscribe(ADMIN) as subscription:
        with store.write_session.begin() as session:  # the store stops answering the feed's reads
            session.execute(text("ALTER TABLE threat_events RENAME TO threat_events_away"))
        assert feed.wait_polled(feed.polls + 2, WAIT_S)
        with store.write_session.begin() as session:
            session.execute(text("ALTER TABLE threat_events_away RENAME TO threat_events"))
        assert next_item(subscription).kind == "resync"


def test_stopping_the_feed_ends_every_subscription(store: EventStore) -> None:
    woken: list[bool] = []
    feed = EventFeed(store, poll_s=0.05).start()
    subscription = feed.subscribe(ADMIN, notify=lambda: woken.append(True))
    feed.stop()
    assert subscription.closed and subscription.get(WAIT_S) is None and woken == [True]
