"""Tables of the CalDAV storage: collections, items, the time-range index and
the sync history. Only :mod:`caldav_server.store` writes them.

``dav_collection``
    One row per Radicale collection (principals, calendars, address books),
    keyed by its sanitized path without slashes (``alice/bookings``). ``props``
    holds Radicale's properties as JSON, except ``tag`` which has its own column.
    ``sync_seq`` counts changes to the collection's members and ``sync_id`` is
    random per creation, so a sync token (``sync_id`` + ``sync_seq``) never
    survives deleting and re-creating a calendar. ``history_floor`` is the oldest
    ``sync_seq`` that history can still answer for. ``ctag`` changes with every
    write, properties included.

``dav_item``
    One row per calendar object or vCard, with what Radicale would otherwise parse
    the text for (UID, etag, component name, enclosing time span). ``span_start`` /
    ``span_end`` enclose every occurrence (Radicale's ``find_time_range``:
    ``span_end`` is :data:`DATETIME_MAX` when a rule is unbounded).
    ``indexed_until``: every occurrence starting before it is in
    ``dav_occurrence``; :data:`DATETIME_MAX` when the item is fully indexed,
    :data:`DATETIME_MIN` when it could not be indexed (then only its span is used).

``dav_occurrence``
    The time-range index: one row per occurrence of an item, long occurrences
    cut into pieces of at most :data:`OCCURRENCE_PIECE`. Because no piece is
    longer than that, "occurrences overlapping [a, b)" is the index range
    ``a - OCCURRENCE_PIECE < starts_at < b`` plus ``ends_at > a``: it reads only
    the rows of the window, however long the calendar's history is.

``dav_change``
    RFC 6578 history: the latest change of each href (``seq`` from the
    collection's ``sync_seq``; ``deleted`` for tombstones). Changes since a token
    are the rows with ``seq`` above it. Old tombstones are pruned and
    ``history_floor`` raised, so an old token gets the RFC's error rather than an
    answer that misses deletions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from consult.db import Base, UTCDateTime

# The bounds Radicale uses for "no start" and "no end" (radicale.item.filter).
DATETIME_MIN = datetime.min.replace(tzinfo=UTC)
DATETIME_MAX = datetime.max.replace(tzinfo=UTC)

# Longest piece of an occurrence stored in dav_occurrence (see the module docstring).
OCCURRENCE_PIECE = timedelta(days=1)


class DavCollection(Base):
    """A Radicale collection: the root's children are principals, theirs calendars."""

    __tablename__ = "dav_collection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("dav_collection.id", ondelete="CASCADE"), index=True
    )
    tag: Mapped[str] = mapped_column(String(16), default="")
    props: Mapped[str] = mapped_column(Text, default="{}")
    ctag: Mapped[str] = mapped_column(String(64))
    sync_id: Mapped[str] = mapped_column(String(32))
    sync_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    history_floor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DavItem(Base):
    """A calendar object resource (or vCard) of a collection."""

    __tablename__ = "dav_item"
    __table_args__ = (
        UniqueConstraint("collection_id", "href"),
        # NULL UIDs (only possible for odd vCards) never collide, on both databases.
        UniqueConstraint("collection_id", "uid"),
        # Finds the few items whose occurrences are not all in dav_occurrence (rules
        # beyond the index horizon, very long events) and overlap a window by span.
        # Spans of all other items are never searched: their occurrences are.
        Index("ix_dav_item_unindexed", "collection_id", "indexed_until", "span_start", "span_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collection.id", ondelete="CASCADE"))
    href: Mapped[str] = mapped_column(String(255))
    uid: Mapped[str | None] = mapped_column(String(1024))
    etag: Mapped[str] = mapped_column(String(80))
    object_name: Mapped[str] = mapped_column(String(16))
    component_name: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    span_start: Mapped[datetime] = mapped_column(UTCDateTime)
    span_end: Mapped[datetime] = mapped_column(UTCDateTime)
    indexed_until: Mapped[datetime] = mapped_column(UTCDateTime)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class DavOccurrence(Base):
    """One occurrence (or a piece of a long one) of an item: the time-range index."""

    __tablename__ = "dav_occurrence"
    __table_args__ = (
        Index("ix_dav_occurrence_window", "collection_id", "starts_at", "ends_at", "item_id"),
    )

    item_id: Mapped[int] = mapped_column(
        ForeignKey("dav_item.id", ondelete="CASCADE"), primary_key=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # Copied from the item so that the window index can be searched per calendar.
    collection_id: Mapped[int] = mapped_column(ForeignKey("dav_collection.id", ondelete="CASCADE"))
    # What the piece means in a free-busy REPORT (caldav_server.spans.fbtype_of);
    # NULL for pieces indexed before the column existed: those items are parsed.
    fbtype: Mapped[str | None] = mapped_column(String(16), default=None)


class DavChange(Base):
    """The latest change of one href in a collection (RFC 6578 sync history)."""

    __tablename__ = "dav_change"
    __table_args__ = (
        Index("ix_dav_change_seq", "collection_id", "seq"),
        Index("ix_dav_change_tombstones", "collection_id", "deleted", "changed_at"),
    )

    collection_id: Mapped[int] = mapped_column(
        ForeignKey("dav_collection.id", ondelete="CASCADE"), primary_key=True
    )
    href: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
