"""Revoked action links; and no signed link left in the outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Links are now minted when a message is sent, never stored: the links an older gunwatch stored in message
payloads are removed (they no longer verify anyway: the token format changed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "revoked_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("token_id", sa.String(64), nullable=True),
        sa.Column("revoked_at", Time, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revoked_links")),
    )
    op.create_index(op.f("ix_revoked_links_event_id"), "revoked_links", ["event_id"])
    _drop_stored_links()


def _drop_stored_links() -> None:
    deliveries = sa.table("deliveries", sa.column("id", sa.Integer()), sa.column("action", sa.String(16)),
                          sa.column("payload", sa.JSON()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(deliveries.c.id, deliveries.c.payload)
                              .where(deliveries.c.action == "message")).all()
    for row_id, payload in rows:
        if isinstance(payload, dict) and payload.get("links"):
            connection.execute(sa.update(deliveries).where(deliveries.c.id == row_id)
                               .values(payload={**payload, "links": {}}))


def downgrade() -> None:
    op.drop_table("revoked_links")
