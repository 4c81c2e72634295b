"""Holds that run out, and intents that must stop.

When a hold's time is up, :func:`expire_payment` first asks the provider to cancel
the payment intent. Only once the provider has said "cancelled" is the slot freed
(a client still able to pay must not find their slot given away); if the provider
says the payment succeeded instead, the booking is confirmed. If the provider cannot
be reached, the hold stays and the next attempt (the job's retry, or the sweep)
decides. :func:`sweep` finds holds past their time and refunds not yet sent that a
lost job left behind; it is safe to run anywhere and concurrently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from booking.bookings import Links
from booking.models import CANCELLED, Booking
from consult.db import Database
from payments.confirmation import Outcome, apply_intent
from payments.errors import PaymentGatewayError
from payments.gateway import IntentState, PaymentGateway
from payments.models import PENDING, REFUND_PENDING, Payment, Refund
from payments.refunds import send_refund

log = logging.getLogger(__name__)


def expire_payment(
    database: Database,
    gateway: PaymentGateway | None,
    payment_id: int,
    *,
    now: datetime,
    links: Links,
) -> Outcome | str:
    """Expire one hold if its time is up: cancel the intent at the provider, then free
    the slot (or confirm, if the payment won). Returns the outcome, "not_due" or
    "not_pending". Raises PaymentGatewayError when the provider cannot be reached
    (the hold stays; retry later)."""
    with database.session(readonly=True) as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.status != PENDING:
            return "not_pending"
        if payment.hold_expires_at > now:
            return "not_due"
        intent_id = payment.intent_id
    return _stop_intent(database, gateway, payment_id, intent_id, now=now, links=links)


def cancel_unpaid(
    database: Database,
    gateway: PaymentGateway | None,
    payment_id: int,
    *,
    now: datetime,
    links: Links,
) -> Outcome | str:
    """Cancel the intent of a pending payment whose booking was cancelled (by the
    client, the professional or their calendar); a payment that won the race is
    refunded in full. Returns the outcome or "not_pending"."""
    with database.session(readonly=True) as session:
        payment = session.get(Payment, payment_id)
        if payment is None or payment.status != PENDING:
            return "not_pending"
        intent_id = payment.intent_id
    return _stop_intent(database, gateway, payment_id, intent_id, now=now, links=links)


def _stop_intent(
    database: Database,
    gateway: PaymentGateway | None,
    payment_id: int,
    intent_id: str,
    *,
    now: datetime,
    links: Links,
) -> Outcome | str:
    if gateway is None:
        # Payments were switched off after this hold was made: nobody can reach the
        # intent any more, so free the slot rather than keep it forever.
        log.warning("payment %s: no gateway configured; releasing its hold locally", payment_id)
        with database.session(readonly=True) as session:
            payment = session.get(Payment, payment_id)
            assert payment is not None
            intent = IntentState(intent_id, "canceled", payment.amount, payment.currency)
    else:
        # Outside any transaction: no lock is held while the provider answers.
        intent = gateway.cancel_intent(intent_id)
    with database.session() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return apply_intent(session, payment, intent, now=now, links=links)


@dataclass
class SweepResult:
    expired: dict[int, str] = field(default_factory=dict)
    stopped: dict[int, str] = field(default_factory=dict)
    refunds: dict[int, str] = field(default_factory=dict)


def sweep(
    database: Database,
    gateway: PaymentGateway | None,
    *,
    now: datetime,
    links: Links,
    limit: int = 100,
) -> SweepResult:
    """Do what lost jobs left behind: expire holds past their time, cancel intents of
    cancelled bookings, send pending refunds that are due. Errors of one item are
    logged and leave it for the next sweep."""
    result = SweepResult()
    with database.session(readonly=True) as session:
        due = list(
            session.scalars(
                select(Payment.id)
                .where(Payment.status == PENDING, Payment.hold_expires_at <= now)
                .order_by(Payment.hold_expires_at)
                .limit(limit)
            )
        )
        orphaned = list(
            session.scalars(
                select(Payment.id)
                .join(Booking, Booking.id == Payment.booking_id)
                .where(
                    Payment.status == PENDING,
                    Payment.hold_expires_at > now,
                    Booking.status == CANCELLED,
                )
                .limit(limit)
            )
        )
        refunds = list(
            session.scalars(
                select(Refund.id)
                .where(
                    Refund.status == REFUND_PENDING,
                    (Refund.next_attempt_at.is_(None)) | (Refund.next_attempt_at <= now),
                )
                .order_by(Refund.id)
                .limit(limit)
            )
        )
    for payment_id in due:
        try:
            result.expired[payment_id] = str(
                expire_payment(database, gateway, payment_id, now=now, links=links)
            )
        except PaymentGatewayError as error:
            log.warning("hold of payment %s stays for now: %s", payment_id, error.message)
            result.expired[payment_id] = "unreachable"
    for payment_id in orphaned:
        try:
            result.stopped[payment_id] = str(
                cancel_unpaid(database, gateway, payment_id, now=now, links=links)
            )
        except PaymentGatewayError as error:
            log.warning("intent of payment %s not cancelled yet: %s", payment_id, error.message)
            result.stopped[payment_id] = "unreachable"
    if gateway is not None:
        for refund_id in refunds:
            result.refunds[refund_id] = send_refund(database, gateway, refund_id, now=now)
    return result
