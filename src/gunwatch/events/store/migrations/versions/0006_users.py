"""Console users, their sign-in sessions and API tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10

Secrets are never stored: a session is known by the SHA-256 of its cookie's secret, a token by its public id
and the SHA-256 of its secret; passwords as argon2id hashes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)
USER = sa.String(200)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", USER, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("sessions_valid_after", Time, nullable=False),
        sa.CheckConstraint("role IN ('admin', 'operator', 'viewer')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_name", USER, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("last_seen_at", Time, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.Column("address", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    op.create_index(op.f("ix_user_sessions_user_name"), "user_sessions", ["user_name"])
    op.create_index(op.f("ix_user_sessions_expires_at"), "user_sessions", ["expires_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", USER, nullable=False),
        sa.Column("user_name", USER, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("last_used_at", Time, nullable=True),
        sa.Column("expires_at", Time, nullable=True),
        sa.Column("revoked_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
    )
    op.create_index(op.f("ix_api_tokens_user_name"), "api_tokens", ["user_name"])


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("user_sessions")
    op.drop_table("users")
