"""The schema comes from the packaged Alembic migrations, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, inspect

from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import alembic_config, current_revision, head_revision
from gunwatch.events.store.schema import Base

TABLES = {"alembic_version", "cameras", "threat_events", "camera_health", "event_dispositions", "deliveries",
          "protocol_runs", "audit_log", "revoked_links"}


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A plain engine on the test's database, for looking at it from outside the store."""
    engine = create_engine(parse_store_url(store_url))
    yield engine
    engine.dispose()


def test_opening_an_empty_database_creates_the_schema_at_head(store_url: str, engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) == set()
    EventStore(store_url).close()
    assert set(inspect(engine).get_table_names()) == TABLES
    assert current_revision(engine) == head_revision() is not None


def test_a_second_open_changes_nothing(store_url: str) -> None:
    EventStore(store_url).close()
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement.strip().split()[0].upper())

    event.listen(Engine, "before_cursor_execute", record)
    try:
        EventStore(store_url).close()
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert statements, "the second open did not even read the schema version"
    assert set(statements) <= {"SELECT", "PRAGMA", "BEGIN"}, statements


def test_the_migrations_build_exactly_the_tables_the_code_uses(store_url: str, engine: Engine) -> None:
    EventStore(store_url).close()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_the_migrations_go_down_and_up_again(store_url: str, engine: Engine) -> None:
    EventStore(store_url).close()
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    EventStore(store_url).close()
    assert set(inspect(engine).get_table_names()) == TABLES


OPEN_ON_SIGNAL = """
import sys, time
from pathlib import Path
from gunwatch.events.store import EventStore
url, folder, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
(folder / name).touch()
while not (folder / "go").exists():
    time.sleep(0.002)
EventStore(url).close()
"""


def test_processes_opening_a_fresh_store_at_once_take_turns(store_url: str, engine: Engine, tmp_path: Path) -> None:
    """The pipeline and a read command may be the first to open a store at the same moment."""
    signals = tmp_path / "signals"
    signals.mkdir()
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_ON_SIGNAL, store_url, str(signals), f"ready-{n}"],
                         stderr=subprocess.PIPE, text=True)
        for n in range(3)
    ]
    deadline = time.monotonic() + 60
    while len(list(signals.glob("ready-*"))) < len(processes) and time.monotonic() < deadline:
        time.sleep(0.01)
    (signals / "go").touch()
    failures = [p.communicate(timeout=60)[1] for p in processes if p.wait(timeout=60) != 0]
    assert failures == []
    assert current_revision(engine) == head_revision()
