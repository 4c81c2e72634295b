"""Payments: paid bookings with a payment provider (Stripe), refunds by each
service's cancellation policy, and webhooks that may arrive twice or out of order.

A paid service is booked in two steps: :func:`payments.checkout.start_checkout`
holds the slot (``booking.bookings.book(status="held")``) and creates a payment
intent; the booking is confirmed only when the provider says the intent is paid
(:mod:`payments.confirmation`, from the webhook or from a server-side check). A
hold that lapses unpaid frees the slot (:mod:`payments.holds`). Cancelling a paid
booking refunds what :mod:`payments.policy` says (:mod:`payments.refunds`).

The provider sits behind :class:`payments.gateway.PaymentGateway`; only
:mod:`payments.stripe_gateway` imports ``stripe``. :func:`include` wires the
package into a platform.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from booking.bookings import Links
from consult.db import utcnow
from consult.handoff import CommitHandOff
from consult.hookspecs import BookingChanged, ErrorStatuses, hookimpl
from consult.periodic import Periodic
from consult.platform import Platform
from payments import holds, refunds
from payments.dispatch import WORK_KEY, Work
from payments.errors import (
    HTTP_STATUS,
    HoldExpired,
    InvalidWebhook,
    PaymentDeclined,
    PaymentError,
    PaymentGatewayError,
    PaymentNotFound,
    PaymentsUnavailable,
)
from payments.gateway import GATEWAY, PaymentGateway, create_gateway
from payments.tasks import QueueRunner

__all__ = [
    "GATEWAY",
    "HoldExpired",
    "InvalidWebhook",
    "PaymentDeclined",
    "PaymentError",
    "PaymentGateway",
    "PaymentGatewayError",
    "PaymentNotFound",
    "PaymentsUnavailable",
    "create_gateway",
    "include",
]

log = logging.getLogger(__name__)


class PaymentHooks:
    @hookimpl
    def booking_changed(self, session: Session, change: BookingChanged) -> None:
        refunds.on_booking_changed(session, change)

    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Wire payments into ``platform``: the gateway for its settings (ConfigError for
    bad keys), refunds on cancellation, payment jobs after each commit, and in an app
    process the sweep of what lost jobs left."""
    settings = platform.settings
    gateway = create_gateway(settings)
    platform.services.provide(GATEWAY, gateway)
    platform.register(PaymentHooks(), "payments")
    runner = QueueRunner(platform.jobs)
    CommitHandOff[Work](WORK_KEY, runner.run).listen(platform.database)
    if platform.role == "web" and settings.payments.sweep_seconds > 0:
        site = Links(base_url=settings.app.base_url)

        def sweep() -> None:
            holds.sweep(platform.database, gateway, now=utcnow(), links=site)

        platform.add_background(
            Periodic("payments-sweep", sweep, settings.payments.sweep_seconds, wait_first=True)
        )
    if gateway is None:
        log.info("payments: off (no CONSULT_STRIPE_SECRET_KEY); paid services cannot be published")
    else:
        log.info(
            "payments: %s at %s, holds of %s min, webhook secret %s",
            gateway.name,
            settings.payments.stripe_api_base,
            settings.payments.hold_minutes,
            "set" if settings.payments.webhook_secret else "missing (webhooks refused)",
        )
