"""The executor runs what the site file defines, never what a row says: rows altered in the database (a
command of an attacker's choice, a call's credentials sent to their URL) and rows of steps that changed
since they were queued are refused and recorded as failed. Real workers, real HTTP receivers, both stores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gunwatch.alerts.outbox import Outbox
from gunwatch.alerts.outbox.deliveries import CALL_LANE, COMMAND_LANE
from gunwatch.alerts.outbox.dispatcher import Dispatcher
from gunwatch.alerts.outbox.executor import DeliveryExecutor
from gunwatch.alerts.protocols.steps import RunRef, step_deliveries
from gunwatch.config.alerts import AlertSettings
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DeliveryRow
from support.http_receiver import HttpReceiver

RUN = RunRef(1, "0123abcd", "lockdown", {"camera": "lobby", "zone": "door", "score": 0.9, "event_id": "0123abcd",
                                          "site": "School", "protocol": "lockdown"})


def site(*steps: dict[str, Any]) -> AlertSettings:
    return AlertSettings.model_validate({"site_name": "School", "protocols": {"lockdown": {"steps": list(steps)}}})


def call(receiver: HttpReceiver, path: str, token: str) -> dict[str, Any]:
    return {"call": {"url": receiver.url(path), "headers": {"Authorization": f"Bearer {token}"}, "timeout_s": 2}}


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, HttpReceiver]]:
    """The site's door controller, and a server of the attacker's."""
    doors, attacker = HttpReceiver().start(), HttpReceiver().start()
    yield doors, attacker
    doors.stop()
    attacker.stop()


@pytest.fixture
def run_with() -> Iterator[Callable[[Outbox, AlertSettings], None]]:
    """`run_with(outbox, settings)`: workers for the call and command lanes, with the site file `settings`."""
    started: list[tuple[Dispatcher, DeliveryExecutor]] = []

    def start(outbox: Outbox, settings: AlertSettings) -> None:
        executor = DeliveryExecutor({}, settings)
        started.append((Dispatcher(Outbox(outbox.store), executor, poll_s=0.05).start([CALL_LANE, COMMAND_LANE]),
                        executor))

    yield start
    for dispatcher, executor in started:
        dispatcher.stop(timeout=5)
        executor.close()


def queue(outbox: Outbox, settings: AlertSettings, index: int) -> str:
    step = settings.protocols["lockdown"].steps[index]
    deliveries, _ = step_deliveries(settings, RUN, index, step, "alert", 0.0)
    [key] = outbox.enqueue(deliveries)
    return key


def overwrite(store: EventStore, key: str, payload: dict[str, Any]) -> None:
    """What anyone who can write to the database can do to a pending row."""
    with store.write_session.begin() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.key == key).values(payload=payload))


def test_a_command_written_into_the_database_is_not_run(
    store: EventStore, outbox: Outbox, run_with: Callable[..., None], settles: Callable[..., bool], tmp_path: Path,
) -> None:
    settings = site({"run": {"command": ["touch", str(tmp_path / "announced")], "timeout_s": 5}})
    key = queue(outbox, settings, 0)
    pwned = tmp_path / "pwned"
    overwrite(store, key, {"command": ["sh", "-c", f"id > {pwned}"], "timeout_s": 5, "cancel_command": None})
    run_with(outbox, settings)
    assert settles(key, "failed")  # settled: a command would have run before this
    assert not pwned.exists() and not (tmp_path / "announced").exists()
    failed = outbox.get(key)
    assert failed is not None and failed.attempts == 1
    assert "refused" in (failed.last_error or "") and "not a step reference" in (failed.last_error or "")


def test_a_calls_credentials_never_go_to_a_url_written_into_the_database(
    store: EventStore, outbox: Outbox, run_with: Callable[..., None], settles: Callable[..., bool],
    receivers: tuple[HttpReceiver, HttpReceiver],
) -> None:
    doors, attacker = receivers
    settings = site(call(doors, "/lock", "door-token"))
    key = queue(outbox, settings, 0)
    stolen = {"url": attacker.url("/steal"), "method": "POST", "body": None, "timeout_s": 2, "cancel": None,
              "credentials": {"protocol": "lockdown", "step": 0, "undo": False}}
    overwrite(store, key, stolen)
    run_with(outbox, settings)
    assert settles(key, "failed")
    assert attacker.requests == [] and doors.requests == []


def test_a_step_that_moved_in_the_site_file_is_still_the_one_that_runs(
    outbox: Outbox, run_with: Callable[..., None], settles: Callable[..., bool],
    receivers: tuple[HttpReceiver, HttpReceiver],
) -> None:
    """Queued as step 0; the site file then gained a step before it. The lock call is made with the lock's
    own token, not the token of whatever step is number 0 now."""
    doors, _ = receivers
    lock, siren = call(doors, "/lock", "lock-token"), call(doors, "/siren", "siren-token")
    key = queue(outbox, site(lock), 0)
    run_with(outbox, site(siren, lock))
    assert settles(key, "delivered")
    [request] = doors.requests
    assert (request.path, request.headers["authorization"]) == ("/lock", "Bearer lock-token")


def test_a_step_changed_since_it_was_queued_is_refused(
    outbox: Outbox, run_with: Callable[..., None], settles: Callable[..., bool],
    receivers: tuple[HttpReceiver, HttpReceiver],
) -> None:
    doors, _ = receivers
    key = queue(outbox, site(call(doors, "/lock", "lock-token")), 0)
    run_with(outbox, site(call(doors, "/lock-v2", "lock-token")))
    assert settles(key, "failed")
    assert doors.requests == []
    failed = outbox.get(key)
    assert failed is not None and "step 0 of protocol 'lockdown' is not in the site file as it was" in (
        failed.last_error or "")
