"""browser sessions: one row per sign-in on the web pages, so that logout and
"sign out everywhere" end a session server-side

Revision ID: 0012_browser_sessions
Revises: 0011_token_version
Create Date: 2026-12-03 15:50:00

Cookies issued before this revision carry no session id and stop working: everyone
signs in once more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consult.db

revision = "0012_browser_sessions"
down_revision = "0011_token_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_browser_session_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_browser_session_token_hash")),
    )
    op.create_index(
        op.f("ix_browser_session_user_id"), "browser_session", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_browser_session_user_id"), table_name="browser_session")
    op.drop_table("browser_session")
