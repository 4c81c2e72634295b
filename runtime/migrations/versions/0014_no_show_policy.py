"""no-show policy: a service's own words on what happens when a client does not
come, shown when booking

Revision ID: 0014_no_show_policy
Revises: 0013_reviews
Create Date: 2026-12-04 02:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_no_show_policy"
down_revision = "0013_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_show_policy", sa.Text(), nullable=False, server_default=sa.text("''"))
        )


def downgrade() -> None:
    with op.batch_alter_table("service", schema=None) as batch_op:
        batch_op.drop_column("no_show_policy")
