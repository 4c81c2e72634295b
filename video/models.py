"""Tables of the messaging between a booking's client and professional.

A booking's thread is simply its messages (``booking_id``); ``message_read``
keeps, per booking and participant, the last message they have read, from which
unread counts follow with one indexed query.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consult.db import Base, UTCDateTime, utcnow


class Message(Base):
    """One text message in a booking's thread, as the sender typed it (escaped on output)."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_booking_id_id", "booking_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageRead(Base):
    """How far ``user_id`` has read the thread of ``booking_id``."""

    __tablename__ = "message_read"

    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UsedJoinToken(Base):
    """A join token that already admitted someone, kept until it expires: the primary
    key makes a second use fail on insert, in every app process alike."""

    __tablename__ = "used_join_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
