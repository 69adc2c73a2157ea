"""The camera state `degraded` (the watchdog restarted a part of a camera's evidence: its clip encoder).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08

As in 0004: SQLite cannot alter a CHECK constraint, so batch mode copies the health tables into new ones with
the wider constraint (rows kept); PostgreSQL drops and adds the constraint in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HEALTH_TABLES = ("cameras", "camera_health")
HEALTH_STATES = "state IN ('online', 'offline', 'stalled', 'stopped', 'degraded')"
OLD_HEALTH_STATES = "state IN ('online', 'offline', 'stalled', 'stopped')"


def upgrade() -> None:
    _check_health_states(HEALTH_STATES)


def downgrade() -> None:
    # The older schema has no `degraded`: the camera was watched and alerting, so online, reason kept.
    for table in HEALTH_TABLES:
        op.execute(sa.text(f"UPDATE {table} SET state = 'online' WHERE state = 'degraded'"))
    _check_health_states(OLD_HEALTH_STATES)


def _check_health_states(condition: str) -> None:
    for table in HEALTH_TABLES:
        name = op.f(f"ck_{table}_state")
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
            batch.create_check_constraint(name, condition)
