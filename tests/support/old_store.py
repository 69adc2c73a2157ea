"""A store as the previous release left it: created at schema revision 0005 with Alembic and written with
that release's columns (tables described here as they were then, not by today's ORM)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text, create_engine, insert

from gunwatch.events.store.columns import EpochTime
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import alembic_config

PREVIOUS_RELEASE = "0005"
T0 = 1_750_000_000.0

_then = MetaData()
CAMERAS = Table("cameras", _then, Column("name", String), Column("url", Text), Column("kind", String),
                Column("state", String), Column("reason", Text), Column("state_at", EpochTime),
                Column("updated_at", EpochTime))
EVENTS = Table("threat_events", _then, *(Column(name, String) for name in ("id", "camera", "zone", "state")),
               Column("max_score", Float), Column("best_box", JSON), Column("boxes", JSON),
               *(Column(name, EpochTime) for name in ("first_seen", "confirmed_at", "last_seen", "closed_at")),
               Column("first_pts", Float), Column("track_id", Integer),
               *(Column(name, Text) for name in ("snapshot", "annotated", "clip")),
               Column("created_at", EpochTime), Column("updated_at", EpochTime))
HEALTH = Table("camera_health", _then, Column("camera", String), Column("state", String), Column("reason", Text),
               Column("at", EpochTime))
DISPOSITIONS = Table("event_dispositions", _then, Column("event_id", String), Column("disposition", String),
                     Column("actor", String), Column("note", Text), Column("acknowledged_at", EpochTime),
                     Column("at", EpochTime))
RUNS = Table("watch_runs", _then, Column("host", String), Column("pid", Integer), Column("cameras", JSON),
             Column("started_at", EpochTime), Column("heartbeat_at", EpochTime), Column("stopped_at", EpochTime),
             Column("ending", String), Column("note", Text))


def create_previous_release_store(url: str, snapshot: str | None = None) -> None:
    """A store at revision 0005 holding a closed event (acknowledged), a degraded camera with its health
    history, and a watch run that stopped."""
    engine = create_engine(parse_store_url(url))
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), PREVIOUS_RELEASE)
        with engine.begin() as connection:
            connection.execute(insert(CAMERAS).values(name="lobby", url="rtsp://admin:***@10.0.0.5/1", kind="rtsp",
                                                      state="degraded", reason="4 fps of 10", state_at=T0 + 50,
                                                      updated_at=T0 + 50))
            connection.execute(insert(HEALTH), [
                {"camera": "lobby", "state": "online", "reason": None, "at": T0},
                {"camera": "lobby", "state": "degraded", "reason": "4 fps of 10", "at": T0 + 50},
            ])
            connection.execute(insert(EVENTS).values(
                id="evt-old", camera="lobby", zone="door", state="closed", max_score=0.91,
                best_box=[1.0, 2.0, 3.0, 4.0], boxes=[[1.0, 2.0, 3.0, 4.0]], first_seen=T0 + 10, confirmed_at=T0 + 11,
                last_seen=T0 + 20, closed_at=T0 + 25, first_pts=3.5, track_id=4, snapshot=snapshot, annotated=None,
                clip=None, created_at=T0 + 11, updated_at=T0 + 25))
            connection.execute(insert(DISPOSITIONS).values(event_id="evt-old", disposition="acknowledged",
                                                           actor="cli:alice", note="on it", acknowledged_at=T0 + 12,
                                                           at=T0 + 12))
            connection.execute(insert(RUNS).values(host="host-a", pid=7, cameras=["lobby"], started_at=T0,
                                                   heartbeat_at=T0 + 95, stopped_at=T0 + 100, ending="stopped",
                                                   note=None))
    finally:
        engine.dispose()
