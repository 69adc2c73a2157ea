"""Camera leases: in cluster mode, the one holder of each camera and until when.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_leases",
        sa.Column("camera", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("camera", name=op.f("pk_camera_leases")),
    )
    op.create_index(op.f("ix_camera_leases_holder"), "camera_leases", ["holder"])


def downgrade() -> None:
    op.drop_index(op.f("ix_camera_leases_holder"), table_name="camera_leases")
    op.drop_table("camera_leases")
