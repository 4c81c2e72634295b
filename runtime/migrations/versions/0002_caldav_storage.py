"""CalDAV storage: collections, items, the time-range index and the sync history
(see caldav_server/models.py for what each column means).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:25:50.934403
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consult.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dav_collection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("tag", sa.String(length=16), nullable=False),
        sa.Column("props", sa.Text(), nullable=False),
        sa.Column("ctag", sa.String(length=64), nullable=False),
        sa.Column("sync_id", sa.String(length=32), nullable=False),
        sa.Column("sync_seq", sa.BigInteger(), nullable=False),
        sa.Column("history_floor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["dav_collection.id"],
            name=op.f("fk_dav_collection_parent_id_dav_collection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_collection")),
        sa.UniqueConstraint("path", name=op.f("uq_dav_collection_path")),
    )
    op.create_index(
        op.f("ix_dav_collection_parent_id"), "dav_collection", ["parent_id"], unique=False
    )

    op.create_table(
        "dav_change",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("href", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collection.id"],
            name=op.f("fk_dav_change_collection_id_dav_collection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "href", name=op.f("pk_dav_change")),
    )
    op.create_index("ix_dav_change_seq", "dav_change", ["collection_id", "seq"], unique=False)
    op.create_index(
        "ix_dav_change_tombstones",
        "dav_change",
        ["collection_id", "deleted", "changed_at"],
        unique=False,
    )

    op.create_table(
        "dav_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("href", sa.String(length=255), nullable=False),
        sa.Column("uid", sa.String(length=1024), nullable=True),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("object_name", sa.String(length=16), nullable=False),
        sa.Column("component_name", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("span_start", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("span_end", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("indexed_until", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_modified", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collection.id"],
            name=op.f("fk_dav_item_collection_id_dav_collection"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dav_item")),
        sa.UniqueConstraint(
            "collection_id", "href", name=op.f("uq_dav_item_collection_id_href")
        ),
        sa.UniqueConstraint("collection_id", "uid", name=op.f("uq_dav_item_collection_id_uid")),
    )
    op.create_index(
        "ix_dav_item_unindexed",
        "dav_item",
        ["collection_id", "indexed_until", "span_start", "span_end"],
        unique=False,
    )

    op.create_table(
        "dav_occurrence",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", consult.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["dav_collection.id"],
            name=op.f("fk_dav_occurrence_collection_id_dav_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["dav_item.id"],
            name=op.f("fk_dav_occurrence_item_id_dav_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "item_id", "starts_at", "ends_at", name=op.f("pk_dav_occurrence")
        ),
    )
    op.create_index(
        "ix_dav_occurrence_window",
        "dav_occurrence",
        ["collection_id", "starts_at", "ends_at", "item_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dav_occurrence_window", table_name="dav_occurrence")
    op.drop_table("dav_occurrence")
    op.drop_index("ix_dav_item_unindexed", table_name="dav_item")
    op.drop_table("dav_item")
    op.drop_index("ix_dav_change_tombstones", table_name="dav_change")
    op.drop_index("ix_dav_change_seq", table_name="dav_change")
    op.drop_table("dav_change")
    op.drop_index(op.f("ix_dav_collection_parent_id"), table_name="dav_collection")
    op.drop_table("dav_collection")
