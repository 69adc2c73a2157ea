"""Insert-or-update in one statement (`INSERT ... ON CONFLICT DO UPDATE`), which SQLite and PostgreSQL share.

One statement instead of read-then-write: two writers of the same row cannot both insert it, and a
SQLite writer never has to upgrade a read lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

_INSERTS: dict[str, Callable[[Any], Any]] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def upsert(
    dialect: str,
    entity: Any,
    values: Mapping[str, Any],
    key: str,
    keep: Iterable[str] = (),
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> Insert:
    """Insert `values` into `entity`'s table; when a row with the same `key` exists, overwrite its columns
    except `key` and `keep`. `where(excluded)` may limit which existing rows are overwritten."""
    statement = _INSERTS[dialect](entity).values(dict(values))
    kept = {key, *keep}
    update = {name: statement.excluded[name] for name in values if name not in kept}
    condition = None if where is None else where(statement.excluded)
    return statement.on_conflict_do_update(index_elements=[key], set_=update, where=condition)
