"""operators: the operator role and suspension on accounts, the handled mark of a
contested no-show, and the log of operator actions

Revision ID: 0015_operators
Revises: 0014_no_show_policy
Create Date: 2026-12-04 02:00:36

Existing accounts are neither operators nor suspended (server defaults), so the
columns can be NOT NULL at once. Numbered after 0014_no_show_policy, which reached
main while this was written (one head).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consult.db


revision = "0015_operators"
down_revision = "0014_no_show_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["user_account.id"],
            name=op.f("fk_operator_action_operator_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_action")),
    )
    with op.batch_alter_table("operator_action", schema=None) as batch_op:
        batch_op.create_index("ix_operator_action_created", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_operator_action_target", ["target_type", "target_id"], unique=False
        )

    with op.batch_alter_table("no_show", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "contest_handled_at", consult.db.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_operator", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("suspended_at", consult.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("suspension_reason", sa.Text(), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("suspension_reason")
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("is_operator")

    with op.batch_alter_table("no_show", schema=None) as batch_op:
        batch_op.drop_column("contest_handled_at")

    with op.batch_alter_table("operator_action", schema=None) as batch_op:
        batch_op.drop_index("ix_operator_action_target")
        batch_op.drop_index("ix_operator_action_created")

    op.drop_table("operator_action")
