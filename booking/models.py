"""Scheduling tables: services, group sessions and their seats, bookings, and the
busy-time index derived from the professional's calendars.

Invariants that must hold under concurrency live in the database:
- one active one-on-one booking per professional and start (partial unique index),
  and every booking transaction holds the professional's lock while it re-checks
  busy time, so overlapping starts cannot both commit;
- a group occurrence never has more seats taken than its capacity (CHECK), and
  seats are taken with a conditional UPDATE;
- one active seat per client and group occurrence (partial unique index).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from accounts.models import User

ONE_ON_ONE = "one_on_one"
GROUP = "group"
SERVICE_KINDS = (ONE_ON_ONE, GROUP)

CONFIRMED = "confirmed"
CANCELLED = "cancelled"
# A slot or seat kept while the client pays (see :mod:`payments`): it is taken for
# everyone else, but nobody has been invited yet.
HELD = "held"
# Where a client came from when booking (Booking.source).
BOOKING_SOURCES = ("search", "direct", "embed", "api")
# Statuses that hold a slot or a seat.
ACTIVE_STATUSES = (CONFIRMED, HELD)
_ACTIVE_SQL = "status IN ('confirmed', 'held')"


class Service(Base):
    """Something a professional offers: a one-on-one consultation or a group class."""

    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
        Index("ix_service_professional", "professional_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    # What happens when a client does not come, in the professional's words; shown
    # when booking (migration 0014). A no-show is never refunded: it is no cancellation.
    no_show_policy: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_amount: Mapped[int] = mapped_column(Integer, default=0)
    price_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=0)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    daily_max: Mapped[int | None] = mapped_column(Integer, default=None)
    step_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    is_published: Mapped[bool] = mapped_column(Boolean, default=True)
    # Cancellation policy of a paid service (migration 0007, applied by payments.policy):
    # a client who cancels at least ``refund_full_hours`` before the start gets
    # everything back, at least ``refund_partial_hours`` before ``refund_partial_percent``
    # percent, later nothing. None switches a tier off (no column default: the ORM
    # would put it in place of an explicit None; the catalog gives new services 24).
    refund_full_hours: Mapped[int | None] = mapped_column(Integer)
    refund_partial_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    refund_partial_percent: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Deleting keeps the row so existing bookings still say what was booked.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def is_group(self) -> bool:
        return self.kind == GROUP

    @property
    def is_bookable(self) -> bool:
        return self.is_published and self.deleted_at is None


class GroupSession(Base):
    """A scheduled session (one-off or recurring) of a group class. Its VEVENT, with
    RRULE when recurring, lives in the professional's Bookings calendar under ``event_uid``."""

    __tablename__ = "group_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    event_uid: Mapped[str] = mapped_column(String(255), unique=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    rrule: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    service: Mapped[Service] = relationship()


class GroupOccurrence(Base):
    """Seats taken in one occurrence of a group session, guarded by a CHECK."""

    __tablename__ = "group_occurrence"
    __table_args__ = (
        CheckConstraint(
            "seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"
        ),
        Index("uq_group_occurrence_session_start", "session_id", "start", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("group_session.id", ondelete="CASCADE"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Base):
    """A client's booking: a one-on-one slot or one seat in a group occurrence."""

    __tablename__ = "booking"
    __table_args__ = (
        Index(
            "uq_booking_one_on_one_slot",
            "professional_id",
            "start",
            unique=True,
            postgresql_where=text(f"group_session_id IS NULL AND {_ACTIVE_SQL}"),
            sqlite_where=text(f"group_session_id IS NULL AND {_ACTIVE_SQL}"),
        ),
        Index(
            "uq_booking_group_seat",
            "group_session_id",
            "start",
            "client_id",
            unique=True,
            postgresql_where=text(f"group_session_id IS NOT NULL AND {_ACTIVE_SQL}"),
            sqlite_where=text(f"group_session_id IS NOT NULL AND {_ACTIVE_SQL}"),
        ),
        Index("ix_booking_client_start", "client_id", "start"),
        Index("ix_booking_professional_start", "professional_id", "start"),
        Index("ix_booking_event_uid", "event_uid"),
        # Sessions that ended lately (the invitation to review, in reviews).
        Index("ix_booking_end", "end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    professional_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    group_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_session.id"), default=None
    )
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=CONFIRMED)
    # The event in the professional's Bookings calendar: its own for one-on-one,
    # the session's (with this occurrence's RECURRENCE-ID) for a group seat.
    event_uid: Mapped[str] = mapped_column(String(255))
    event_href: Mapped[str] = mapped_column(String(255))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    client_note: Mapped[str] = mapped_column(Text, default="")
    client_timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Where the client came from (insights): "search" (a search result), "direct" (the
    # professional's own link), "embed" (the widget on another site), "api".
    source: Mapped[str] = mapped_column(
        String(16), default="direct", server_default=text("'direct'")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_by: Mapped[str | None] = mapped_column(String(16), default=None)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    service: Mapped[Service] = relationship(lazy="joined")
    group_session: Mapped[GroupSession | None] = relationship()
    # Loaded on use. A booking made in this request holds the accounts it was made
    # with, so its answer reads them without querying them again.
    professional: Mapped[User] = relationship(foreign_keys=[professional_id])
    client: Mapped[User] = relationship(foreign_keys=[client_id])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_group(self) -> bool:
        return self.group_session_id is not None


class CalendarBlock(Base):
    """One materialised occurrence of a calendar event of a professional: busy time
    from every calendar but Availability.

    Derived data, rebuilt from the calendar item on every write (through the store's
    listener, in the same transaction), so slot computation reads indexed rows instead
    of parsing and expanding thousands of events. Recurring events are expanded up to
    ``expanded_until``; anything later is expanded on demand.
    """

    __tablename__ = "calendar_block"
    __table_args__ = (
        Index("ix_calendar_block_principal_start", "principal", "start"),
        Index("ix_calendar_block_item", "collection_path", "href"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    collection_path: Mapped[str] = mapped_column(String(255))
    href: Mapped[str] = mapped_column(String(255))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarItemExpansion(Base):
    """How far each professional's calendar item has been expanded into blocks, and
    whether that depended on the professional's time zone (floating or all-day)."""

    __tablename__ = "calendar_item_expansion"
    __table_args__ = (
        Index("uq_calendar_item_expansion_item", "collection_path", "href", unique=True),
        Index("ix_calendar_item_expansion_principal", "principal", "expanded_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(64))
    collection_path: Mapped[str] = mapped_column(String(255))
    href: Mapped[str] = mapped_column(String(255))
    expanded_from: Mapped[datetime] = mapped_column(UTCDateTime)
    expanded_until: Mapped[datetime] = mapped_column(UTCDateTime)
    # None: fully expanded (no recurrence or a bounded one), nothing more to add later.
    open_ended: Mapped[bool] = mapped_column(Boolean, default=False)
    zone_dependent: Mapped[bool] = mapped_column(Boolean, default=False)


class FeedToken(Base):
    """The revocable secret of a professional's read-only ICS feed. The token in the
    URL is an HMAC over the user id and ``version``; revoking bumps the version."""

    __tablename__ = "feed_token"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
