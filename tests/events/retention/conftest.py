"""A constructed site for retention: a store (both backends) and an evidence folder with real files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DispositionRow

NOW = 1_790_000_000.0  # a fixed wall-clock time (September 2026)
DAY = 86400.0
KB = 1024


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def add_event(store: EventStore, evidence: Path) -> Callable[..., ThreatEvent]:
    """An event of `camera` that ended `days_ago` days before NOW, with `kb` KiB of snapshot and of clip on disk,
    in `state`, and with what people said of it (`said`: resolved, false_alarm, acknowledged... or None)."""

    def add(event_id: str, days_ago: float, said: str | None = "resolved", state: str = "closed",
            camera: str = "lobby", kb: int = 16) -> ThreatEvent:
        ended = NOW - days_ago * DAY
        folder = evidence / camera
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for column, suffix in (("snapshot", ".jpg"), ("clip", ".mp4")):
            path = folder / f"{event_id}{suffix}"
            path.write_bytes(b"\xff" * kb * KB)
            files[column] = str(path)
        event = ThreatEvent(camera=camera, state=state, first_seen=ended - 20, confirmed_at=ended - 19,  # type: ignore[arg-type]
                            last_seen=ended - 10, closed_at=ended if state == "closed" else None, max_score=0.9,
                            best_box=(1, 2, 30, 40), evidence=Evidence(**files), id=event_id)
        store.save_event(event)
        if said is not None:
            with store.write_session.begin() as session:
                session.add(DispositionRow(event_id=event_id, disposition=said, actor="cli:ortiz", at=ended))
        return event

    return add
