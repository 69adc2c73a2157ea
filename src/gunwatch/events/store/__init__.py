"""The event store: threat events, cameras and camera health, in SQLite or PostgreSQL, via SQLAlchemy.

Modules: `store` (EventStore, the one entry point), `schema` (tables), `columns` (epoch <-> UTC times),
`rows` (ThreatEvent <-> row), `upsert`, `engine` (URLs, SQLite locking), `migrate` and `migrations/`
(Alembic, configured in code), `status` (camera status values), `report` (text and JSON for the CLI),
`runs` (each `gunwatch watch` run: its heartbeat, and how it ended).
"""

from gunwatch.events.store.engine import DEFAULT_STORE_URL
from gunwatch.events.store.errors import StoreError, StoreMissing, StoreUnavailable, UnknownEventId
from gunwatch.events.store.status import CameraStatus
from gunwatch.events.store.store import EventStore

__all__ = [
    "DEFAULT_STORE_URL",
    "CameraStatus",
    "EventStore",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "UnknownEventId",
]
