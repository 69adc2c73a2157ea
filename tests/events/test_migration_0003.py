"""Migration 0003: the signed links an older gunwatch stored in the outbox are removed on upgrade."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import create_engine, text

from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import alembic_config

STORED_LINK = "http://gunwatch.local:8780/act/eyJlIjoiZXZ0LTEifQ.c2lnbmF0dXJl"
INSERT = ("INSERT INTO deliveries (key, kind, action, lane, payload, status, attempts, next_attempt_at, created_at, "
          "updated_at) VALUES (:key, 'alert', :action, 'email', :payload, 'pending', 0, CURRENT_TIMESTAMP, "
          "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")


def test_links_stored_by_an_older_version_are_removed(store_url: str) -> None:
    EventStore(store_url).close()
    engine = create_engine(parse_store_url(store_url))
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
        message = {"key": "m", "title": "GUN DETECTED", "links": {"false_alarm": STORED_LINK}}
        call = {"url": "https://doors.local/lock", "links": "not a message: left alone"}
        with engine.begin() as connection:
            connection.execute(text(INSERT), {"key": "m", "action": "message", "payload": json.dumps(message)})
            connection.execute(text(INSERT), {"key": "c", "action": "call", "payload": json.dumps(call)})
        EventStore(store_url).close()  # upgrades to head
        with engine.connect() as connection:
            rows = dict(connection.execute(text("SELECT key, payload FROM deliveries")).all())
    finally:
        engine.dispose()
    payloads = {key: value if isinstance(value, dict) else json.loads(value) for key, value in rows.items()}
    assert payloads["m"] == {"key": "m", "title": "GUN DETECTED", "links": {}}
    assert payloads["c"] == call
    assert "/act/" not in json.dumps(payloads["m"])
