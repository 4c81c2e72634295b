"""Refunds: what a cancellation gives back (by the service's policy), sending it
through the gateway, and following what the provider says about it afterwards.

- :func:`on_booking_changed` (a :mod:`booking.events` subscriber) records, inside the
  cancellation's own transaction, the refund the policy gives, or, for a booking
  still waiting for its payment, that the payment intent must be cancelled. The
  actual calls to the provider happen after the commit (:mod:`payments.dispatch`).
- :func:`send_refund` claims a pending refund for a short lease, calls the gateway
  with an idempotency key derived from the refund's id (a retry after a crash is
  the same refund at the provider), then records the result. A failure backs off
  and is retried by the sweep; after ``MAX_ATTEMPTS`` the refund is marked failed.
- :func:`sync_refunds` applies refund states from webhooks; refunds made at the
  provider directly (in its dashboard) are recorded too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.models import Booking
from consult.db import Database
from consult.hookspecs import BookingChanged
from payments import dispatch
from payments.errors import PaymentGatewayError
from payments.gateway import PaymentGateway, RefundState
from payments.models import (
    PENDING,
    REFUND_CANCELED,
    REFUND_FAILED,
    REFUND_NONE,
    REFUND_PENDING,
    REFUND_PROCESSING,
    REFUND_SUCCEEDED,
    SUCCEEDED,
    Payment,
    Refund,
)
from payments.policy import CancellationPolicy, RefundDecision, refund_due

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
# How far each state is along; a refund never moves back (webhooks come out of order).
_RANK = MappingProxyType(
    {
        REFUND_NONE: 0,
        REFUND_PENDING: 0,
        REFUND_PROCESSING: 1,
        REFUND_SUCCEEDED: 2,
        REFUND_FAILED: 3,
        REFUND_CANCELED: 3,
    }
)
_FROM_PROVIDER = MappingProxyType(
    {
        "pending": REFUND_PROCESSING,
        "requires_action": REFUND_PROCESSING,
        "succeeded": REFUND_SUCCEEDED,
        "failed": REFUND_FAILED,
        "canceled": REFUND_CANCELED,
    }
)


def backoff(attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, 1, 2, 4 ... minutes, at most an hour."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


# --- recording --------------------------------------------------------------------------


def on_booking_changed(session: Session, change: BookingChanged) -> None:
    """Subscriber: a cancelled paid booking gets its refund by the policy; a cancelled
    booking still waiting for its payment gets its payment intent cancelled."""
    if change.kind != "cancelled":
        return
    payment = session.scalar(select(Payment).where(Payment.booking_id == change.booking_id))
    if payment is None:
        return
    booking = session.get(Booking, change.booking_id)
    assert booking is not None
    if payment.status == SUCCEEDED:
        decision = refund_due(
            CancellationPolicy.of(booking.service),
            payment.amount,
            start=booking.start,
            cancelled_at=booking.cancelled_at or booking.updated_at,
            by=change.actor,
        )
        record_refund(
            session,
            payment,
            key=f"cancel:{booking.id}",
            reason=f"{change.actor}_cancelled",
            decision=decision,
        )
    elif payment.status == PENDING:
        # Nobody may pay for a booking that is gone. Should the payment win the race
        # anyway, apply_intent refunds it in full.
        dispatch.note(session, "cancel", payment.id)


def refund_late_payment(session: Session, payment: Payment, *, now: datetime) -> Refund:
    """A payment that succeeded after its booking was cancelled goes back in full."""
    return record_refund(
        session,
        payment,
        key=f"late:{payment.id}",
        reason="late_payment",
        decision=RefundDecision("full", 100, payment.amount),
    )


def record_refund(
    session: Session, payment: Payment, *, key: str, reason: str, decision: RefundDecision
) -> Refund:
    """Record a refund once per ``key`` (a second call returns the first row) and have
    it sent after the commit. Never refunds more than what is left of the payment."""
    left = max(payment.amount - payment.refunded, 0)
    amount = min(decision.amount, left)
    refund, created = _insert(
        session,
        Refund(
            payment_id=payment.id,
            booking_id=payment.booking_id,
            idempotency_key=key,
            reason=reason,
            tier=decision.tier,
            percent=decision.percent,
            amount=amount,
            currency=payment.currency,
            status=REFUND_PENDING if amount > 0 else REFUND_NONE,
            attempts=0,
            last_error="",
        ),
    )
    if created and refund.status == REFUND_PENDING:
        dispatch.note(session, "refund", refund.id)
    return refund


def _insert(session: Session, refund: Refund) -> tuple[Refund, bool]:
    """Insert ``refund`` unless its idempotency key exists; (the row, whether new)."""
    key = refund.idempotency_key
    existing = session.scalar(select(Refund).where(Refund.idempotency_key == key))
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            session.add(refund)
            session.flush()
    except IntegrityError:
        # Someone recorded the same refund at the same moment: theirs stands.
        found = session.scalar(select(Refund).where(Refund.idempotency_key == key))
        assert found is not None
        return found, False
    session.refresh(refund.payment, ["refunds"])
    return refund, True


# --- sending ----------------------------------------------------------------------------


def send_refund(
    database: Database, gateway: PaymentGateway, refund_id: int, *, now: datetime
) -> str:
    """Send one pending refund to the provider; returns "sent", "retry", "failed" or
    "skipped" (not pending, or another worker holds its lease). Never raises for a
    provider error: the refund waits for the next attempt."""
    with database.session() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        if refund is None or refund.status != REFUND_PENDING:
            return "skipped"
        if refund.next_attempt_at is not None and refund.next_attempt_at > now:
            return "skipped"
        refund.attempts += 1
        refund.next_attempt_at = now + LEASE
        attempt = refund.attempts
        intent_id, amount = refund.payment.intent_id, refund.amount
        metadata = {"consult_refund_id": str(refund.id), "booking_id": str(refund.booking_id)}
    try:
        state = gateway.create_refund(
            intent_id=intent_id,
            amount=amount,
            metadata=metadata,
            idempotency_key=f"consult-refund-{refund_id}",
        )
    except PaymentGatewayError as error:
        log.warning("refund %s, attempt %s: %s", refund_id, attempt, error.message)
        with database.session() as session:
            refund = session.get(Refund, refund_id, with_for_update=True)
            assert refund is not None
            refund.last_error = error.message
            if refund.status != REFUND_PENDING:
                return "skipped"
            if attempt >= MAX_ATTEMPTS:
                refund.status = REFUND_FAILED
                return "failed"
            refund.next_attempt_at = now + backoff(attempt)
        return "retry"
    with database.session() as session:
        refund = session.get(Refund, refund_id, with_for_update=True)
        assert refund is not None
        apply_refund_state(refund, state)
    return "sent"


def apply_refund_state(refund: Refund, state: RefundState) -> None:
    """Record the provider's view of ``refund``, only ever moving it forward."""
    refund.provider_refund_id = state.id
    status = _FROM_PROVIDER[state.status]
    if _RANK[status] >= _RANK.get(refund.status, 0) or status == REFUND_FAILED:
        refund.status = status
    if state.failure_reason:
        refund.last_error = state.failure_reason
    refund.next_attempt_at = None


def sync_refunds(session: Session, payment: Payment, states: tuple[RefundState, ...]) -> int:
    """Apply refund states from a webhook; returns how many rows changed or were added.
    A refund we did not make (the provider's dashboard) is recorded as reason
    "provider" so the booking shows it."""
    changed = 0
    for state in states:
        refund = session.scalar(select(Refund).where(Refund.provider_refund_id == state.id))
        if refund is None:
            ours = state.metadata.get("consult_refund_id", "")
            if ours.isdigit():
                refund = session.get(Refund, int(ours))
        if refund is None:
            # Made at the provider directly: record it as it is, there is nothing to send.
            percent = min((state.amount * 100 + payment.amount // 2) // payment.amount, 100)
            refund, _created = _insert(
                session,
                Refund(
                    payment_id=payment.id,
                    booking_id=payment.booking_id,
                    idempotency_key=f"provider:{state.id}",
                    reason="provider",
                    tier="full" if state.amount >= payment.amount else "partial",
                    percent=percent,
                    amount=state.amount,
                    currency=state.currency,
                    status=REFUND_PROCESSING,
                    provider_refund_id=state.id,
                    attempts=0,
                    last_error="",
                ),
            )
        before = (refund.status, refund.provider_refund_id)
        apply_refund_state(refund, state)
        if (refund.status, refund.provider_refund_id) != before:
            changed += 1
    return changed
