"""The Stripe adapter of :class:`payments.gateway.PaymentGateway`, and the only
module that imports ``stripe``.

It uses a :class:`stripe.StripeClient` of its own (no global ``stripe.api_key``), so
several configurations can live in one process, with a request timeout and a small
number of network retries (Stripe's library retries with the same idempotency key).
Every SDK error is wrapped in :class:`payments.errors.PaymentGatewayError` (a declined
card in :class:`payments.errors.PaymentDeclined`) with the SDK's error as its cause.

Webhooks are verified with ``stripe.WebhookSignature.verify_header`` and the endpoint
secret; their signature's timestamp must be within :data:`WEBHOOK_TOLERANCE_SECONDS`
of our clock on both sides (the SDK checks only that it is not too old, so a
signature made for a time in the future would have been replayable until then).
The verified body must be UTF-8 JSON holding an event object; it is read as plain
data and translated from Stripe's event types into the port's neutral kinds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import stripe

from payments.errors import InvalidWebhook, PaymentDeclined, PaymentGatewayError
from payments.gateway import (
    EventKind,
    GatewayConfig,
    IntentState,
    IntentStatus,
    RefundState,
    RefundStatus,
    WebhookEvent,
)

log = logging.getLogger(__name__)

# How far a webhook signature's timestamp may be from our clock, either way: Stripe's
# own default (Webhook.DEFAULT_TOLERANCE). Stripe signs each delivery attempt as it
# sends it, so its retries are not refused.
WEBHOOK_TOLERANCE_SECONDS = 300

_INTENT_EVENTS: Mapping[str, EventKind] = MappingProxyType(
    {
        "payment_intent.succeeded": "payment_succeeded",
        "payment_intent.payment_failed": "payment_failed",
        "payment_intent.canceled": "payment_canceled",
        "payment_intent.processing": "payment_processing",
    }
)
_REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
_INTENT_STATUSES = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
)
_REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
UNREACHABLE = "We could not reach our payment provider. Please try again in a few minutes."


class StripeGateway:
    """Stripe behind the payment-gateway port."""

    name = "stripe"

    def __init__(self, config: GatewayConfig) -> None:
        self._config = config
        self._client = stripe.StripeClient(
            config.secret_key,
            base_addresses={"api": config.api_base},
            max_network_retries=config.network_retries,
            http_client=stripe.RequestsClient(timeout=config.timeout_seconds),
        )

    @property
    def publishable_key(self) -> str:
        return self._config.publishable_key

    # --- payment intents ------------------------------------------------------------

    def create_intent(
        self,
        *,
        amount: int,
        currency: str,
        description: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> IntentState:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            # In metadata rather than ``description``: the dashboard shows both, and
            # localstripe, the tests' stand-in for Stripe, refuses ``description``.
            "metadata": {**metadata, "description": description[:500]},
            # Cards everywhere; the Payment Element shows what the account enables.
            "payment_method_types": ["card"],
        }
        intent = self._call(
            lambda: self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return _intent_state(intent)

    def retrieve_intent(self, intent_id: str) -> IntentState:
        intent = self._call(
            lambda: self._client.v1.payment_intents.retrieve(
                intent_id, params={"expand": ["latest_charge"]}
            )
        )
        return _intent_state(intent)

    def cancel_intent(self, intent_id: str) -> IntentState:
        try:
            intent = self._client.v1.payment_intents.cancel(intent_id).to_dict()
        except stripe.InvalidRequestError:
            # Stripe refuses to cancel a paid or already cancelled intent: then the
            # current state is the answer (a payment that won the race, typically).
            state = self.retrieve_intent(intent_id)
            if state.status in ("succeeded", "canceled", "processing"):
                return state
            raise PaymentGatewayError(
                f"Stripe would not cancel payment {intent_id} ({state.status})."
            ) from None
        except stripe.StripeError as error:
            raise _wrap(error) from error
        return _intent_state(intent)

    def confirm_with_card_token(self, intent_id: str, token: str) -> IntentState:
        # The card of a token made by Stripe.js (createToken) pays the intent.
        found = self._call(lambda: self._client.v1.tokens.retrieve(token))
        card = found.get("card")
        card_id = card.get("id") if isinstance(card, dict) else card
        if not card_id:
            raise PaymentDeclined("This card could not be read. Please enter it again.")
        self._call(
            lambda: self._client.v1.payment_intents.update(
                intent_id,
                params={"payment_method": card_id},  # type: ignore[typeddict-item]
            )
        )
        intent = self._call(lambda: self._client.v1.payment_intents.confirm(intent_id))
        return _intent_state(intent)

    # --- refunds ---------------------------------------------------------------------

    def create_refund(
        self,
        *,
        intent_id: str,
        amount: int,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> RefundState:
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                params={
                    "payment_intent": intent_id,
                    "amount": amount,
                    "metadata": dict(metadata),
                },
                options={"idempotency_key": idempotency_key},
            )
        )
        return _refund_state(refund, intent_id)

    # --- webhooks --------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature: str) -> WebhookEvent:
        """The event in ``payload``, once its ``Stripe-Signature`` header is verified
        (module docstring). Raises :class:`InvalidWebhook` saying what is wrong."""
        if not self._config.webhook_secret:
            raise InvalidWebhook("No webhook secret is configured (CONSULT_STRIPE_WEBHOOK_SECRET).")
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidWebhook("The webhook body is not UTF-8 text.") from error
        try:
            # No tolerance here: the SDK would check the past side only (see below).
            stripe.WebhookSignature.verify_header(
                text, signature, self._config.webhook_secret, tolerance=None
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidWebhook("The webhook signature does not match.") from error
        _check_signed_at(_signed_at(signature), now=time.time())
        event_id, event_type, obj = _event_fields(text)
        try:
            return _translate(event_id, event_type, obj)
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidWebhook(
                f"The {event_type} event does not hold what such an event holds."
            ) from error

    # --- plumbing --------------------------------------------------------------------

    def _call(self, request: Callable[[], Any]) -> dict[str, Any]:
        """Run one SDK request; its answer as plain data (dicts all the way down)."""
        try:
            answer = request()
        except stripe.StripeError as error:
            raise _wrap(error) from error
        return dict(answer.to_dict())


def _wrap(error: stripe.StripeError) -> PaymentGatewayError:
    """The domain error for an SDK error; the SDK's message goes to the log only."""
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(
            error.user_message or "Your card was declined. Please try another card.",
            code=error.code,
        )
    if isinstance(error, stripe.APIConnectionError):
        log.warning("stripe unreachable: %s", error)
        return PaymentGatewayError(UNREACHABLE, code="unreachable")
    log.error("stripe refused a request: %s (http %s)", error, error.http_status)
    return PaymentGatewayError(
        "Our payment provider refused the request. Please try again later.",
        code=getattr(error, "code", None) or type(error).__name__,
    )


def _signed_at(header: str) -> int:
    """The timestamp a verified ``Stripe-Signature`` header was signed with: its first
    ``t=`` item, the one the SDK verified the signature against."""
    for item in header.split(","):
        parts = item.split("=", 2)
        if parts[0] == "t" and len(parts) > 1:
            try:
                return int(parts[1])
            except ValueError:
                break
    raise InvalidWebhook("The webhook signature has no timestamp.")


def _check_signed_at(signed_at: int, *, now: float) -> None:
    """Raise :class:`InvalidWebhook` unless ``signed_at`` is within the tolerance of
    ``now`` (Unix seconds), in the past or in the future."""
    offset = signed_at - now
    if abs(offset) > WEBHOOK_TOLERANCE_SECONDS:
        when = "in the future" if offset > 0 else "old"
        raise InvalidWebhook(
            f"The webhook signature is {abs(offset):.0f} seconds {when}; at most "
            f"{WEBHOOK_TOLERANCE_SECONDS} seconds either way are accepted."
        )


def _event_fields(text: str) -> tuple[str, str, dict[str, Any]]:
    """(id, type, data.object) of the event in the verified body ``text``; raises
    :class:`InvalidWebhook` when it is not JSON or not an event object."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
        raise InvalidWebhook("The webhook body is not JSON.") from error
    if not isinstance(data, dict):
        raise InvalidWebhook(f"The webhook body is a JSON {_json_kind(data)}, not an event object.")
    body = data.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    event_id, event_type = data.get("id"), data.get("type")
    if (
        not isinstance(event_id, str)
        or not isinstance(event_type, str)
        or not isinstance(obj, dict)
    ):
        raise InvalidWebhook("The webhook body is not a Stripe event (id, type, data.object).")
    return event_id, event_type, obj


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _get(obj: Any, key: str, default: Any = None) -> Any:
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        return default
    return default if value is None else value


def _intent_status(value: Any) -> IntentStatus:
    status = str(value)
    if status not in _INTENT_STATUSES:
        raise PaymentGatewayError(f"Unknown payment intent status {status!r}.")
    return status  # type: ignore[return-value]


def _intent_state(intent: Any) -> IntentState:
    charge = _get(intent, "latest_charge")
    refunded = _get(charge, "amount_refunded", 0) if isinstance(charge, dict) else 0
    error = _get(intent, "last_payment_error")
    return IntentState(
        id=str(intent["id"]),
        status=_intent_status(intent["status"]),
        amount=int(intent["amount"]),
        currency=str(intent["currency"]).upper(),
        client_secret=_get(intent, "client_secret"),
        amount_refunded=int(refunded),
        last_error=str(_get(error, "message")) if error else None,
    )


def _refund_state(refund: Any, intent_id: str | None = None) -> RefundState:
    status = str(_get(refund, "status", "pending"))
    if status not in _REFUND_STATUSES:
        status = "pending"
    refund_status: RefundStatus = status  # type: ignore[assignment]
    return RefundState(
        id=str(refund["id"]),
        intent_id=_get(refund, "payment_intent") or intent_id,
        amount=int(refund["amount"]),
        currency=str(refund["currency"]).upper(),
        status=refund_status,
        failure_reason=_get(refund, "failure_reason"),
        metadata={str(k): str(v) for k, v in (_get(refund, "metadata", {}) or {}).items()},
    )


def _translate(event_id: str, event_type: str, obj: dict[str, Any]) -> WebhookEvent:
    """Stripe's event → the port's; unknown types become "ignored"."""
    if event_type in _INTENT_EVENTS:
        intent = _intent_state(obj)
        return WebhookEvent(
            event_id, event_type, _INTENT_EVENTS[event_type], intent=intent, intent_id=intent.id
        )
    if event_type == "charge.refunded":
        intent_id = _get(obj, "payment_intent")
        refunds = _get(_get(obj, "refunds", {}), "data", [])
        paid = bool(_get(obj, "paid")) or obj.get("status") == "succeeded"
        # A refunded charge was paid: the event also carries the intent's payment.
        charge_intent = (
            IntentState(
                id=str(intent_id),
                status="succeeded" if paid else "processing",
                amount=int(obj["amount"]),
                currency=str(obj["currency"]).upper(),
                amount_refunded=int(_get(obj, "amount_refunded", 0)),
            )
            if intent_id
            else None
        )
        return WebhookEvent(
            event_id,
            event_type,
            "refund_updated",
            intent=charge_intent,
            intent_id=intent_id,
            refunds=tuple(_refund_state(item, intent_id) for item in refunds),
        )
    if event_type in _REFUND_EVENTS:
        refund = _refund_state(obj)
        return WebhookEvent(
            event_id,
            event_type,
            "refund_updated",
            intent_id=refund.intent_id,
            refunds=(refund,),
        )
    return WebhookEvent(event_id, event_type, "ignored")
