"""`AlertService.submit(item, handled)`: the caller learns when the alert thread has handled its item (what a
cluster node's forwarder waits on before it lets the item go), and never when handling failed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gunwatch.alerts.service import AlertService
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import ProtocolRunRow
from support.waiting import wait_until

WAIT_S = 30


def file_site(sink: Path, channel: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return {"channels": {"file": channel(sink.as_uri())}, "recipients": {"guard": {"name": "Guard"}},
            "protocols": {"gun_seen": {"steps": [{"notify": {"to": ["guard"], "via": ["file"]}}]}}}


def test_handled_is_set_once_the_protocol_run_is_in_the_store(
        store: EventStore, start_service: Callable[..., AlertService], make_event: Callable[..., ThreatEvent],
        channel: Callable[..., dict[str, Any]], runs: Callable[..., list[ProtocolRunRow]], tmp_path: Path) -> None:
    service = start_service(file_site(tmp_path / "alerts.jsonl", channel))
    event = make_event()
    store.save_event(event)
    handled = threading.Event()
    service.submit(event, handled)
    assert handled.wait(WAIT_S)
    assert [run.protocol for run in runs(event.id)] == ["gun_seen"]  # already there when `handled` was set


def test_handled_waits_through_failed_attempts_and_is_set_by_the_retry_that_works(
        store: EventStore, start_service: Callable[..., AlertService], make_event: Callable[..., ThreatEvent],
        channel: Callable[..., dict[str, Any]], runs: Callable[..., list[ProtocolRunRow]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    service = start_service(file_site(tmp_path / "alerts.jsonl", channel))
    original, store_back = service.engine.on_event, threading.Event()

    def fails_until_the_store_is_back(event: ThreatEvent) -> None:  # a store outage
        if not store_back.is_set():
            raise ConnectionError("the store is unreachable")
        original(event)

    service.engine.on_event = fails_until_the_store_is_back  # type: ignore[method-assign]
    event = make_event()
    store.save_event(event)
    handled = threading.Event()
    with caplog.at_level(logging.ERROR, logger="gunwatch.alerts.service"):
        service.submit(event, handled)
        assert wait_until(lambda: "failed to handle" in caplog.text, WAIT_S)
        assert not handled.is_set() and runs(event.id) == []  # a failure is no acknowledgement
        store_back.set()
        assert handled.wait(WAIT_S)  # a retry handled it
    assert [run.protocol for run in runs(event.id)] == ["gun_seen"]
