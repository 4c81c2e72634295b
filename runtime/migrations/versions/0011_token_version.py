"""per-user API token version

Revision ID: 0011_token_version
Revises: 0010_join_tokens
Create Date: 2026-12-03 16:00:00

Access tokens carry it as ``tv``; bumping it ends every access token already handed
out (refresh-token replay, password change). Existing accounts start at 1, so
tokens minted before this revision (no ``tv``) are refused once and refreshed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_token_version"
down_revision = "0010_join_tokens"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column("token_version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("token_version")
