"""The store tests run on both backends: a SQLite file and a real PostgreSQL server on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gunwatch.events.model import Evidence, ThreatEvent

T0 = 1_750_000_000.0  # a fixed wall-clock time (June 2025), with sub-second parts added by the tests


@pytest.fixture
def t0() -> float:
    return T0


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
