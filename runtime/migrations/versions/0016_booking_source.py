"""booking source: where the client came from (search, direct link, embed, api),
for the professional's insights; bookings made before this are "direct"

Revision ID: 0016_booking_source
Revises: 0015_operators
Create Date: 2026-12-04 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_booking_source"
down_revision = "0015_operators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "source", sa.String(length=16), nullable=False, server_default=sa.text("'direct'")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("source")
