"""Notification tables: the email outbox and its delivery attempts, in-app
notifications, and each professional's reminder offsets.

The outbox is the source of truth for email. A row is written in the same
transaction as whatever caused it (a booking, a message), so the two commit or
roll back together; queues and timers only say *when* to look at it. A row's
``idempotency_key`` is unique: recording the same message twice is a no-op, and
the key also yields the email's Message-ID, so a rare second hand-over to SMTP
(after a crash between the server's acceptance and our commit) is the same
message to the recipient's mail system.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from consult.db import Base, UTCDateTime, utcnow

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
CANCELLED = "cancelled"
OUTBOX_STATUSES = (PENDING, SENT, FAILED, CANCELLED)


class OutboxMessage(Base):
    """One email to one recipient, rendered when it was recorded.

    Life cycle: ``pending`` → ``sent`` | ``failed`` | ``cancelled``. A sender
    *claims* a pending, due row by setting ``claimed_until`` (a lease) and
    ``claim_token`` in a conditional UPDATE, so two workers never both send it; a
    worker that dies leaves a lease that expires, and the sweep sends the row again.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        # The sweep and the in-process scheduler look for due pending rows only; the
        # partial index stays small however much history accumulates.
        Index(
            "ix_notification_outbox_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        Index("ix_notification_outbox_booking", "booking_id", "recipient_id"),
        Index("ix_notification_outbox_recipient", "recipient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking.id", ondelete="SET NULL"), default=None
    )
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str] = mapped_column(String(120), default="")
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The iTIP part (RFC 6047): METHOD and the VCALENDAR text, with the UID and
    # RECURRENCE-ID it concerns, so a later CANCEL can name exactly what was sent.
    calendar_method: Mapped[str | None] = mapped_column(String(16), default=None)
    calendar_ics: Mapped[str | None] = mapped_column(Text, default=None)
    calendar_uid: Mapped[str | None] = mapped_column(String(255), default=None)
    calendar_recurrence_id: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Kind-specific data for messages rebuilt just before their first attempt
    # (a class roster is read when the reminder goes out, not when the first seat sold).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    send_after: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DeliveryAttempt(Base):
    """One try at handing an outbox message to the mailer, and how it ended."""

    __tablename__ = "notification_attempt"
    __table_args__ = (Index("ix_notification_attempt_message", "message_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("notification_outbox.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "sent", "retry" (temporary error, tried again later) or "failed" (given up).
    outcome: Mapped[str] = mapped_column(String(16))
    smtp_code: Mapped[int | None] = mapped_column(Integer, default=None)
    detail: Mapped[str] = mapped_column(Text, default="")


class Notification(Base):
    """An entry in a person's in-app notification list (the bell).

    ``visible_from`` hides reminders until they are due; ``cancelled_at`` hides
    ones whose occasion went away (a reminder of a cancelled booking).
    """

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_recipient_visible", "recipient_id", "visible_from"),
        Index("ix_notification_booking", "booking_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(1000), default=None)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("booking.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    visible_from: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ReminderSetting(Base):
    """A professional's own reminder offsets, in minutes before the session,
    comma-separated (``"1440,60"``). No row: the ``[notifications]`` default."""

    __tablename__ = "notification_reminder_setting"

    professional_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    offsets_minutes: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
