"""The tables, as ORM classes. The migrations in `migrations/versions` create them; a test checks both agree.

Camera names are plain columns, not foreign keys: events and health are a log, kept when a camera is
renamed or removed from the site file, and recorded even for a camera that was never registered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gunwatch.events.store.columns import EpochTime

# Named constraints, so later migrations can address them by name on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}

EVENT_STATES = ("open", "updated", "closed")
HEALTH_STATES = ("online", "offline", "stalled")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CameraRow(Base):
    """A camera and its current health (the latest health record)."""

    __tablename__ = "cameras"
    __table_args__ = (CheckConstraint(_one_of("state", HEALTH_STATES), name="state"),)

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    url: Mapped[str | None] = mapped_column(Text)  # redacted: never a password
    kind: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(16))  # None until the first health record
    reason: Mapped[str | None] = mapped_column(Text)
    state_at: Mapped[float | None] = mapped_column(EpochTime)  # when the current state was recorded
    updated_at: Mapped[float] = mapped_column(EpochTime)


class EventRow(Base):
    """One threat event: open, updated and closed rewrite the same row."""

    __tablename__ = "threat_events"
    __table_args__ = (
        CheckConstraint(_one_of("state", EVENT_STATES), name="state"),
        Index(None, "confirmed_at"),
        Index(None, "camera", "confirmed_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera: Mapped[str] = mapped_column(String(200))
    zone: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    max_score: Mapped[float] = mapped_column(Float)
    best_box: Mapped[list[float]] = mapped_column(JSON)
    boxes: Mapped[list[Any]] = mapped_column(JSON)
    first_seen: Mapped[float] = mapped_column(EpochTime)
    confirmed_at: Mapped[float] = mapped_column(EpochTime)
    last_seen: Mapped[float] = mapped_column(EpochTime)
    closed_at: Mapped[float | None] = mapped_column(EpochTime)
    first_pts: Mapped[float | None] = mapped_column(Float)  # a stream timestamp, not wall-clock time
    track_id: Mapped[int | None] = mapped_column(Integer)
    snapshot: Mapped[str | None] = mapped_column(Text)
    annotated: Mapped[str | None] = mapped_column(Text)
    clip: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(EpochTime)
    updated_at: Mapped[float] = mapped_column(EpochTime)


class HealthRow(Base):
    """One health change of a camera; rows are only ever appended."""

    __tablename__ = "camera_health"
    __table_args__ = (
        CheckConstraint(_one_of("state", HEALTH_STATES), name="state"),
        Index(None, "camera", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    camera: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[float] = mapped_column(EpochTime)
