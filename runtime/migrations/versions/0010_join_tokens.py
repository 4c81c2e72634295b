"""single-use video join tokens

Revision ID: 0010_join_tokens
Revises: 0009
Create Date: 2026-12-03 15:55:00

Each join token's jti is remembered here from its first use until it expires, so a
copied token cannot be replayed; maintenance purges expired rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consult.db

revision = "0010_join_tokens"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_join_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_used_join_token")),
    )
    op.create_index(
        "ix_used_join_token_expires_at", "used_join_token", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_used_join_token_expires_at", table_name="used_join_token")
    op.drop_table("used_join_token")
