"""The store tests run on both backends: a SQLite file and a real PostgreSQL server on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore

BACKENDS = ["sqlite", "postgresql"]
T0 = 1_750_000_000.0  # a fixed wall-clock time (June 2025), with sub-second parts added by the tests


@pytest.fixture
def t0() -> float:
    return T0


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store: a new SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    with EventStore(store_url) as opened:
        yield opened


@pytest.fixture
def make_event() -> Callable[..., ThreatEvent]:
    """A confirmed event on `lobby` at T0; keyword arguments override fields."""

    def make(**changes: Any) -> ThreatEvent:
        fields: dict[str, Any] = {
            "camera": "lobby",
            "state": "open",
            "first_seen": T0 + 0.125,
            "confirmed_at": T0 + 0.5,
            "last_seen": T0 + 0.5,
            "max_score": 0.81,
            "best_box": (10.5, 20.0, 60.25, 90.0),
            "boxes": [(10.5, 20.0, 60.25, 90.0)],
            "zone": "door",
            "track_id": 7,
            "first_pts": 12.04,
            "evidence": Evidence(snapshot="runs/evidence/a.jpg", annotated="runs/evidence/a-boxes.jpg"),
        }
        return ThreatEvent(**(fields | changes))

    return make
