"""Payments in the web app: the payment page of a held booking (Stripe.js's Payment
Element), the return page Stripe sends the browser back to, the card-token endpoint
for Stripe.js builds without ``confirmPayment``, and ``POST /webhooks/stripe``.

Also the seam the booking pages and the API book through (:func:`book_or_hold`):
free services are booked at once, paid ones are held while the client pays.
:func:`init_app` builds the gateway from the settings (None when no Stripe key is
set: then paid services cannot be published), hands payment work to the job queue
after commits, and starts the sweep thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import CSRFProtect

from accounts.models import User
from booking import bookings
from booking.errors import BookingError
from booking.models import CONFIRMED, HELD, Booking
from consult.db import utcnow
from consult.platform import Platform
from payments import checkout
from payments.confirmation import check_payment, get_payment, pay_with_card_token
from payments.errors import (
    HoldExpired,
    InvalidWebhook,
    PaymentDeclined,
    PaymentGatewayError,
    PaymentsUnavailable,
)
from payments.gateway import GATEWAY, PaymentGateway
from payments.models import CANCELED, PENDING, SUCCEEDED, Payment
from payments.money import format_money
from payments.policy import CancellationPolicy, describe, refund_due
from payments.webhooks import handle_event
from web.links import links
from web.pages.helpers import load_zone
from web.session import get_platform, get_session, get_settings

log = logging.getLogger(__name__)

bp = Blueprint("payments", __name__)

MAX_WEBHOOK_BYTES = 1024 * 1024
MAX_TOKEN_LENGTH = 255


@dataclass(frozen=True)
class PaymentsContext:
    """The app's payment set-up: the gateway (None: payments off) and page options."""

    gateway: PaymentGateway | None
    hold: timedelta
    stripe_js_url: str

    @property
    def can_charge(self) -> bool:
        return self.gateway is not None


def get_payments() -> PaymentsContext:
    context: PaymentsContext = current_app.extensions["payments"]
    return context


def can_charge() -> bool:
    """Whether this app can take payments (a Stripe key is configured)."""
    return get_payments().can_charge


def book_or_hold(
    client: User,
    service_id: int,
    start: Any,
    *,
    note: str | None,
    client_timezone: str | None,
    source: str = "direct",
) -> Booking:
    """Book ``start`` for ``client`` in the request's session: confirmed at once for a
    free service, held with a payment for a paid one (see
    :func:`payments.checkout.start_checkout`, also for the errors). The caller commits."""
    context = get_payments()
    return checkout.start_checkout(
        get_session(),
        context.gateway,
        client,
        service_id,
        start,
        now=utcnow(),
        links=links(),
        hold=context.hold,
        note=note,
        client_timezone=client_timezone,
        source=source,
    )


def after_booking_url(booking: Booking) -> str:
    """Where the browser goes after booking: the payment page of a held booking, else
    the confirmation."""
    if booking.status == HELD:
        return url_for("payments.pay", booking_id=booking.id)
    return url_for("booking_pages.confirmed", booking_id=booking.id)


# --- what pages show ----------------------------------------------------------------------

_PAYMENT_LABELS = MappingProxyType(
    {PENDING: "Waiting for payment", SUCCEEDED: "Paid", CANCELED: "Not paid"}
)
_REFUND_LABELS = MappingProxyType(
    {
        "none": "No refund (cancellation policy)",
        "pending": "Refund requested",
        "processing": "Refund on its way",
        "succeeded": "Refunded",
        "failed": "Refund failed",
        "canceled": "Refund cancelled",
    }
)
_REASON_LABELS = MappingProxyType(
    {
        "client_cancelled": "Cancelled by the client",
        "professional_cancelled": "Cancelled by the professional",
        "system_cancelled": "Cancelled by the platform",
        "late_payment": "Paid after the booking was cancelled",
        "provider": "Refunded at the payment provider",
    }
)


def viewer_locale(booking: Booking) -> str:
    """The locale amounts are written in: the signed-in viewer's, else (a signed link
    from an email, which is the client's) the client's."""
    if current_user.is_authenticated:
        return str(current_user.locale or "en")
    client = get_session().get(User, booking.client_id)
    return client.locale if client is not None else "en"


def payment_summary(booking: Booking) -> dict[str, Any] | None:
    """For the booking page: the payment, its refunds and the policy, amounts formatted
    for the viewer; None for a free booking."""
    payment = get_payment(get_session(), booking.id)
    if payment is None:
        return None
    locale = viewer_locale(booking)
    policy = CancellationPolicy.of(booking.service)
    refunds = [
        {
            "amount": format_money(refund.amount, refund.currency, locale),
            "status": refund.status,
            "label": _REFUND_LABELS.get(refund.status, refund.status),
            "reason": _REASON_LABELS.get(refund.reason, refund.reason),
            "percent": refund.percent,
            "error": refund.last_error if refund.status == "failed" else "",
        }
        for refund in payment.refunds
    ]
    would_refund = None
    is_client = current_user.is_authenticated and current_user.id == booking.client_id
    if payment.status == SUCCEEDED and booking.is_active and booking.start > utcnow():
        decision = refund_due(
            policy, payment.amount, start=booking.start, cancelled_at=utcnow(), by="client"
        )
        would_refund = format_money(decision.amount, payment.currency, locale)
    return {
        "payment": payment,
        "status_label": _PAYMENT_LABELS.get(payment.status, payment.status),
        "amount": format_money(payment.amount, payment.currency, locale),
        "refunds": refunds,
        "policy": describe(policy),
        "would_refund": would_refund,
        "pay_url": (
            url_for("payments.pay", booking_id=booking.id)
            if is_client and payment.status == PENDING and booking.status == HELD
            else None
        ),
    }


# --- the payment page -------------------------------------------------------------------


def _client_booking(booking_id: int) -> tuple[Booking, Payment]:
    """The signed-in client's booking and its payment, or 404 (anyone else's too)."""
    session = get_session()
    try:
        booking = bookings.get_booking_for(session, current_user.account, booking_id)
    except BookingError:
        abort(404)
    if booking.client_id != current_user.id:
        abort(404)
    payment = get_payment(session, booking.id)
    if payment is None:
        abort(404)
    return booking, payment


@bp.get("/bookings/<int:booking_id>/pay")
@login_required
def pay(booking_id: int) -> Any:
    """Pay for a held booking with the Payment Element, before the hold runs out."""
    booking, payment = _client_booking(booking_id)
    if payment.status == SUCCEEDED or booking.status == CONFIRMED:
        return redirect(url_for("booking_pages.confirmed", booking_id=booking.id))
    context = get_payments()
    now = utcnow()
    open_ = (
        payment.status == PENDING
        and booking.status == HELD
        and payment.hold_expires_at > now
        and context.gateway is not None
    )
    session = get_session()
    professional = session.get(User, booking.professional_id)
    zone = load_zone(booking.client_timezone) or ZoneInfo("UTC")
    locale = viewer_locale(booking)
    response = render_template(
        "payments/pay.html",
        booking=booking,
        payment=payment,
        professional=professional,
        zone=zone,
        is_open=open_,
        amount=format_money(payment.amount, payment.currency, locale),
        policy=describe(CancellationPolicy.of(booking.service)),
        seconds_left=max(int((payment.hold_expires_at - now).total_seconds()), 0),
        stripe_js_url=context.stripe_js_url,
        publishable_key=context.gateway.publishable_key if context.gateway else "",
        return_url=url_for("payments.returned", booking_id=booking.id, _external=True),
        card_url=url_for("payments.pay_with_card", booking_id=booking.id),
        back_url=url_for(
            "public.professional", principal=professional.principal, service=booking.service_id
        )
        if professional is not None and professional.principal
        else url_for("home.index"),
    )
    return response, 200 if open_ else 409


def _json_error(status: int, code: str, message: str) -> Any:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


@bp.post("/bookings/<int:booking_id>/pay/card")
@login_required
def pay_with_card(booking_id: int) -> Any:
    """``{"token": "tok_..."}`` from Stripe.js's ``createToken``: pay the held booking
    with that card (for Stripe.js builds without ``confirmPayment``). Answers JSON:
    ``{"status", "redirect"}`` or ``{"error": {"code", "message"}}``."""
    booking, payment = _client_booking(booking_id)
    data = request.get_json(silent=True)
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip() or len(token) > MAX_TOKEN_LENGTH:
        return _json_error(400, "bad_request", 'Send the card token as {"token": "tok_..."}.')
    context = get_payments()
    if context.gateway is None:
        return _json_error(503, "payments_unavailable", PaymentsUnavailable().message)
    session = get_session()
    try:
        outcome, intent = pay_with_card_token(
            session, context.gateway, payment, token.strip(), now=utcnow(), links=links()
        )
        session.commit()
    except PaymentDeclined as error:
        session.rollback()
        return _json_error(402, "payment_declined", error.message)
    except HoldExpired as error:
        session.rollback()
        return _json_error(409, "hold_expired", error.message)
    except PaymentGatewayError as error:
        session.rollback()
        return _json_error(503, "payment_provider_unavailable", error.message)
    if outcome in ("confirmed", "already"):
        return jsonify(
            {
                "status": "succeeded",
                "redirect": url_for("booking_pages.confirmed", booking_id=booking.id),
            }
        )
    status = intent.status if intent is not None else "unknown"
    if status == "requires_action":
        return jsonify({"status": status, "client_secret": payment.client_secret})
    if outcome == "failed":
        return _json_error(402, "payment_declined", payment.last_error)
    # Processing: the webhook (or the return page's check) finishes the job.
    return jsonify(
        {"status": status, "redirect": url_for("payments.returned", booking_id=booking.id)}
    )


@bp.get("/bookings/<int:booking_id>/pay/return")
@login_required
def returned(booking_id: int) -> Any:
    """Where Stripe sends the browser after paying: check the intent server-side (the
    webhook may come later), then go on to the confirmation, or back to pay."""
    booking, payment = _client_booking(booking_id)
    session = get_session()
    context = get_payments()
    if payment.status == PENDING and context.gateway is not None:
        try:
            check_payment(session, context.gateway, payment, now=utcnow(), links=links())
            session.commit()
        except PaymentGatewayError as error:
            session.rollback()
            log.warning("return page of booking %s: %s", booking.id, error.message)
            return render_template("payments/checking.html", booking=booking), 202
    session.refresh(payment)
    session.refresh(booking)
    if payment.status == SUCCEEDED:
        if booking.status == CONFIRMED:
            return redirect(url_for("booking_pages.confirmed", booking_id=booking.id))
        flash("The payment arrived after the hold ran out, so it is refunded in full.", "error")
        return redirect(url_for("booking_pages.booking_detail", booking_id=booking.id))
    if payment.status == PENDING and payment.last_error:
        flash(payment.last_error, "error")
        return redirect(url_for("payments.pay", booking_id=booking.id))
    if payment.status == PENDING and request.args.get("redirect_status") == "succeeded":
        # Paid, but the provider has not settled it yet: wait here.
        return render_template("payments/checking.html", booking=booking), 202
    return redirect(url_for("payments.pay", booking_id=booking.id))


# --- webhooks ------------------------------------------------------------------------------


@bp.post("/webhooks/stripe")
def stripe_webhook() -> Any:
    """Stripe's events, verified with the endpoint secret and handled once each."""
    context = get_payments()
    if context.gateway is None or not get_settings().payments.webhook_secret:
        return _json_error(503, "not_configured", "Payments are not configured here.")
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
        return _json_error(413, "too_large", "The event is too large.")
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        return _json_error(400, "invalid_webhook", "The Stripe-Signature header is missing.")
    payload = request.get_data(cache=False)
    events = get_platform().metrics.get("consult_payment_webhooks_total")
    try:
        event = context.gateway.parse_webhook(payload, signature)
    except InvalidWebhook:
        events.labels("unknown", "invalid").inc()
        raise  # 400 with the reason
    session = get_session()
    outcome = handle_event(session, context.gateway, event, now=utcnow(), links=links())
    session.commit()
    # Our kinds, not the provider's type names: a closed list, so labels stay few.
    events.labels(event.kind, outcome).inc()
    return jsonify({"received": True, "outcome": outcome})


# --- wiring -----------------------------------------------------------------------------


def init_app(app: Flask, platform: Platform, csrf: CSRFProtect) -> None:
    """Register the pay pages and the webhook (the API routes are in
    :mod:`web.api.payments`) with the platform's gateway."""
    settings = platform.settings
    app.extensions["payments"] = PaymentsContext(
        gateway=platform.find(GATEWAY),
        hold=timedelta(minutes=settings.payments.hold_minutes),
        stripe_js_url=settings.payments.stripe_js_url,
    )
    platform.metrics.counter(
        "consult_payment_webhooks_total",
        "Payment provider webhooks, by event type and outcome.",
        ("type", "outcome"),
    )
    csrf.exempt(stripe_webhook)  # Stripe signs it; a browser never posts it
    app.register_blueprint(bp)
    app.add_template_global(payment_summary, "payment_summary")
