"""Column types shared by the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class EpochTime(TypeDecorator[float]):
    """Epoch seconds in Python (as `ThreatEvent` has them), a timezone-aware UTC timestamp in the database.

    Why not floats: `timestamptz` columns read as times in psql and in SQL (`now() - interval '1 day'`,
    dashboards, retention jobs), and cannot be mistaken for local time. Precision is one microsecond.
    SQLite has no zone type: we always write UTC there and put the zone back on reading.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> datetime | None:
        return None if value is None else datetime.fromtimestamp(value, UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
