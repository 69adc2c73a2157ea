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
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import IntegrityError

from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import alembic_config, current_revision, head_revision
from gunwatch.events.store.schema import Base
from gunwatch.video.health import CAMERA_STATES

TABLES = {"alembic_version", "cameras", "threat_events", "camera_health", "event_dispositions", "deliveries",
          "protocol_runs", "audit_log", "revoked_links", "watch_runs", "users", "user_sessions", "api_tokens",
          "legal_holds", "camera_leases"}


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


def test_the_database_takes_every_camera_state_and_refuses_others(store_url: str, engine: Engine) -> None:
    """compare_metadata does not compare CHECK constraints: the states are tried on the database itself."""
    with EventStore(store_url) as store:
        for state in CAMERA_STATES:
            store.record_health("lobby", state, f"now {state}")
        assert [change.state for change in store.camera_status(len(CAMERA_STATES))[0].recent] == [
            *reversed(CAMERA_STATES)]
    for table in ("camera_health", "cameras"):
        with pytest.raises(IntegrityError, match="ck_"), engine.begin() as connection:
            connection.execute(text(f"UPDATE {table} SET state = 'sleeping'"))


def test_a_store_of_the_previous_revision_is_upgraded_with_its_rows(store_url: str, engine: Engine) -> None:
    """0004 rebuilds the health tables on SQLite (batch mode) to widen their state constraint: rows survive."""
    EventStore(store_url).close()
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
    assert "watch_runs" not in inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO cameras (name, state, reason, state_at, updated_at) "
                                "VALUES ('lobby', 'online', 'frames', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO camera_health (camera, state, reason, at) "
                                "VALUES ('lobby', 'online', 'frames', CURRENT_TIMESTAMP)"))
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text("UPDATE cameras SET state = 'stopped'"))
    with EventStore(store_url) as store:
        [camera] = store.camera_status()
        assert (camera.name, camera.state, [c.reason for c in camera.recent]) == ("lobby", "online", ["frames"])
        store.record_health("lobby", "stopped", "watch stopped")
        assert store.camera_status()[0].state == "stopped"
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_going_down_from_0004_turns_stopped_cameras_offline(store_url: str, engine: Engine) -> None:
    """The older schema has no `stopped`: its constraint would refuse the rows, so they become offline."""
    with EventStore(store_url) as store:
        store.record_health("lobby", "stopped", "watch stopped")
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0003")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT state, reason FROM cameras")).all() == [("offline", "watch stopped")]
        assert connection.execute(text("SELECT state FROM camera_health")).scalars().all() == ["offline"]


def test_going_down_from_0005_turns_degraded_cameras_online(store_url: str, engine: Engine) -> None:
    """Degraded (the watchdog restarted its clip encoder) is watched and alerting: online to the older schema."""
    with EventStore(store_url) as store:
        store.record_health("lobby", "degraded", "clip encoder hung; restarted")
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0004")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT state, reason FROM cameras")).all() == [
            ("online", "clip encoder hung; restarted")]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("UPDATE cameras SET state = 'degraded'"))
    with EventStore(store_url) as store:  # up again
        store.record_health("lobby", "degraded", "clip encoder hung; restarted")
        assert store.camera_status()[0].state == "degraded"


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
