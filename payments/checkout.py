"""Checkout: how a booking starts. A free service is booked at once; a paid one gets
a payment intent and a held slot.

The intent is created *before* the hold, outside any lock, so a provider that is
down costs nothing: no hold is written, the client gets a clear error, and there is
nothing to clean up. Only then is the slot held with ``book(status="held")`` (the
same locks and checks as every booking, so two clients racing for a slot get one
hold and one SlotUnavailable); the loser's intent is cancelled at once. An intent
whose hold was never written is harmless: nobody got its client secret, so nobody
can pay it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from accounts.models import User
from booking import bookings
from booking.bookings import Links
from booking.catalog import get_public_service
from booking.errors import NotAllowed, ServiceNotFound
from booking.models import HELD, Booking
from payments import dispatch
from payments.errors import PaymentGatewayError, PaymentsUnavailable
from payments.gateway import PaymentGateway
from payments.models import PENDING, Payment

log = logging.getLogger(__name__)

CHECKOUT_UNREACHABLE = (
    "We could not reach our payment provider, so nothing was booked or charged. "
    "Please try again in a few minutes."
)


def start_checkout(
    session: Session,
    gateway: PaymentGateway | None,
    client: User,
    service_id: int,
    start: datetime,
    *,
    now: datetime,
    links: Links,
    hold: timedelta,
    note: str | None = None,
    client_timezone: str | None = None,
    source: str = "direct",
) -> Booking:
    """Book ``start`` of the service for ``client``: confirmed at once when it is free;
    held for ``hold`` with a payment (status "pending") when it costs something. The
    caller commits; the hold's expiry is handed to the job queue after the commit.

    Raises the booking core's errors (SlotUnavailable, OutsideBookingWindow, ...),
    PaymentsUnavailable when a paid service meets a platform without payments, and
    PaymentGatewayError when the provider cannot be reached (then nothing is held)."""
    service = get_public_service(session, service_id)
    if not service.is_bookable:
        raise ServiceNotFound()
    if service.price_amount <= 0:
        return bookings.book(
            session,
            client,
            service_id,
            start,
            now=now,
            links=links,
            note=note,
            client_timezone=client_timezone,
            source=source,
        )
    if gateway is None:
        raise PaymentsUnavailable()
    if service.professional_id == client.id:
        raise NotAllowed("You cannot book your own service.")
    try:
        intent = gateway.create_intent(
            amount=service.price_amount,
            currency=service.price_currency,
            description=service.title[:200],
            metadata={
                "service_id": str(service.id),
                "client_id": str(client.id),
                "start": start.isoformat(),
            },
            # One key per attempt: the library's own retries reuse it, so a network
            # blip never makes two intents for one click.
            idempotency_key=f"consult-checkout-{uuid.uuid4().hex}",
        )
    except PaymentGatewayError as error:
        raise PaymentGatewayError(CHECKOUT_UNREACHABLE, code=error.code) from error
    try:
        booking = bookings.book(
            session,
            client,
            service_id,
            start,
            now=now,
            links=links,
            note=note,
            client_timezone=client_timezone,
            status=HELD,
            source=source,
        )
    except BaseException:
        _cancel_quietly(gateway, intent.id)
        raise
    payment = Payment(
        booking_id=booking.id,
        provider=gateway.name,
        intent_id=intent.id,
        client_secret=intent.client_secret or "",
        amount=service.price_amount,
        currency=service.price_currency,
        status=PENDING,
        hold_expires_at=now + hold,
        last_error="",
    )
    session.add(payment)
    session.flush()
    dispatch.note(session, "expire", payment.id, payment.hold_expires_at)
    return booking


def _cancel_quietly(gateway: PaymentGateway, intent_id: str) -> None:
    """Cancel the intent of a checkout that got no slot; a failure only leaves an
    intent nobody can pay (its client secret was never handed out)."""
    try:
        gateway.cancel_intent(intent_id)
    except PaymentGatewayError as error:
        log.warning("could not cancel unused payment intent %s: %s", intent_id, error.message)
