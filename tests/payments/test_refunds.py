"""Refunds by the cancellation policy: full up to N hours before, partial up to M
hours, none after; the professional's cancellation always in full. Refunds go to
localstripe (a stand-in for Stripe, see conftest) after the cancellation commits,
and the booking shows their status in its JSON and on its page. A provider that
cannot be reached delays a refund; it is never sent twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from booking import bookings
from booking.models import Booking
from payments import holds
from payments.gateway import GATEWAY, GatewayConfig
from payments.models import Refund
from payments.refunds import send_refund
from payments.stripe_gateway import StripeGateway
from tests.factories import at, bearer, next_weekday
from tests.helpers import login
from tests.payments.conftest import (
    PUBLISHABLE_KEY,
    SECRET_KEY,
    StandIn,
    closed_port_url,
    open_shop,
    wait_for,
)
from tests.payments.test_holds import LINKS, hold

POLICY = {"full_refund_hours": 48, "partial_refund_hours": 24, "partial_refund_percent": 50}


def paid_booking(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> tuple[Any, Any, dict[str, Any]]:
    """A confirmed, paid booking (€90) of a service with ``POLICY``; (shop, client, booking)."""
    shop = open_shop(client, database, make_user, cancellation_policy=POLICY)
    assert shop.service["cancellation_policy"] == POLICY
    sam = make_user(role="client", name="Sam Client")
    held = hold(client, shop, sam, at(next_weekday(2, weeks_ahead=3), "09:00"))
    stand_in.pay(held["payment"]["client_secret"])
    checked = client.post(
        f"/api/v1/bookings/{held['id']}/payment/check", headers=bearer(database, sam)
    )
    assert checked.get_json()["status"] == "confirmed"
    return shop, sam, checked.get_json()


def cancel_at(database: Any, booking_id: int, *, hours_before: float, by: str) -> None:
    """Cancel with our own clock, ``hours_before`` the start."""
    with database.session() as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        now = booking.start - timedelta(hours=hours_before)
        bookings.cancel(session, booking, by=by, now=now)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hours_before", "by", "amount", "tier", "shown"),
    [
        (72, "client", 9000, "full", "Refunded: €90.00 · Cancelled by the client"),
        (30, "client", 4500, "partial", "Refunded: €45.00 (50%) · Cancelled by the client"),
        (10, "client", 0, "none", "No refund (cancellation policy) · Cancelled by the client"),
        (1, "professional", 9000, "full", "Refunded: €90.00 · Cancelled by the professional"),
    ],
)
def test_each_policy_tier_refunds_what_it_says(
    client: Any,
    database: Any,
    make_user: Any,
    stand_in: StandIn,
    hours_before: int,
    by: str,
    amount: int,
    tier: str,
    shown: str,
) -> None:
    shop, sam, booking = paid_booking(client, database, make_user, stand_in)
    intent_id = shop.payment(booking["id"]).intent_id
    cancel_at(database, booking["id"], hours_before=hours_before, by=by)

    def settled() -> dict[str, Any] | None:
        body = client.get(
            f"/api/v1/bookings/{booking['id']}", headers=bearer(database, sam)
        ).get_json()
        refunds = body["refunds"]
        return body if refunds and refunds[0]["status"] in ("succeeded", "none") else None

    body = wait_for(settled, "the refund to be sent")
    (refund,) = body["refunds"]
    assert (refund["amount"], refund["currency"], refund["tier"]) == (amount, "EUR", tier)
    assert refund["status"] == ("succeeded" if amount else "none")
    at_stripe = [r for r in stand_in.refunds() if r["payment_intent"] == intent_id]
    assert [r["amount"] for r in at_stripe] == ([amount] if amount else [])
    if amount:
        assert refund["provider_refund_id"] == at_stripe[0]["id"]
    # The professional sees the same, with the payment, per booking.
    listed = client.get(
        f"/api/v1/bookings/{booking['id']}/payments", headers=shop.pro_headers
    ).get_json()
    assert [(p["amount"], p["refunded"]) for p in listed["payments"]] == [(9000, amount)]
    assert [r["formatted"] for r in listed["refunds"]] == [f"€{amount / 100:.2f}"]
    # And the booking page says it.
    login(client, sam)
    page = client.get(f"/bookings/{booking['id']}").get_data(as_text=True)
    assert shown in page


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_an_unreachable_stripe_delays_a_refund_and_never_doubles_it(
    monkeypatch: pytest.MonkeyPatch,
    platform: Any,
    client: Any,
    app: Any,
    database: Any,
    make_user: Any,
    stand_in: StandIn,
) -> None:
    shop, sam, booking = paid_booking(client, database, make_user, stand_in)
    # Keep the app's job queue out of it: this test sends by hand.
    monkeypatch.setattr(platform.jobs, "enqueue", lambda *args, **kwargs: None)
    cancel_at(database, booking["id"], hours_before=72, by="client")
    with database.session() as session:
        refund = session.query(Refund).one()
        refund_id, created = refund.id, refund.created_at
    down = StripeGateway(GatewayConfig(SECRET_KEY, PUBLISHABLE_KEY, "", closed_port_url(), 5, 0))
    now = created + timedelta(seconds=1)
    assert send_refund(database, down, refund_id, now=now) == "retry"
    with database.session() as session:
        refund = session.get(Refund, refund_id)
        assert refund is not None
        assert (refund.status, refund.attempts) == ("pending", 1)
        assert "could not reach our payment provider" in refund.last_error
        retry_at = refund.next_attempt_at
    assert retry_at is not None and retry_at > now
    gateway = platform.find(GATEWAY)
    # Before its back-off is over the sweep leaves it; after, it is sent once.
    assert holds.sweep(database, gateway, now=now, links=LINKS).refunds == {}
    assert holds.sweep(database, gateway, now=retry_at, links=LINKS).refunds == {refund_id: "sent"}
    assert send_refund(database, gateway, refund_id, now=retry_at + timedelta(hours=1)) == "skipped"
    assert [r["amount"] for r in stand_in.refunds()] == [9000]
    with database.session() as session:
        assert session.get(Refund, refund_id).status == "succeeded"  # type: ignore[union-attr]


def test_bad_cancellation_policies_are_refused(client: Any, database: Any, make_user: Any) -> None:
    pro = make_user(role="professional")
    headers = bearer(database, pro)
    base = {
        "kind": "one_on_one",
        "title": "Session",
        "duration_minutes": 50,
        "price": {"amount": 9000, "currency": "EUR"},
    }
    cases = [
        (
            {"full_refund_hours": 24, "partial_refund_hours": 48, "partial_refund_percent": 50},
            "partial_refund_hours",
        ),
        ({"full_refund_hours": 24, "partial_refund_hours": 6}, "partial_refund_percent"),
        ({"full_refund_hours": 24, "partial_refund_percent": 50}, "partial_refund_hours"),
        ({"full_refund_hours": -1}, "full_refund_hours"),
        ({"full_refund_hours": "24"}, "full_refund_hours"),
        ({"full_refund_hours": 24, "weekends": True}, "weekends"),
    ]
    for policy, field in cases:
        response = client.post(
            "/api/v1/services", json={**base, "cancellation_policy": policy}, headers=headers
        )
        assert response.status_code == 422, policy
        assert f"cancellation_policy.{field}" in response.get_json()["error"]["fields"], policy
    response = client.post(
        "/api/v1/services", json={**base, "cancellation_policy": "strict"}, headers=headers
    )
    assert response.status_code == 422
    # null: no refunds for clients (the professional's cancellations still refund in full).
    none = client.post(
        "/api/v1/services", json={**base, "cancellation_policy": None}, headers=headers
    )
    assert none.status_code == 201
    assert none.get_json()["cancellation_policy"] == {
        "full_refund_hours": None,
        "partial_refund_hours": None,
        "partial_refund_percent": 0,
    }
    default = client.post("/api/v1/services", json=base, headers=headers).get_json()
    assert default["cancellation_policy"]["full_refund_hours"] == 24
    changed = client.patch(
        f"/api/v1/services/{default['id']}", json={"cancellation_policy": POLICY}, headers=headers
    )
    assert changed.get_json()["cancellation_policy"] == POLICY
