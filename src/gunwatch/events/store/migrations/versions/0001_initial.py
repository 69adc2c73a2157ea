"""The first schema: cameras, threat events and camera health history.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Times are `timestamp with time zone` (UTC); see `columns.EpochTime`. Types are written out here rather
than imported from `schema.py`, so this revision stays what it was when `schema.py` changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
CAMERA = sa.String(200)
STATE = sa.String(16)
HEALTH_STATES = "state IN ('online', 'offline', 'stalled')"


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("name", CAMERA, nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("state", STATE, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state_at", Time, nullable=True),
        sa.Column("updated_at", Time, nullable=False),
        sa.CheckConstraint(HEALTH_STATES, name=op.f("ck_cameras_state")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cameras")),
    )
    op.create_table(
        "threat_events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("camera", CAMERA, nullable=False),
        sa.Column("zone", sa.String(200), nullable=True),
        sa.Column("state", STATE, nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("best_box", sa.JSON(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("first_seen", Time, nullable=False),
        sa.Column("confirmed_at", Time, nullable=False),
        sa.Column("last_seen", Time, nullable=False),
        sa.Column("closed_at", Time, nullable=True),
        sa.Column("first_pts", sa.Float(), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.Column("annotated", sa.Text(), nullable=True),
        sa.Column("clip", sa.Text(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.CheckConstraint("state IN ('open', 'updated', 'closed')", name=op.f("ck_threat_events_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threat_events")),
    )
    op.create_index(op.f("ix_threat_events_confirmed_at"), "threat_events", ["confirmed_at"])
    op.create_index(op.f("ix_threat_events_camera_confirmed_at"), "threat_events", ["camera", "confirmed_at"])
    op.create_table(
        "camera_health",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera", CAMERA, nullable=False),
        sa.Column("state", STATE, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", Time, nullable=False),
        sa.CheckConstraint(HEALTH_STATES, name=op.f("ck_camera_health_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_health")),
    )
    op.create_index(op.f("ix_camera_health_camera_at"), "camera_health", ["camera", "at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_camera_health_camera_at"), table_name="camera_health")
    op.drop_table("camera_health")
    op.drop_index(op.f("ix_threat_events_camera_confirmed_at"), table_name="threat_events")
    op.drop_index(op.f("ix_threat_events_confirmed_at"), table_name="threat_events")
    op.drop_table("threat_events")
    op.drop_table("cameras")
