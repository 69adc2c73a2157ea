"""The outbox's table operations on both backends: enqueue, claim, settle, withdraw and recover."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from gunwatch.alerts.audit import AuditLog
from gunwatch.alerts.outbox import Delivery, NewDelivery, Outbox
from gunwatch.events.store import EventStore

LEASE_S = 330.0
MessageFactory = Callable[..., NewDelivery]


def claimed(outbox: Outbox, lane: str = "ops", now: float | None = None) -> Delivery:
    delivery = outbox.claim(lane, LEASE_S, now=now)
    assert delivery is not None
    return delivery


def status(outbox: Outbox, key: str) -> str:
    delivery = outbox.get(key)
    assert delivery is not None
    return delivery.status


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def detail(audit_log: AuditLog, event_id: str, action: str) -> list[dict[str, object]]:
    return [entry.detail for entry in audit_log.of_event(event_id) if entry.action == action]


# --- enqueue ------------------------------------------------------------------------------------------------

def test_enqueue_is_idempotent_by_key(outbox: Outbox, new_message: MessageFactory,
                                      actions: Callable[[str], list[str]]) -> None:
    """A second enqueue of the same key stores nothing new: one row, one `delivery.queued`."""
    assert outbox.enqueue([new_message("evt-1:alert:ops")]) == ["evt-1:alert:ops"]
    assert outbox.enqueue([new_message("evt-1:alert:ops"), new_message("evt-1:alert:desk")]) == ["evt-1:alert:desk"]
    assert outbox.enqueue([new_message("evt-1:alert:ops")]) == []

    rows = outbox.list(event_id="evt-1")
    assert [row.key for row in rows] == ["evt-1:alert:ops", "evt-1:alert:desk"]
    assert all(row.status == "pending" and row.attempts == 0 and row.first_attempt_at is None for row in rows)
    assert actions("evt-1") == ["delivery.queued", "delivery.queued"]


def test_enqueue_in_the_callers_transaction_commits_with_it(store: EventStore, outbox: Outbox,
                                                            new_message: MessageFactory,
                                                            actions: Callable[[str], list[str]]) -> None:
    """Enqueued inside a transaction that rolls back, neither the delivery nor its audit entry remains."""
    with pytest.raises(RuntimeError), store.write_session.begin() as session:
        assert outbox.enqueue([new_message("evt-1:alert:ops")], session=session) == ["evt-1:alert:ops"]
        raise RuntimeError("the protocol step failed")
    assert outbox.list() == [] and actions("evt-1") == []


# --- claim --------------------------------------------------------------------------------------------------

def test_claim_takes_only_due_pending_deliveries_of_its_lane(outbox: Outbox, new_message: MessageFactory) -> None:
    """Oldest due first; other lanes, later deliveries and claimed ones are left alone."""
    now = time.time()
    outbox.enqueue([new_message("a"), new_message("other-lane", lane="desk"), new_message("b"),
                    new_message("later", not_before=now + 100)])

    first = claimed(outbox, now=now + 1)
    assert (first.key, first.status, first.attempts) == ("a", "sending", 1)
    assert first.first_attempt_at == pytest.approx(now + 1, abs=1e-3)
    assert claimed(outbox, now=now + 1).key == "b"
    assert outbox.claim("ops", LEASE_S, now=now + 1) is None  # "later" is not due, "a" and "b" are claimed
    assert claimed(outbox, now=now + 101).key == "later"
    assert outbox.claim("ops", LEASE_S, now=now + 101) is None
    assert status(outbox, "other-lane") == "pending"
    assert claimed(outbox, "desk").key == "other-lane"


def test_concurrent_claims_never_share_a_delivery(store_url: str, outbox: Outbox,
                                                  new_message: MessageFactory) -> None:
    """Four workers, each with its own store connection, claim 50 deliveries at once: each exactly once."""
    outbox.enqueue([new_message(f"evt-1:alert:{index}") for index in range(50)])
    stores = [EventStore(store_url) for _ in range(4)]
    start = threading.Barrier(len(stores))
    taken: list[list[int]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def work(number: int) -> None:
        worker = Outbox(stores[number], worker=f"worker-{number}")
        try:
            start.wait()
            while (delivery := worker.claim("ops", LEASE_S)) is not None:
                taken[number].append(delivery.id)
        except BaseException as error:  # reported by the test thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(len(stores))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for opened in stores:
            opened.close()

    assert not errors
    every = [delivery_id for ids in taken for delivery_id in ids]
    assert sorted(every) == sorted(row.id for row in outbox.list())  # each id once: no duplicates, none missed
    rows = outbox.list()
    assert all(row.status == "sending" and row.attempts == 1 for row in rows)


# --- settling -----------------------------------------------------------------------------------------------

def test_delivered_is_recorded(outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """`delivered` settles the delivery and records the attempt and its duration."""
    outbox.enqueue([new_message("k")])
    before = time.time()
    outbox.delivered(claimed(outbox), 0.125)

    row = outbox.get("k")
    assert row is not None and row.status == "delivered" and row.attempts == 1 and row.last_error is None
    assert row.delivered_at is not None and before - 1e-6 <= row.delivered_at <= time.time()  # stored to 1 µs
    [entry] = detail(audit_log, "evt-1", "delivery.delivered")
    assert entry["key"] == "k" and entry["attempt"] == 1 and entry["duration_ms"] == 125.0
    assert outbox.claim("ops", LEASE_S) is None


def test_retry_puts_it_back_until_its_time(outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """`retry` makes the delivery pending again, due at `retry_at`, with the error kept; the next claim
    counts a second attempt."""
    outbox.enqueue([new_message("k")])
    now = time.time()
    outbox.retry(claimed(outbox), "HTTP 503", now + 30)

    row = outbox.get("k")
    assert row is not None and (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    assert row.next_attempt_at == pytest.approx(now + 30, abs=1e-3)
    assert outbox.claim("ops", LEASE_S) is None
    assert claimed(outbox, now=now + 31).attempts == 2
    [entry] = detail(audit_log, "evt-1", "delivery.failed_attempt")
    assert entry["error"] == "HTTP 503" and entry["attempt"] == 1 and str(entry["next"]).startswith("retry in")


def test_failed_gives_up(outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """`failed` ends the delivery: it is never claimed again."""
    outbox.enqueue([new_message("k")])
    outbox.failed(claimed(outbox), "HTTP 400: bad request")

    row = outbox.get("k")
    assert row is not None and (row.status, row.attempts, row.last_error) == ("failed", 1, "HTTP 400: bad request")
    assert outbox.claim("ops", LEASE_S, now=time.time() + 3600) is None
    [entry] = detail(audit_log, "evt-1", "delivery.given_up")
    assert entry["error"] == "HTTP 400: bad request"


def test_defer_puts_it_back_unattempted(outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """`defer` (a rate limit) returns the claim without counting an attempt: it has reached nobody."""
    outbox.enqueue([new_message("k")])
    until = time.time() + 60
    outbox.defer(claimed(outbox), until, "rate limit")

    row = outbox.get("k")
    assert row is not None and (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at == pytest.approx(until, abs=1e-3) and not row.may_have_reached
    assert outbox.claim("ops", LEASE_S) is None
    [entry] = detail(audit_log, "evt-1", "delivery.deferred")
    assert entry["reason"] == "rate limit" and entry["until"] == pytest.approx(until)


# --- withdraw -----------------------------------------------------------------------------------------------

def test_withdraw_cancels_unsent_alerts_and_returns_those_that_may_have_reached(
        store: EventStore, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """Never attempted: cancelled. Attempted (in flight, failed once, delivered): returned for the cancel to
    follow. Cancels, and other events, are left alone."""
    outbox.enqueue([new_message(key) for key in ("delivered", "in-flight", "failed-once", "failed", "unsent")])
    outbox.delivered(claimed(outbox), 0.1)
    in_flight = claimed(outbox)
    outbox.retry(claimed(outbox), "timeout", time.time() + 60)  # failed-once: pending again, attempts 1
    outbox.failed(claimed(outbox), "HTTP 400")
    assert in_flight.key == "in-flight"
    # Queued only now: an earlier cancel of the event would have cancelled the retry above already.
    outbox.enqueue([new_message("earlier-cancel", kind="cancel"), new_message("other-event", event_id="evt-2")])

    with store.write_session.begin() as session:
        reached = outbox.withdraw(session, "evt-1")

    assert sorted(d.key for d in reached) == ["delivered", "failed", "failed-once", "in-flight"]
    states = {row.key: row.status for row in outbox.list()}
    assert states == {"delivered": "delivered", "in-flight": "sending", "failed-once": "cancelled", "failed": "failed",
                      "unsent": "cancelled", "earlier-cancel": "pending", "other-event": "pending"}
    cancelled = detail(audit_log, "evt-1", "delivery.cancelled")
    assert sorted(str(entry["key"]) for entry in cancelled) == ["failed-once", "unsent"]
    # The cancelled alerts are never sent: only the cancel and the other event's alert are claimed.
    later = time.time() + 3600
    assert {claimed(outbox, now=later).key, claimed(outbox, now=later).key} == {"earlier-cancel", "other-event"}
    assert outbox.claim("ops", LEASE_S, now=later) is None


def test_a_failed_attempt_of_a_withdrawn_alert_is_cancelled_not_retried(
        store: EventStore, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """An alert in flight while its event is withdrawn (its cancel queued) and then failing is cancelled, so it
    can never arrive after the cancel; the cancel itself, and other events' alerts, are retried as usual."""
    outbox.enqueue([new_message("evt-1:alert"), new_message("evt-2:alert", event_id="evt-2")])
    alert, other = claimed(outbox), claimed(outbox)
    with store.write_session.begin() as session:
        assert [d.key for d in outbox.withdraw(session, "evt-1")] == ["evt-1:alert"]
        outbox.enqueue([new_message("evt-1:cancel", kind="cancel")], session=session)

    outbox.retry(alert, "no answer within 0.5 s", time.time())
    outbox.retry(other, "no answer within 0.5 s", time.time())
    cancel = claimed(outbox, now=time.time() + 1)
    assert cancel.key == "evt-1:cancel"
    outbox.retry(cancel, "HTTP 503", time.time())

    assert {row.key: row.status for row in outbox.list()} == {
        "evt-1:alert": "cancelled", "evt-2:alert": "pending", "evt-1:cancel": "pending"}
    nexts = [entry["next"] for entry in detail(audit_log, "evt-1", "delivery.failed_attempt")]
    assert nexts[0] == "cancelled (alert withdrawn)" and str(nexts[1]).startswith("retry in")


# --- recover ------------------------------------------------------------------------------------------------

def test_recover_frees_claims_of_dead_processes_and_expired_leases(
        store: EventStore, new_message: MessageFactory, audit_log: AuditLog) -> None:
    """A claim of a dead process on this host goes back at once; a live process's claim, or another host's,
    only once its lease has run out. The attempt stays counted."""
    host = socket.gethostname()
    Outbox(store).enqueue([new_message("dead"), new_message("alive"), new_message("elsewhere")])
    claimed(Outbox(store, worker=f"{host}:{dead_pid()}"))
    claimed(Outbox(store, worker=f"{host}:1"))  # pid 1 runs as long as the machine does
    claimed(Outbox(store, worker="another-host:1234"))
    outbox = Outbox(store)

    assert outbox.recover() == 1
    assert {row.key: row.status for row in outbox.list()} == {"dead": "pending", "alive": "sending",
                                                              "elsewhere": "sending"}
    assert outbox.get("dead").attempts == 1  # type: ignore[union-attr]
    assert outbox.recover(now=time.time() + LEASE_S + 1) == 2
    assert all(row.status == "pending" for row in outbox.list())
    recovered = detail(audit_log, "evt-1", "delivery.recovered")
    assert [entry["key"] for entry in recovered] == ["dead", "alive", "elsewhere"]


def test_recover_never_requeues_an_alert_withdrawn_since(store: EventStore, new_message: MessageFactory,
                                                         audit_log: AuditLog) -> None:
    """An alert in flight when its process died, withdrawn meanwhile, is cancelled by recovery: sent again,
    it would arrive after its cancel."""
    Outbox(store).enqueue([new_message("evt-1:alert")])
    claimed(Outbox(store, worker=f"{socket.gethostname()}:{dead_pid()}"))
    outbox = Outbox(store)
    with store.write_session.begin() as session:
        assert [d.key for d in outbox.withdraw(session, "evt-1")] == ["evt-1:alert"]
        outbox.enqueue([new_message("evt-1:cancel", kind="cancel")], session=session)

    assert outbox.recover() == 0  # nothing goes out again
    assert {row.key: row.status for row in outbox.list()} == {"evt-1:alert": "cancelled", "evt-1:cancel": "pending"}
    [entry] = detail(audit_log, "evt-1", "delivery.recovered")
    assert entry["key"] == "evt-1:alert" and entry["next"] == "cancelled (alert withdrawn)"


def test_a_claim_whose_lease_ran_out_is_taken_over(outbox: Outbox, new_message: MessageFactory,
                                                   audit_log: AuditLog) -> None:
    """A worker that lost its delivery (its database write failed after sending, or it hung) does not leave
    it stuck in `sending` until a restart: once the lease runs out, any worker claims it again."""
    outbox.enqueue([new_message("evt-1:alert:ops")])
    first = outbox.claim("ops", lease_s=60.0)
    assert first is not None
    assert outbox.claim("ops", lease_s=60.0) is None  # still leased
    again = outbox.claim("ops", lease_s=60.0, now=time.time() + 61)
    assert again is not None and again.key == first.key and again.attempts == 2
    assert detail(audit_log, "evt-1", "delivery.recovered")[0]["reason"] == "its claim's lease ran out"


def test_a_cancel_waits_while_its_alert_is_being_sent_on_the_lane(outbox: Outbox, new_message: MessageFactory
                                                                  ) -> None:
    """Two processes serving one lane (the service, and a command delivering its cancels): the cancel is
    not claimed while the alert of its event is in flight, so it cannot arrive first."""
    outbox.enqueue([new_message("evt-1:alert:ops")])
    alert = claimed(outbox)
    outbox.enqueue([new_message("evt-1:cancel:ops", kind="cancel"), new_message("evt-2:cancel:ops", kind="cancel",
                                                                               event_id="evt-2")])
    other_event = claimed(outbox)
    assert other_event.key == "evt-2:cancel:ops"  # another event's cancel is not held up
    assert outbox.claim("ops", LEASE_S) is None
    outbox.delivered(alert, 0.01)
    assert claimed(outbox).key == "evt-1:cancel:ops"


def test_a_claim_can_be_limited_to_some_keys(outbox: Outbox, new_message: MessageFactory) -> None:
    outbox.enqueue([new_message("evt-1:alert:ops"), new_message("evt-2:cancel:ops", kind="cancel", event_id="evt-2")])
    assert claimed_key(outbox, keys={"evt-2:cancel:ops"}) == "evt-2:cancel:ops"
    assert outbox.claim("ops", LEASE_S, keys={"evt-2:cancel:ops"}) is None
    assert claimed_key(outbox, keys=None) == "evt-1:alert:ops"


def claimed_key(outbox: Outbox, keys: set[str] | None) -> str:
    delivery = outbox.claim("ops", LEASE_S, keys=keys)
    assert delivery is not None
    return delivery.key


def test_withdraw_leaves_out_messages_whose_every_attempt_certainly_failed(
        store: EventStore, outbox: Outbox, audit_log: AuditLog, new_message: MessageFactory) -> None:
    """Refused (an address rejected, nothing listening) on every attempt: it reached nobody, so no cancel. One
    attempt with an unknown outcome (a timeout, a lost worker) is enough for the cancel to follow."""
    keys = ("refused", "refused-retrying", "timeout-then-refused", "refused-then-timeout", "lost-worker")
    outbox.enqueue([new_message(key) for key in keys])
    outbox.failed(claimed(outbox), "550 no such user", may_have_arrived=False)
    outbox.retry(claimed(outbox), "connection refused", time.time(), may_have_arrived=False)
    outbox.retry(claimed(outbox), "no answer within 1 s", time.time())
    outbox.retry(claimed(outbox), "connection refused", time.time(), may_have_arrived=False)
    lost = Outbox(store, worker=f"{socket.gethostname()}:{dead_pid()}")
    assert claimed(lost).key == "lost-worker"
    later = time.time() + 1
    second_attempts = {d.key: d for d in (claimed(outbox, now=later) for _ in range(3))}
    assert set(second_attempts) == {"refused-retrying", "timeout-then-refused", "refused-then-timeout"}
    outbox.failed(second_attempts["refused-retrying"], "connection refused", may_have_arrived=False)
    outbox.failed(second_attempts["timeout-then-refused"], "connection refused", may_have_arrived=False)
    outbox.retry(second_attempts["refused-then-timeout"], "no answer within 1 s", time.time() + 60)
    assert outbox.recover() == 1  # lost-worker: back to pending, attempt counted
    assert [entry["may_have_arrived"] for entry in detail(audit_log, "evt-1", "delivery.given_up")] == [
        False, False, False]

    with store.write_session.begin() as session:
        reached = outbox.withdraw(session, "evt-1")

    assert sorted(d.key for d in reached) == ["lost-worker", "refused-then-timeout", "timeout-then-refused"]
    assert {row.key: row.status for row in outbox.list()} == {
        "refused": "failed", "refused-retrying": "failed", "timeout-then-refused": "failed",
        "refused-then-timeout": "cancelled", "lost-worker": "cancelled"}


def test_withdraw_still_undoes_an_action_that_failed(store: EventStore, outbox: Outbox,
                                                     new_message: MessageFactory) -> None:
    """A lockdown call that failed may have locked some doors: its undo follows whatever the error."""
    call = new_message("evt-1:lockdown:1:call")
    outbox.enqueue([dataclasses.replace(call, action="call", lane="@calls", channel=None)])
    outbox.failed(claimed(outbox, lane="@calls"), "HTTP 400", may_have_arrived=False)
    with store.write_session.begin() as session:
        assert [d.key for d in outbox.withdraw(session, "evt-1")] == ["evt-1:lockdown:1:call"]
