"""free-busy type of each indexed occurrence piece

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:40:00

Pieces stored before this revision keep fbtype NULL ("not known"): free-busy
REPORTs parse those items, as before, until they are written again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dav_occurrence") as batch:
        batch.add_column(sa.Column("fbtype", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dav_occurrence") as batch:
        batch.drop_column("fbtype")
