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

from booking import bookings
from consult.db import utcnow
from payments.confirmation import check_payment, get_payment, require_payment
from payments.errors import PaymentsUnavailable
from web.api.blueprint import bp
from web.api.helpers import require_user
from web.api.representations import booking_json, payment_body, refund_json, viewer_locale
from web.links import links
from web.payments import get_payments
from web.session import get_session


@bp.get("/bookings/<int:booking_id>/payments")
@require_user
def booking_payments(booking_id: int) -> Any:
    """The payment and refunds of one booking, for its professional or client."""
    booking = bookings.get_booking_for(get_session(), g.user, booking_id)
    payment = get_payment(get_session(), booking.id)
    locale = viewer_locale(g.user, booking)
    return jsonify(
        {
            "booking_id": booking.id,
            "payments": [payment_body(payment, booking, g.user, locale)] if payment else [],
            "refunds": [refund_json(r, locale) for r in payment.refunds] if payment else [],
        }
    )


@bp.post("/bookings/<int:booking_id>/payment/check")
@require_user
def check_booking_payment(booking_id: int) -> Any:
    """Ask the provider about the booking's payment now (instead of waiting for the
    webhook); returns the booking. 503 when the provider cannot be reached."""
    session = get_session()
    booking = bookings.get_booking_for(session, g.user, booking_id)
    payment = require_payment(session, booking.id)
    gateway = get_payments().gateway
    if gateway is None:
        raise PaymentsUnavailable()
    check_payment(session, gateway, payment, now=utcnow(), links=links())
    session.commit()
    return jsonify(booking_json(booking, g.user))
