"""SQLite's online backup API, both ways: a consistent copy of a store in use, and a copy put back.

The copy is taken page by page under a read lock, so `watch` may go on writing meanwhile (WAL); the copy
is made a single self-contained file (journal_mode=DELETE). Putting it back writes into the store file
through the same API, under SQLite's locks, never by replacing the file under an open connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gunwatch.events.private import create_private_file
from gunwatch.events.store.engine import SQLITE_BUSY_TIMEOUT_S


def copy_out(store: Path, target: Path) -> None:
    """A consistent copy of the store file `store` as the new file `target` (0600)."""
    create_private_file(target)
    source = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_S)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    finally:
        source.close()


def copy_in(backup: Path, store: Path) -> None:
    """The backup's database written over the store file `store` (made 0600 first when it is new)."""
    create_private_file(store)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(store, timeout=SQLITE_BUSY_TIMEOUT_S)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
