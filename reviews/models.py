"""Reviews of sessions that took place, and no-shows marked by professionals.

One review per booking (a group-class seat is a booking too, so each seat holder
reviews the occurrence they attended). A no-show is a row beside the booking rather
than a booking status: the booking stays what it was (confirmed, in the calendar),
and the mark can be undone by deleting the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from booking.models import Booking


class Review(Base):
    """A client's rating (1-5) and optional text of one booking, and the
    professional's single public reply. ``reported_at`` is the professional's report
    to the operators; a review hidden by an operator (``hidden_at``) is not shown."""

    __tablename__ = "review"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_review_professional_created", "professional_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), unique=True
    )
    professional_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reply_text: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    report_reason: Mapped[str] = mapped_column(Text, default="")
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    hidden_reason: Mapped[str] = mapped_column(Text, default="")

    booking: Mapped[Booking] = relationship(lazy="joined")


class NoShow(Base):
    """The professional's mark that the client of ``booking_id`` did not come, and
    the client's contest of it (``contested_at``, with their words), which waits in
    the operators' queue until one of them marks it handled (``contest_handled_at``)."""

    __tablename__ = "no_show"

    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    contested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    contest_text: Mapped[str] = mapped_column(Text, default="")
    contest_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


# Who may write a review and for how long (the rules of issue 19).
REVIEW_EDIT_DAYS = 14
NO_SHOW_MARK_DAYS = 7
MAX_REVIEW_TEXT = 2000
MAX_REPLY_TEXT = 2000
MAX_CONTEST_TEXT = 1000
# When the invitation to review goes out after the end, and for how long after the
# end one is still sent (a maintenance run missed for days sends nothing stale).
INVITE_AFTER_MINUTES = 60
INVITE_WITHIN_DAYS = 7


class ReviewInvitation(Base):
    """The invitation to review ``booking_id`` went out (so it goes out once)."""

    __tablename__ = "review_invitation"

    booking_id: Mapped[int] = mapped_column(
        ForeignKey("booking.id", ondelete="CASCADE"), primary_key=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
