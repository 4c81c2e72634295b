"""Handling verified webhook events, each exactly once.

The event's id is recorded first, in the same transaction as its effects: a replay
(the provider retries, or an attacker resends a captured request) finds the row and
changes nothing; two deliveries at once queue on the row's unique key. The effects
themselves are idempotent and only move forward (:func:`payments.confirmation.apply_intent`,
:func:`payments.refunds.sync_refunds`), so events out of order are safe as well: a
``charge.refunded`` before its ``payment_intent.succeeded`` applies the payment and
the refund; the later success then finds nothing to do.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.bookings import Links
from payments.confirmation import apply_intent, get_payment_by_intent
from payments.gateway import PaymentGateway, WebhookEvent
from payments.models import ProcessedWebhookEvent
from payments.refunds import sync_refunds

log = logging.getLogger(__name__)


def handle_event(
    session: Session,
    gateway: PaymentGateway,
    event: WebhookEvent,
    *,
    now: datetime,
    links: Links,
) -> str:
    """Apply ``event`` once; the caller commits. Returns the outcome: "duplicate",
    "ignored", "unknown_payment", or what the payment's change was."""
    row = ProcessedWebhookEvent(
        provider=gateway.name, event_id=event.id, type=event.type[:100], outcome="", received_at=now
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return "duplicate"
    row.outcome = _apply(session, gateway, event, now=now, links=links)
    log.info("webhook %s (%s): %s", event.id, event.type, row.outcome)
    return row.outcome


def _apply(
    session: Session, gateway: PaymentGateway, event: WebhookEvent, *, now: datetime, links: Links
) -> str:
    if event.kind == "ignored":
        return "ignored"
    payment = (
        get_payment_by_intent(session, gateway.name, event.intent_id) if event.intent_id else None
    )
    if payment is None:
        # Another application on the same account, or an intent whose booking failed.
        return "unknown_payment"
    outcome = "unchanged"
    if event.intent is not None:
        outcome = apply_intent(session, payment, event.intent, now=now, links=links)
    if event.kind == "refund_updated" and event.refunds:
        changed = sync_refunds(session, payment, event.refunds)
        outcome = f"{outcome}; refunds changed: {changed}"
    return outcome[:32]
