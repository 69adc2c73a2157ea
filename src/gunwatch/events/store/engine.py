"""Database engines for the store: the URL read and checked, SQLite set up for several threads and processes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection

from gunwatch.config.sections import STORE_DIALECTS

DEFAULT_STORE_URL = "sqlite:///runs/gunwatch.db"

SQLITE_BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another's lock before "database is locked"
CONNECT_TIMEOUT_S = 10  # a PostgreSQL host that never answers fails after this, instead of hanging
# Execution option read by the SQLite "begin" hook: writers take the write lock when they begin.
BEGIN_OPTION = "gunwatch_sqlite_begin"
WRITE_OPTIONS = {BEGIN_OPTION: "BEGIN IMMEDIATE"}


def parse_store_url(url: str) -> URL:
    """The SQLAlchemy URL, with PostgreSQL pinned to psycopg 3 (the driver we install), or ValueError."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgres":
        raise ValueError("write postgresql://, not postgres:// (SQLAlchemy no longer accepts the short name)")
    if backend not in STORE_DIALECTS:
        raise ValueError(f"unsupported database {backend}://; accepted: {', '.join(STORE_DIALECTS)}")
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for other databases and for in-memory SQLite."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def make_engine(url: URL) -> Engine:
    """An engine shared by the store's threads (a connection pool; each call takes its own session)."""
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
    elif backend == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    # pre_ping: a long-running writer survives a database restart instead of failing on a dead connection.
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=backend != "sqlite")
    if backend == "sqlite":
        _use_sqlite_transactions(engine)
    return engine


def _use_sqlite_transactions(engine: Engine) -> None:
    """SQLAlchemy's recipe for real SQLite transactions, plus WAL and immediate write locks.

    Python's sqlite3 issues BEGIN only before writes and never before DDL, so migrations would not be
    atomic. We issue BEGIN ourselves: `BEGIN IMMEDIATE` for writers, so two writers queue on the busy
    timeout instead of one failing at once when it upgrades a read lock. WAL lets readers (the CLI, the
    dashboard) read while the pipeline writes.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 stops issuing BEGIN; the hook below does it
        cursor = dbapi_connection.cursor()
        use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a power cut loses at most the last commits
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def use_wal(cursor: sqlite3.Cursor, wait_s: float = SQLITE_BUSY_TIMEOUT_S) -> None:
    """Put the database in WAL mode (it stays so in the file), waiting up to `wait_s` for other processes.

    Switching a fresh file to WAL takes an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy timeout, when processes opening the file at the same moment would otherwise wait on each
    other (seen with three at once, about one start in twenty): so try again until one of them has switched
    it. A file already in WAL mode needs no lock for this."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
