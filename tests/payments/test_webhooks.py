"""``POST /webhooks/stripe``: signatures are verified with the endpoint secret (a bad
one is a 400 and changes nothing); each event is handled once, so a replay or an
event out of order changes nothing the second time; unknown types are a 200.

The events are localstripe's own (a stand-in for Stripe, see conftest), fetched from
its API and signed the way Stripe signs deliveries; ``charge.refunded``, which
localstripe never sends, is built around its charge object."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from booking.models import Booking
from notifications.bookings import BOOKING_CHANGE
from notifications.models import OutboxMessage
from payments.models import Payment, ProcessedWebhookEvent, Refund
from runtime import create_app, shutdown_app
from tests.factories import at, bearer, next_weekday
from tests.helpers import make_settings
from tests.payments.conftest import StandIn, event_payload, open_shop, payment_settings, sign
from tests.payments.test_holds import hold


def deliver(client: Any, payload: bytes, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", data=payload, headers=headers)


def snapshot(database: Any, booking_id: int) -> tuple[Any, ...]:
    """Everything a webhook could change about a booking."""
    with database.session() as session:
        booking = session.get(Booking, booking_id)
        payment = session.scalar(select(Payment).where(Payment.booking_id == booking_id))
        assert booking is not None and payment is not None
        refunds = session.execute(
            select(Refund.amount, Refund.status, Refund.provider_refund_id).order_by(Refund.id)
        ).all()
        # Changes announced (each becomes its emails in the background).
        changes = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.booking_id == booking_id, OutboxMessage.kind == BOOKING_CHANGE)
        )
        events = session.scalar(select(func.count()).select_from(ProcessedWebhookEvent))
        return (
            booking.status,
            booking.sequence,
            booking.updated_at,
            payment.status,
            payment.paid_at,
            payment.updated_at,
            tuple(refunds),
            changes,
            events,
        )


def succeeded_event(stand_in: StandIn, intent_id: str) -> bytes:
    event = next(
        e
        for e in stand_in.events("payment_intent.succeeded")
        if e["data"]["object"]["id"] == intent_id
    )
    return json.dumps(event).encode()


def test_a_bad_signature_is_400_and_changes_nothing(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(1, weeks_ahead=2), "09:00"))
    stand_in.pay(held["payment"]["client_secret"])
    payload = succeeded_event(stand_in, shop.payment(held["id"]).intent_id)
    before = snapshot(database, held["id"])

    for signature in (
        sign(payload, secret="whsec_someone_else"),
        sign(payload, timestamp=1_600_000_000),  # a captured request, replayed too late
        "t=1,v1=00",
        "",
    ):
        response = deliver(client, payload, signature)
        assert response.status_code == 400, signature
        assert response.get_json()["error"]["code"] == "invalid_webhook"
    assert deliver(client, payload).status_code == 400  # no header at all
    tampered = payload.replace(b'"amount": 9000', b'"amount": 1')
    assert deliver(client, tampered, sign(payload)).status_code == 400
    assert snapshot(database, held["id"]) == before
    assert shop.booking(held["id"]).status == "held"


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_the_same_event_twice_is_handled_once(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(2, weeks_ahead=2), "09:00"))
    stand_in.pay(held["payment"]["client_secret"])
    payload = succeeded_event(stand_in, shop.payment(held["id"]).intent_id)

    first = deliver(client, payload, sign(payload))
    assert first.status_code == 200 and first.get_json()["outcome"] == "confirmed"
    after_first = snapshot(database, held["id"])
    assert after_first[0] == "confirmed" and after_first[3] == "succeeded"

    # Stripe retries (or someone replays a captured delivery, freshly signed).
    second = deliver(client, payload, sign(payload))
    assert second.status_code == 200 and second.get_json()["outcome"] == "duplicate"
    assert snapshot(database, held["id"]) == after_first


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_events_out_of_order_change_nothing_the_second_time(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(3, weeks_ahead=2), "09:00"))
    paid = stand_in.pay(held["payment"]["client_secret"])
    intent_id = paid["id"]
    charge_id = (
        paid["latest_charge"]["id"]
        if isinstance(paid["latest_charge"], dict)
        else paid["latest_charge"]
    )
    # A refund made in Stripe's dashboard, and Stripe telling us about it before it
    # tells us about the payment.
    dashboard_refund = stand_in.refund(intent_id, 3000)
    charge = stand_in.charge(charge_id)
    refunded = event_payload("evt_refunded_1", "charge.refunded", charge)
    succeeded = succeeded_event(stand_in, intent_id)

    first = deliver(client, refunded, sign(refunded))
    assert first.status_code == 200, first.get_json()
    state = snapshot(database, held["id"])
    assert state[0] == "confirmed" and state[3] == "succeeded"  # the refunded charge was paid
    assert state[6] == ((3000, "succeeded", dashboard_refund["id"]),)

    late = deliver(client, succeeded, sign(succeeded))
    assert late.status_code == 200 and late.get_json()["outcome"] == "already"
    # Only the new event's own row is new; nothing about the booking changed.
    after = snapshot(database, held["id"])
    assert after[:8] == state[:8] and after[8] == state[8] + 1
    replay = deliver(client, refunded, sign(refunded))
    assert replay.get_json()["outcome"] == "duplicate"
    assert snapshot(database, held["id"]) == after
    body = client.get(f"/api/v1/bookings/{held['id']}", headers=shop.pro_headers).get_json()
    assert [(r["amount"], r["status"], r["reason"]) for r in body["refunds"]] == [
        (3000, "succeeded", "provider")
    ]


def test_unknown_events_and_unknown_payments_are_acknowledged(
    client: Any, database: Any, stand_in: StandIn
) -> None:
    other = event_payload("evt_customer", "customer.created", {"id": "cus_1", "object": "customer"})
    response = deliver(client, other, sign(other))
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"
    stranger = event_payload(
        "evt_stranger",
        "payment_intent.succeeded",
        {
            "id": "pi_not_ours",
            "object": "payment_intent",
            "status": "succeeded",
            "amount": 100,
            "currency": "eur",
        },
    )
    response = deliver(client, stranger, sign(stranger))
    assert response.status_code == 200 and response.get_json()["outcome"] == "unknown_payment"
    garbage = b"this is not json"
    assert deliver(client, garbage, sign(garbage)).status_code == 400


def test_without_a_webhook_secret_webhooks_are_refused(
    tmp_path: Path, database_url: str, localstripe: str
) -> None:
    app = create_app(
        make_settings(tmp_path, database_url, **payment_settings(localstripe, webhook_secret=""))
    )
    try:
        payload = event_payload("evt_1", "customer.created", {"id": "cus_1"})
        response = app.test_client().post(
            "/webhooks/stripe", data=payload, headers={"Stripe-Signature": sign(payload)}
        )
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "not_configured"
    finally:
        shutdown_app(app)


def test_a_payment_for_a_cancelled_booking_is_refunded_in_full(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    held = hold(client, shop, sam, at(next_weekday(4, weeks_ahead=2), "09:00"))
    # The client pays on their phone at the moment the booking is cancelled.
    stand_in.pay(held["payment"]["client_secret"])
    client.post(f"/api/v1/bookings/{held['id']}/cancel", headers=bearer(database, sam))
    payload = succeeded_event(stand_in, shop.payment(held["id"]).intent_id)
    response = deliver(client, payload, sign(payload))
    assert response.get_json()["outcome"] in ("late_payment", "already")
    from tests.payments.conftest import wait_for

    def refunded() -> bool:
        return any(r["amount"] == 9000 for r in stand_in.refunds())

    wait_for(refunded, "the late payment to be refunded")
    booking = client.get(f"/api/v1/bookings/{held['id']}", headers=bearer(database, sam)).get_json()
    assert booking["status"] == "cancelled"
    assert [(r["amount"], r["reason"], r["tier"]) for r in booking["refunds"]] == [
        (9000, "late_payment", "full")
    ]


def test_a_payment_of_another_amount_never_confirms(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(0, weeks_ahead=3), "09:00"))
    intent_id = shop.payment(held["id"]).intent_id
    forged = event_payload(
        "evt_cheap",
        "payment_intent.succeeded",
        {
            "id": intent_id,
            "object": "payment_intent",
            "status": "succeeded",
            "amount": 100,
            "currency": "eur",
        },
    )
    response = deliver(client, forged, sign(forged))
    assert response.status_code == 200 and response.get_json()["outcome"] == "mismatch"
    assert shop.booking(held["id"]).status == "held"
    assert shop.payment(held["id"]).status == "pending"


def test_a_signature_made_for_the_future_is_400_and_changes_nothing(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(4, weeks_ahead=2), "09:00"))
    stand_in.pay(held["payment"]["client_secret"])
    payload = succeeded_event(stand_in, shop.payment(held["id"]).intent_id)
    before = snapshot(database, held["id"])

    # Signed now for an hour ahead: replayable for an hour if it were accepted.
    response = deliver(client, payload, sign(payload, timestamp=int(time.time()) + 3600))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_webhook" and "in the future" in error["message"]
    assert snapshot(database, held["id"]) == before
    # Within the tolerance it is the event it always was.
    ok = deliver(client, payload, sign(payload, timestamp=int(time.time()) + 60))
    assert ok.status_code == 200 and ok.get_json()["outcome"] == "confirmed"


def test_a_signed_body_that_is_not_an_event_object_is_400_with_a_reason(
    client: Any, stand_in: StandIn
) -> None:
    for body, reason in (
        (b"[]", "a JSON array, not an event object"),
        (json.dumps([{"id": "evt_1", "type": "customer.created"}]).encode(), "JSON array"),
        (b"null", "a JSON null"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b'{"id": "evt_1", "type": "customer.created", "data": "x"}', "not a Stripe event"),
    ):
        response = deliver(client, body, sign(body))
        assert response.status_code == 400, body
        error = response.get_json()["error"]
        assert error["code"] == "invalid_webhook" and reason in error["message"], (body, error)
