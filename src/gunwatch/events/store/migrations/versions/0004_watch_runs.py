"""Watch runs (one row per `gunwatch watch` process, how it ended), and the camera state `stopped`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

SQLite cannot alter a CHECK constraint: batch mode copies the table into a new one with the new
constraint (rows kept); PostgreSQL drops and adds the constraint in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
HEALTH_TABLES = ("cameras", "camera_health")
HEALTH_STATES = "state IN ('online', 'offline', 'stalled', 'stopped')"
OLD_HEALTH_STATES = "state IN ('online', 'offline', 'stalled')"


def upgrade() -> None:
    op.create_table(
        "watch_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("heartbeat_at", Time, nullable=False),
        sa.Column("stopped_at", Time, nullable=True),
        sa.Column("ending", sa.String(16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("ending IN ('stopped', 'failed', 'crashed')", name=op.f("ck_watch_runs_ending")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_runs")),
    )
    op.create_index(op.f("ix_watch_runs_started_at"), "watch_runs", ["started_at"])
    _check_health_states(HEALTH_STATES)


def downgrade() -> None:
    # The older schema has no `stopped`: the nearest state it knows is offline (no frames), reason kept.
    for table in HEALTH_TABLES:
        op.execute(sa.text(f"UPDATE {table} SET state = 'offline' WHERE state = 'stopped'"))
    _check_health_states(OLD_HEALTH_STATES)
    op.drop_index(op.f("ix_watch_runs_started_at"), table_name="watch_runs")
    op.drop_table("watch_runs")


def _check_health_states(condition: str) -> None:
    for table in HEALTH_TABLES:
        name = op.f(f"ck_{table}_state")
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
            batch.create_check_constraint(name, condition)
