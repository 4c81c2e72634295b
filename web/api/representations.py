"""What the API answers about bookings and their payments: one place for the JSON
of a booking (as its client or professional sees it), its payment and refunds.

Amounts are minor units with their currency everywhere; ``formatted`` is the same
amount written for the viewer's locale.
"""

from __future__ import annotations

from typing import Any

from accounts.models import User
from booking.models import Booking
from payments.confirmation import get_payment
from payments.models import PENDING, Payment, Refund
from payments.money import format_money
from payments.policy import CancellationPolicy, describe
from web.links import links, manage_url
from web.payments import get_payments
from web.session import get_session


def booking_json(booking: Booking, viewer: User | None) -> dict[str, Any]:
    """A booking as its client or professional sees it. Group seats never reveal
    other participants; only the client gets the manage link."""
    session = get_session()
    professional = session.get(User, booking.professional_id)
    client = session.get(User, booking.client_id)
    service = booking.service
    is_professional = viewer is not None and viewer.id == booking.professional_id
    body: dict[str, Any] = {
        "id": booking.id,
        "status": booking.status,
        "service": {"id": service.id, "title": service.title, "kind": service.kind},
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "professional": {
            "id": booking.professional_id,
            "name": professional.name if professional else "",
            "timezone": professional.timezone if professional else "UTC",
        },
        "client": {"id": booking.client_id, "name": client.name if client else ""},
        "client_note": booking.client_note,
        "sequence": booking.sequence,
        "event_uid": booking.event_uid,
        "price": {"amount": service.price_amount, "currency": service.price_currency},
        "created_at": booking.created_at.isoformat(),
        "cancelled_at": booking.cancelled_at.isoformat() if booking.cancelled_at else None,
        "cancelled_by": booking.cancelled_by,
        "cancel_reason": booking.cancel_reason or None,
        "booking_url": links().booking_page(booking.id),
    }
    if is_professional and client is not None:
        body["client"]["email"] = client.email
    if viewer is None or viewer.id == booking.client_id:
        body["manage_url"] = manage_url(booking)
    body.update(payment_json(booking, viewer))  # payment (null when free) and refunds
    return body


def _money(amount: int, currency: str, locale: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": currency,
        "formatted": format_money(amount, currency, locale),
    }


def refund_json(refund: Refund, locale: str) -> dict[str, Any]:
    return {
        "id": refund.id,
        **_money(refund.amount, refund.currency, locale),
        "status": refund.status,
        "tier": refund.tier,
        "percent": refund.percent,
        "reason": refund.reason,
        "provider_refund_id": refund.provider_refund_id,
        "error": refund.last_error or None,
        "created_at": refund.created_at.isoformat(),
        "updated_at": refund.updated_at.isoformat(),
    }


def payment_body(
    payment: Payment, booking: Booking, viewer: User | None, locale: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": payment.id,
        "status": payment.status,
        **_money(payment.amount, payment.currency, locale),
        "refunded": payment.refunded,
        "hold_expires_at": payment.hold_expires_at.isoformat()
        if payment.status == PENDING
        else None,
        "paid_at": payment.paid_at.isoformat() if payment.paid_at else None,
        "error": payment.last_error or None,
        "cancellation_policy": describe(CancellationPolicy.of(booking.service)),
    }
    is_client = viewer is None or viewer.id == booking.client_id
    if viewer is not None and viewer.id == booking.professional_id:
        # For looking the payment up at the provider; never the client secret.
        body["provider"] = payment.provider
        body["intent_id"] = payment.intent_id
    if is_client and viewer is not None and payment.status == PENDING:
        gateway = get_payments().gateway
        body["client_secret"] = payment.client_secret
        body["publishable_key"] = gateway.publishable_key if gateway is not None else None
    return body


def viewer_locale(viewer: User | None, booking: Booking) -> str:
    if viewer is not None:
        return viewer.locale or "en"
    client = get_session().get(User, booking.client_id)
    return client.locale if client is not None else "en"


def payment_json(booking: Booking, viewer: User | None) -> dict[str, Any]:
    """``{"payment": ..., "refunds": [...]}`` for ``booking_json``: payment null for a
    free booking. The client secret goes only to the signed-in client, only while the
    payment is open; a signed manage link (viewer None) never gets it."""
    payment = get_payment(get_session(), booking.id)
    if payment is None:
        return {"payment": None, "refunds": []}
    locale = viewer_locale(viewer, booking)
    return {
        "payment": payment_body(payment, booking, viewer, locale),
        "refunds": [refund_json(refund, locale) for refund in payment.refunds],
    }
