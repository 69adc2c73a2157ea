"""A store with something in every kind of table it fills (events with evidence files, cameras, health, a
watch run), a second empty store of the same kind to restore into, and every row of a store read back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, select

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.runs import RunLog

_stores = itertools.count()


def write_file(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def populated(store_url: str, tmp_path: Path, make_event: Callable[..., ThreatEvent], t0: float) -> str:
    """The store at `store_url`: two events (the first with a snapshot and a clip on disk, the second naming
    a snapshot that is gone), a camera with health changes, and a watch run that stopped."""
    evidence = tmp_path / "evidence"
    first = Evidence(snapshot=write_file(evidence / "lobby" / "a.jpg", b"\xff\xd8snapshot a"),
                     clip=write_file(evidence / "lobby" / "a.mp4", b"clip a" * 1000))
    with EventStore(store_url) as store:
        store.upsert_camera("lobby", "rtsp://admin:secret@10.0.0.5/stream1", "rtsp")
        store.record_health("lobby", "online", at=t0)
        store.record_health("lobby", "offline", "connection refused", at=t0 + 60)
        store.save_event(make_event(id="evt-first", evidence=first))
        store.save_event(make_event(id="evt-first", state="closed", closed_at=t0 + 9, evidence=first))
        store.save_event(make_event(id="evt-second", camera="yard", confirmed_at=t0 + 30,
                                    evidence=Evidence(snapshot=str(evidence / "yard" / "gone.jpg"))))
        runs = RunLog(store)
        run = runs.begin("host-a", 4242, ["lobby"], now=t0)
        runs.end(run.id, "stopped", now=t0 + 100)
    return store_url


@pytest.fixture
def empty_url(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second, empty store of the same kind as `store_url` (nothing created in it yet)."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other' / f'restored-{next(_stores)}.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"restored_{next(_stores)}_{abs(hash(str(tmp_path))) % 10**8}")


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, read by reflection (whatever the schema revision)."""
    engine = create_engine(parse_store_url(url))
    try:
        with engine.connect() as connection:
            metadata = MetaData()
            metadata.reflect(connection)
            return {name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
                    for name, table in sorted(metadata.tables.items())}
    finally:
        engine.dispose()


@pytest.fixture
def rows_of() -> Callable[[str], dict[str, list[tuple[Any, ...]]]]:
    return table_rows
