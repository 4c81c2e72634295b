"""reviews and no-shows: one review per booking with the professional's reply and
report, the no-show marks with their contest, the invitations sent, and an index
on booking ends for the invitation scan

Revision ID: 0013_reviews
Revises: 0012_browser_sessions
Create Date: 2026-12-04 01:40:27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consult.db


revision = "0013_reviews"
down_revision = "0012_browser_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "no_show",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("contested_at", consult.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("contest_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
            name=op.f("fk_no_show_booking_id_booking"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_no_show")),
    )
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=False),
        sa.Column("replied_at", consult.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_at", consult.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("report_reason", sa.Text(), nullable=False),
        sa.Column("hidden_at", consult.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_review_rating_range")),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
            name=op.f("fk_review_booking_id_booking"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["user_account.id"], name=op.f("fk_review_client_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["user_account.id"],
            name=op.f("fk_review_professional_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_review_service_id_service")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
        sa.UniqueConstraint("booking_id", name=op.f("uq_review_booking_id")),
    )
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_professional_created", ["professional_id", "created_at"], unique=False
        )

    op.create_index("ix_booking_end", "booking", ["end"], unique=False)
    op.create_table(
        "review_invitation",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("invited_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
            name=op.f("fk_review_invitation_booking_id_booking"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_review_invitation")),
    )


def downgrade() -> None:
    op.drop_table("review_invitation")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_index("ix_review_professional_created")

    op.drop_table("review")
    op.drop_table("no_show")
    op.drop_index("ix_booking_end", table_name="booking")
