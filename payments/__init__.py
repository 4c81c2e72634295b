"""Payments: paid bookings with a payment provider (Stripe), refunds by each
service's cancellation policy, and webhooks that may arrive twice or out of order.

A paid service is booked in two steps: :func:`payments.checkout.start_checkout`
holds the slot (``booking.bookings.book(status="held")``) and creates a payment
intent; the booking is confirmed only when the provider says the intent is paid
(:mod:`payments.confirmation`, from the webhook or from a server-side check). A
hold that lapses unpaid frees the slot (:mod:`payments.holds`). Cancelling a paid
booking refunds what :mod:`payments.policy` says (:mod:`payments.refunds`).

The provider sits behind :class:`payments.gateway.PaymentGateway`; only
:mod:`payments.stripe_gateway` imports ``stripe``.
"""

from __future__ import annotations

from payments.errors import (
    HoldExpired,
    InvalidWebhook,
    PaymentDeclined,
    PaymentError,
    PaymentGatewayError,
    PaymentNotFound,
    PaymentsUnavailable,
)
from payments.gateway import PaymentGateway, create_gateway

__all__ = [
    "HoldExpired",
    "InvalidWebhook",
    "PaymentDeclined",
    "PaymentError",
    "PaymentGateway",
    "PaymentGatewayError",
    "PaymentNotFound",
    "PaymentsUnavailable",
    "create_gateway",
]
