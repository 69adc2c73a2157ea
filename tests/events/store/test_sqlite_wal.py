"""A SQLite store file is switched to WAL mode once, by whichever of the processes opening it gets the lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gunwatch.events.store.engine import use_wal


class SpyCursor:
    """A cursor that tells when one of its statements found the database locked."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self.cursor, self.found_locked = cursor, threading.Event()

    def execute(self, sql: str) -> sqlite3.Cursor:
        try:
            return self.cursor.execute(sql)
        except sqlite3.OperationalError:
            self.found_locked.set()
            raise


def rollback_journal_file(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
    return path


def test_a_locked_file_is_switched_once_the_lock_is_given_back(tmp_path: Path) -> None:
    path = rollback_journal_file(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM t").fetchall()  # a read lock: switching to WAL must wait for it
    opener = sqlite3.connect(path, timeout=0.01, isolation_level=None, check_same_thread=False)
    cursor = SpyCursor(opener.cursor())
    errors: list[BaseException] = []

    def switch() -> None:
        try:
            use_wal(cursor, wait_s=600)  # type: ignore[arg-type]
        except BaseException as error:  # reported by the test below
            errors.append(error)

    thread = threading.Thread(target=switch)
    thread.start()
    assert cursor.found_locked.wait(60)  # it tried, found the file locked, and tries again
    holder.execute("COMMIT")
    thread.join(60)
    assert not thread.is_alive() and errors == []
    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_file_locked_past_the_wait_is_an_error(tmp_path: Path) -> None:
    path = rollback_journal_file(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM t").fetchall()
    opener = sqlite3.connect(path, timeout=0.01, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        use_wal(opener.cursor(), wait_s=0)
    holder.execute("COMMIT")


def test_a_file_in_wal_mode_stays_so_while_another_reads(tmp_path: Path) -> None:
    path = rollback_journal_file(tmp_path)
    use_wal(sqlite3.connect(path, isolation_level=None).cursor())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN")
    holder.execute("SELECT * FROM t").fetchall()
    opener = sqlite3.connect(path, timeout=0.01, isolation_level=None)
    use_wal(opener.cursor(), wait_s=0)  # no lock needed: it is WAL already
    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
