"""Retention inside `gunwatch watch`: a pass prunes, and the evidence disk below its floor with nothing left to
prune is one `disk_low` health event (audit log and listener) until it is above the floor again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from gunwatch.config import SiteConfig
from gunwatch.events.retention.disk import disk_usage
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import AuditRow
from gunwatch.pipeline.retention_thread import RetentionThread


def site(tmp_path: Path, retention: dict[str, object]) -> SiteConfig:
    return SiteConfig.model_validate({"cameras": {"lobby": {"url": "rtsp://cam/1"}},
                                      "evidence": {"folder": str(tmp_path / "evidence")}, "retention": retention})


def disk_health(store: EventStore) -> list[tuple[str, dict[str, object]]]:
    with store.read_session() as session:
        rows = session.scalars(select(AuditRow).where(AuditRow.action.startswith("health.")).order_by(AuditRow.id))
        return [(row.action, row.detail) for row in rows]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_disk_low_is_recorded_once_and_its_end_too(store: EventStore, tmp_path: Path) -> None:
    # This disk's real free space: a floor above it cannot be met (nothing is prunable), one below it is met.
    usage = disk_usage(tmp_path)
    above = 100 * (usage.free + 1) / usage.total
    heard: list[str] = []
    low = RetentionThread(site(tmp_path, {"min_free_percent": min(above + 0.5, 99.9)}), store, heard.append)
    assert low.run_once() is not None and low.run_once() is not None
    assert low.disk_low and len(heard) == 1 and "below its floor" in heard[0]
    [(action, detail)] = disk_health(store)
    assert action == "health.disk_low" and detail["folder"] == str(tmp_path / "evidence")

    low.pruner.settings = site(tmp_path, {"min_free_gb": 0.001, "min_free_percent": None}).retention
    low.run_once()
    assert not low.disk_low and [action for action, _ in disk_health(store)] == ["health.disk_low", "health.disk_ok"]
    assert len(heard) == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_thread_passes_at_start_and_stops_at_once(store: EventStore, tmp_path: Path) -> None:
    thread = RetentionThread(site(tmp_path, {"every_s": 86400}), store).start()
    thread.stop(timeout_s=600)  # joined: the first pass ran, and the day's wait did not hold the stop up
    assert thread.passes == 1 and not thread.alive()
