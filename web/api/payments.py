"""Payments over the API: what a booking's JSON says about its payment and refunds,
the payments and refunds of one booking, and a server-side check of a payment.

A mobile or API client books a paid service with ``POST /api/v1/bookings`` as usual;
the booking comes back ``"status": "held"`` with ``payment.client_secret`` and
``payment.publishable_key`` for the provider's SDK (Stripe's PaymentSheet or
Stripe.js) and ``payment.hold_expires_at``. Once the provider confirms the payment
(webhook), the booking turns ``confirmed``; ``POST .../payment/check`` asks the
provider directly when the app does not want to wait.

Amounts are minor units with their currency everywhere; ``formatted`` is the same
amount written for the viewer's locale.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from accounts.models import User
from booking import bookings
from booking.models import Booking
from consult.db import utcnow
from payments.confirmation import check_payment, get_payment, require_payment
from payments.errors import PaymentsUnavailable
from payments.models import PENDING, Payment, Refund
from payments.money import format_money
from payments.policy import CancellationPolicy, describe
from web.api import bp
from web.api.helpers import require_user
from web.links import links
from web.session import get_session


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


def _payment_body(
    payment: Payment, booking: Booking, viewer: User | None, locale: str
) -> dict[str, Any]:
    from web.payments import get_payments

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


def _locale(viewer: User | None, booking: Booking) -> str:
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
    locale = _locale(viewer, booking)
    return {
        "payment": _payment_body(payment, booking, viewer, locale),
        "refunds": [refund_json(refund, locale) for refund in payment.refunds],
    }


@bp.get("/bookings/<int:booking_id>/payments")
@require_user
def booking_payments(booking_id: int) -> Any:
    """The payment and refunds of one booking, for its professional or client."""
    booking = bookings.get_booking_for(get_session(), g.user, booking_id)
    payment = get_payment(get_session(), booking.id)
    locale = _locale(g.user, booking)
    return jsonify(
        {
            "booking_id": booking.id,
            "payments": [_payment_body(payment, booking, g.user, locale)] if payment else [],
            "refunds": [refund_json(r, locale) for r in payment.refunds] if payment else [],
        }
    )


@bp.post("/bookings/<int:booking_id>/payment/check")
@require_user
def check_booking_payment(booking_id: int) -> Any:
    """Ask the provider about the booking's payment now (instead of waiting for the
    webhook); returns the booking. 503 when the provider cannot be reached."""
    from web.api.bookings import booking_json
    from web.payments import get_payments

    session = get_session()
    booking = bookings.get_booking_for(session, g.user, booking_id)
    payment = require_payment(session, booking.id)
    gateway = get_payments().gateway
    if gateway is None:
        raise PaymentsUnavailable()
    check_payment(session, gateway, payment, now=utcnow(), links=links())
    session.commit()
    return jsonify(booking_json(booking, g.user))
