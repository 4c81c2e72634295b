"""Bringing a payment and its booking in step with the provider.

:func:`apply_intent` is the one place where a provider's intent state changes our
rows, whoever learnt it: the webhook, the return page's server-side check, the
card-token payment, the hold's expiry. It is idempotent and only moves forward
(pending → succeeded or canceled; both are final), so a replayed or late event
changes nothing. Everything happens under the professional's calendar lock, the lock
booking, cancelling and confirming take first, so there is one lock order.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking import bookings
from booking.bookings import Links
from booking.models import CONFIRMED, HELD, Booking
from booking.scheduling import professional_calendars
from caldav_server.store import CalendarStore
from payments.errors import HoldExpired, PaymentNotFound
from payments.gateway import IntentState, PaymentGateway
from payments.models import CANCELED, PENDING, SUCCEEDED, Payment
from payments.refunds import refund_late_payment

log = logging.getLogger(__name__)

Outcome = Literal[
    "confirmed", "already", "late_payment", "canceled", "failed", "waiting", "mismatch"
]


def get_payment(session: Session, booking_id: int) -> Payment | None:
    """The payment of a booking, or None (a free booking)."""
    return session.scalar(select(Payment).where(Payment.booking_id == booking_id))


def get_payment_by_intent(session: Session, provider: str, intent_id: str) -> Payment | None:
    return session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.intent_id == intent_id)
    )


def lock_booking(session: Session, booking: Booking) -> None:
    """Take the professional's calendar lock (the lock of every booking change), then
    re-read the booking and its payment: nothing else changes them until we commit."""
    professional = session.get(User, booking.professional_id)
    if professional is not None and professional.principal is not None:
        calendars = professional_calendars(session, professional)
        CalendarStore(session).lock_collection(calendars.bookings_path)
    session.refresh(booking)


def apply_intent(
    session: Session, payment: Payment, intent: IntentState, *, now: datetime, links: Links
) -> Outcome:
    """Apply the provider's ``intent`` state to ``payment`` and its booking; the caller
    commits. A succeeded intent confirms a held booking (invitations go out); if the
    booking was cancelled meanwhile the money goes back in full. A cancelled intent
    releases the hold. Returns what happened."""
    booking = payment.booking
    lock_booking(session, booking)
    session.refresh(payment)
    if intent.id != payment.intent_id:
        raise ValueError(f"intent {intent.id} is not payment {payment.id}'s")
    if intent.status == "succeeded":
        if (intent.amount, intent.currency) != (payment.amount, payment.currency):
            # Never confirm on an amount we did not ask for; a person must look.
            log.error(
                "payment %s: intent %s is %s %s, expected %s %s; not confirming",
                payment.id,
                intent.id,
                intent.amount,
                intent.currency,
                payment.amount,
                payment.currency,
            )
            payment.last_error = "The amount paid does not match the price; please contact us."
            return "mismatch"
        if payment.status == SUCCEEDED:
            return "already"
        payment.status = SUCCEEDED
        payment.paid_at = now
        payment.last_error = ""
        if booking.status == HELD:
            bookings.confirm_held(session, booking, now=now, links=links)
            return "confirmed"
        if booking.status == CONFIRMED:
            return "confirmed"
        # The hold lapsed or was cancelled while the client paid: give it all back.
        refund_late_payment(session, payment, now=now)
        return "late_payment"
    if payment.status != PENDING:
        return "already"
    if intent.status == "canceled":
        payment.status = CANCELED
        payment.canceled_at = now
        # The payment row says "canceled" before the booking is released, so the
        # cancellation subscriber does not try to cancel the intent a second time.
        session.flush()
        bookings.expire_hold(
            session, booking, now=now, reason="The payment was not completed in time."
        )
        return "canceled"
    if intent.status == "requires_payment_method" and intent.last_error:
        payment.last_error = intent.last_error
        return "failed"
    return "waiting"


def check_payment(
    session: Session, gateway: PaymentGateway, payment: Payment, *, now: datetime, links: Links
) -> Outcome:
    """The server-side check behind the webhook (return page, API, expiry): ask the
    provider for the intent and apply it. Raises PaymentGatewayError when it cannot
    be reached; the caller commits."""
    if payment.status != PENDING:
        return "already"
    intent = gateway.retrieve_intent(payment.intent_id)
    return apply_intent(session, payment, intent, now=now, links=links)


def pay_with_card_token(
    session: Session,
    gateway: PaymentGateway,
    payment: Payment,
    token: str,
    *,
    now: datetime,
    links: Links,
) -> tuple[Outcome, IntentState | None]:
    """Pay a held booking with a card token from the browser (Stripe.js builds without
    ``confirmPayment``, e.g. localstripe's stand-in). Refuses a lapsed hold
    (HoldExpired) before charging anything; PaymentDeclined for a refused card. The
    caller commits. Returns the outcome and the intent (None when already paid)."""
    if payment.status == SUCCEEDED:
        return "already", None
    if payment.status != PENDING or payment.booking.status != HELD:
        raise HoldExpired()
    if now >= payment.hold_expires_at:
        raise HoldExpired()
    intent = gateway.confirm_with_card_token(payment.intent_id, token)
    return apply_intent(session, payment, intent, now=now, links=links), intent


def require_payment(session: Session, booking_id: int) -> Payment:
    payment = get_payment(session, booking_id)
    if payment is None:
        raise PaymentNotFound()
    return payment
