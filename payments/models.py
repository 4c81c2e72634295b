"""Payment tables: one payment (a provider's payment intent) per paid booking, its
refunds, and the webhook events already handled.

Invariants the database keeps:
- one payment per booking and one row per provider intent (unique indexes), so a
  retried checkout or a replayed event cannot attach a second charge;
- one refund per reason and booking (``idempotency_key`` is unique), and one row per
  provider refund, so a cancellation is refunded once whoever processes it;
- one row per webhook event id: the same event twice is handled once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.models import Booking
from consult.db import Base, UTCDateTime, utcnow

# Payment.status
PENDING = "pending"  # waiting for the client to pay; the slot is held
SUCCEEDED = "succeeded"  # paid; the booking is (or was) confirmed
CANCELED = "canceled"  # the intent was cancelled unpaid; the hold is released
PAYMENT_STATUSES = (PENDING, SUCCEEDED, CANCELED)

# Refund.status
REFUND_NONE = "none"  # the policy gives nothing back; nothing to send
REFUND_PENDING = "pending"  # to be sent to the provider
REFUND_PROCESSING = "processing"  # sent; the provider has not settled it yet
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"
REFUND_CANCELED = "canceled"
REFUND_STATUSES = (
    REFUND_NONE,
    REFUND_PENDING,
    REFUND_PROCESSING,
    REFUND_SUCCEEDED,
    REFUND_FAILED,
    REFUND_CANCELED,
)


class Payment(Base):
    """The payment of one paid booking: a payment intent at the provider."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status IN ('pending', 'succeeded', 'canceled')", name="status_known"),
        Index("uq_payment_booking", "booking_id", unique=True),
        Index("uq_payment_intent", "provider", "intent_id", unique=True),
        Index("ix_payment_status_hold", "status", "hold_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    intent_id: Mapped[str] = mapped_column(String(255))
    # Handed only to the booking's client, and only while the payment is open: with it
    # anyone could pay (never charge a second time), so it is treated as private.
    client_secret: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    hold_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    booking: Mapped[Booking] = relationship()
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="payment", order_by="Refund.id", lazy="selectin"
    )

    @property
    def refunded(self) -> int:
        """Minor units refunded or on their way back (not failed or cancelled)."""
        return sum(
            refund.amount
            for refund in self.refunds
            if refund.status in (REFUND_PENDING, REFUND_PROCESSING, REFUND_SUCCEEDED)
        )


class Refund(Base):
    """Money going back for one reason: a cancellation under the policy, a payment
    that arrived after its hold lapsed, or a refund made at the provider directly."""

    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent_range"),
        Index("uq_refund_idempotency_key", "idempotency_key", unique=True),
        Index("uq_refund_provider_refund", "provider_refund_id", unique=True),
        Index("ix_refund_payment", "payment_id"),
        Index("ix_refund_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"))
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"))
    # "cancel:<booking>", "late:<payment>", "provider:<refund id>": one refund per reason.
    idempotency_key: Mapped[str] = mapped_column(String(300))
    # client_cancelled, professional_cancelled, system_cancelled, late_payment, provider
    reason: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(16))  # full, partial, none
    percent: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=REFUND_PENDING)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the next attempt may start: a claim's lease, or the back-off after a failure.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class ProcessedWebhookEvent(Base):
    """A webhook event already handled (or deliberately ignored); a replay of the same
    event id finds its row and changes nothing."""

    __tablename__ = "payment_webhook_event"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
