"""Alerts: event dispositions, the delivery outbox, protocol runs and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
CAMERA = sa.String(200)
EVENT = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "event_dispositions",
        sa.Column("event_id", EVENT, nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", Time, nullable=True),
        sa.Column("at", Time, nullable=False),
        sa.CheckConstraint("disposition IN ('acknowledged', 'confirmed', 'false_alarm', 'resolved')",
                           name=op.f("ck_event_dispositions_disposition")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_dispositions")),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("event_id", EVENT, nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("lane", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(200), nullable=True),
        sa.Column("recipient", sa.String(200), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Time, nullable=False),
        sa.Column("lease_until", Time, nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("first_attempt_at", Time, nullable=True),
        sa.Column("delivered_at", Time, nullable=True),
        sa.Column("updated_at", Time, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')",
                           name=op.f("ck_deliveries_status")),
        sa.CheckConstraint("action IN ('message', 'call', 'publish', 'command')", name=op.f("ck_deliveries_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_deliveries_key")),
    )
    op.create_index(op.f("ix_deliveries_lane_status_next_attempt_at"), "deliveries",
                    ["lane", "status", "next_attempt_at"])
    op.create_index(op.f("ix_deliveries_event_id"), "deliveries", ["event_id"])
    op.create_table(
        "protocol_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("protocol", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("event_id", EVENT, nullable=True),
        sa.Column("camera", CAMERA, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Integer(), nullable=False),
        sa.Column("wake_at", Time, nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("started_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.CheckConstraint("state IN ('verifying', 'running', 'waiting_ack', 'done', 'aborted', 'merged')",
                           name=op.f("ck_protocol_runs_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_runs")),
    )
    op.create_index(op.f("ix_protocol_runs_protocol_subject"), "protocol_runs", ["protocol", "subject"], unique=True)
    op.create_index(op.f("ix_protocol_runs_state_wake_at"), "protocol_runs", ["state", "wake_at"])
    op.create_index(op.f("ix_protocol_runs_event_id"), "protocol_runs", ["event_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("event_id", EVENT, nullable=True),
        sa.Column("camera", CAMERA, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_event_id_at"), "audit_log", ["event_id", "at"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("protocol_runs")
    op.drop_table("deliveries")
    op.drop_table("event_dispositions")
