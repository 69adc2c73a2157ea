"""What a store holds, read the same way from the live store, a backup's copy and a restored store: its
schema revision, each table's row count, and one digest of every row.

The digest is how `watch` knows a backup holds what the store holds now (the same rows, not only the same
revision), and how a restore checks what it wrote. Tables are read as they are, whatever the revision:
reflected, not taken from this gunwatch's ORM.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, select
from sqlalchemy.engine import Connection

ROWS_PER_FETCH = 1000  # rows read at a time: a store of months is hashed without holding it in memory


@dataclass(frozen=True)
class StoreContents:
    revision: str | None  # None: an empty database, never migrated
    rows: dict[str, int]  # by table
    digest: str  # SHA-256 over every table's name, columns and rows, in key order


def read_contents(connection: Connection) -> StoreContents:
    """The contents as this connection's transaction sees them (one snapshot, when the caller holds one)."""
    revision = MigrationContext.configure(connection).get_current_revision()
    metadata = MetaData()
    metadata.reflect(connection)
    digest = hashlib.sha256()
    rows: dict[str, int] = {}
    for name in sorted(metadata.tables):
        rows[name] = _hash_table(connection, metadata.tables[name], digest)
    return StoreContents(revision, rows, digest.hexdigest())


def _hash_table(connection: Connection, table: Table, digest: hashlib._Hash) -> int:
    columns = sorted(table.columns, key=lambda column: column.name)
    key = list(table.primary_key.columns) or columns
    digest.update(repr((table.name, [column.name for column in columns])).encode())
    result = connection.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(
        select(*columns).order_by(*key))
    count = 0
    for row in result:
        # repr: the values as the driver gives them; a backup is only ever compared within one database kind.
        digest.update(repr(tuple(row)).encode())
        count += 1
    return count
