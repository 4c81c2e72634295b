"""The Stripe adapter, with the real ``stripe`` library against localstripe (a
stand-in for Stripe: see conftest): intents, card tokens, cancellation, refunds,
webhook verification, and SDK errors wrapped in the domain's."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from payments.errors import InvalidWebhook, PaymentDeclined, PaymentGatewayError
from payments.gateway import GatewayConfig
from payments.stripe_gateway import StripeGateway
from tests.payments.conftest import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    StandIn,
    closed_port_url,
    event_payload,
    sign,
)


def gateway_at(url: str, webhook_secret: str = WEBHOOK_SECRET) -> StripeGateway:
    return StripeGateway(
        GatewayConfig(
            secret_key=SECRET_KEY,
            publishable_key=PUBLISHABLE_KEY,
            webhook_secret=webhook_secret,
            api_base=url,
            timeout_seconds=15,
            network_retries=0,
        )
    )


def test_an_intent_is_created_paid_with_a_card_token_and_refunded(stand_in: StandIn) -> None:
    gateway = gateway_at(stand_in.url)
    intent = gateway.create_intent(
        amount=9000,
        currency="eur",
        description="Therapy session",
        metadata={"service_id": "1"},
        idempotency_key="test-1",
    )
    assert (intent.status, intent.amount, intent.currency) == (
        "requires_payment_method",
        9000,
        "EUR",
    )
    assert intent.client_secret and intent.client_secret.startswith(intent.id + "_secret_")

    paid = gateway.confirm_with_card_token(intent.id, stand_in.card_token())
    assert paid.status == "succeeded" and paid.is_paid

    refund = gateway.create_refund(
        intent_id=intent.id, amount=4500, metadata={"consult_refund_id": "7"}, idempotency_key="r-7"
    )
    assert (refund.amount, refund.currency, refund.status) == (4500, "EUR", "succeeded")
    assert refund.intent_id == intent.id
    assert gateway.retrieve_intent(intent.id).amount_refunded == 4500


def test_cancelling_returns_the_state_and_a_paid_intent_stays_paid(stand_in: StandIn) -> None:
    gateway = gateway_at(stand_in.url)
    open_intent = gateway.create_intent(
        amount=1500, currency="EUR", description="x", metadata={}, idempotency_key="a"
    )
    assert gateway.cancel_intent(open_intent.id).status == "canceled"
    # Cancelling twice is no error: the answer is the state.
    assert gateway.cancel_intent(open_intent.id).status == "canceled"

    paid = gateway.create_intent(
        amount=1500, currency="EUR", description="x", metadata={}, idempotency_key="b"
    )
    gateway.confirm_with_card_token(paid.id, stand_in.card_token())
    assert gateway.cancel_intent(paid.id).status == "succeeded"


def test_a_declined_card_is_payment_declined(stand_in: StandIn) -> None:
    gateway = gateway_at(stand_in.url)
    intent = gateway.create_intent(
        amount=1500, currency="EUR", description="x", metadata={}, idempotency_key="c"
    )
    with pytest.raises(PaymentDeclined) as caught:
        gateway.confirm_with_card_token(intent.id, stand_in.card_token("4000000000000341"))
    assert "declined" in caught.value.message.lower()
    assert isinstance(caught.value.__cause__, stripe.CardError)
    assert gateway.retrieve_intent(intent.id).status == "requires_payment_method"


def test_an_unreachable_stripe_is_a_gateway_error_with_the_sdk_error_as_cause() -> None:
    gateway = gateway_at(closed_port_url())
    with pytest.raises(PaymentGatewayError) as caught:
        gateway.create_intent(
            amount=1500, currency="EUR", description="x", metadata={}, idempotency_key="d"
        )
    assert caught.value.code == "unreachable"
    assert "could not reach our payment provider" in caught.value.message
    assert isinstance(caught.value.__cause__, stripe.APIConnectionError)


def test_webhooks_are_verified_and_translated(stand_in: StandIn) -> None:
    gateway = gateway_at(stand_in.url)
    intent = gateway.create_intent(
        amount=2500, currency="EUR", description="x", metadata={}, idempotency_key="e"
    )
    gateway.confirm_with_card_token(intent.id, stand_in.card_token())
    # The event localstripe itself recorded, signed the way it signs deliveries.
    event = next(
        e
        for e in stand_in.events("payment_intent.succeeded")
        if e["data"]["object"]["id"] == intent.id
    )
    payload = json.dumps(event).encode()
    parsed = gateway.parse_webhook(payload, sign(payload))
    assert (parsed.id, parsed.kind, parsed.intent_id) == (
        event["id"],
        "payment_succeeded",
        intent.id,
    )
    assert parsed.intent is not None and parsed.intent.amount == 2500

    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(payload, sign(payload, secret="whsec_wrong"))
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(payload + b" ", sign(payload))
    with pytest.raises(InvalidWebhook):  # older than Stripe's five-minute tolerance
        gateway.parse_webhook(payload, sign(payload, timestamp=1_600_000_000))
    with pytest.raises(InvalidWebhook):
        gateway.parse_webhook(b"not json", sign(b"not json"))
    with pytest.raises(InvalidWebhook):
        gateway_at(stand_in.url, webhook_secret="").parse_webhook(payload, sign(payload))

    other = event_payload("evt_other", "customer.created", {"id": "cus_1", "object": "customer"})
    assert gateway.parse_webhook(other, sign(other)).kind == "ignored"


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(0, True), (-290, True), (290, True), (-3600, False), (3600, False), (310, False)],
)
def test_a_webhook_signature_must_be_near_our_clock_on_both_sides(
    offset: int, accepted: bool
) -> None:
    gateway = gateway_at(closed_port_url())  # parse_webhook makes no request
    payload = event_payload("evt_clock", "customer.created", {"id": "cus_1"})
    signature = sign(payload, timestamp=int(time.time()) + offset)
    if accepted:
        assert gateway.parse_webhook(payload, signature).kind == "ignored"
    else:
        with pytest.raises(InvalidWebhook) as refused:
            gateway.parse_webhook(payload, signature)
        when = "in the future" if offset > 0 else "old"
        assert when in refused.value.message
        assert "at most 300 seconds either way" in refused.value.message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[]", "a JSON array, not an event object"),
        (b'[{"id": "evt_1", "type": "customer.created"}]', "a JSON array, not an event object"),
        (b'"evt_1"', "a JSON string, not an event object"),
        (b"null", "a JSON null, not an event object"),
        (b"42", "a JSON number, not an event object"),
        (b"true", "a JSON boolean, not an event object"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),  # nested past the parser's depth
        (b'{"id": "evt_1", "type": "customer.created", "data": []}', "not a Stripe event"),
        (b'{"id": 1, "type": "customer.created", "data": {"object": {}}}', "not a Stripe event"),
        (b'{"id": "evt_1", "type": "x", "data": {"object": "cus_1"}}', "not a Stripe event"),
        (b"\xff\xfe{}", "not UTF-8"),
        (
            b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}}',
            "does not hold what such an event holds",
        ),
    ],
)
def test_a_signed_body_that_is_not_an_event_object_is_invalid_with_a_reason(
    body: bytes, reason: str
) -> None:
    gateway = gateway_at(closed_port_url())
    with pytest.raises(InvalidWebhook) as refused:
        gateway.parse_webhook(body, sign(body))
    assert reason in refused.value.message
