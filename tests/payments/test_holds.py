"""Holds: a slot held for payment runs out with a controllable clock and is freed;
a payment made at the last moment wins over the expiry; a held booking cancelled by
the client has its intent cancelled; the expiry is scheduled on rq at the hold's
end; group seats are held and confirmed the same way. Against localstripe, a
stand-in for Stripe (see conftest)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import func, select

from booking import bookings
from booking.bookings import Links
from booking.models import Booking, GroupOccurrence
from caldav_server.store import CalendarStore
from consult.db import utcnow
from notifications.models import OutboxMessage
from payments import holds
from payments.gateway import GATEWAY
from payments.models import Payment
from tests.factories import at, bearer, group_class, iso, next_weekday
from tests.payments.conftest import StandIn, open_shop, wait_for

LINKS = Links("http://127.0.0.1:8000")


def hold(client: Any, shop: Any, user: Any, start: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/bookings",
        json={"service_id": shop.service["id"], "start": iso(start)},
        headers=bearer(shop.database, user),
    )
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    assert body["status"] == "held"
    return body


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_a_hold_that_runs_out_frees_the_slot(
    platform: Any, client: Any, app: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    start = at(next_weekday(1, weeks_ahead=2), "09:00")
    held = hold(client, shop, make_user(role="client"), start)
    payment = shop.payment(held["id"])
    gateway = platform.find(GATEWAY)

    # The clock is ours: one minute before the end nothing happens.
    early = holds.sweep(
        database, gateway, now=payment.hold_expires_at - timedelta(minutes=1), links=LINKS
    )
    assert early.expired == {}
    assert (
        holds.expire_payment(
            database,
            gateway,
            payment.id,
            now=payment.hold_expires_at - timedelta(seconds=1),
            links=LINKS,
        )
        == "not_due"
    )
    assert shop.booking(held["id"]).status == "held"

    late = holds.sweep(
        database, gateway, now=payment.hold_expires_at + timedelta(seconds=1), links=LINKS
    )
    assert late.expired == {payment.id: "canceled"}
    booking = shop.booking(held["id"])
    assert (booking.status, booking.cancelled_by) == ("cancelled", "system")
    assert shop.payment(held["id"]).status == "canceled"
    assert stand_in.intent(payment.intent_id)["status"] == "canceled"  # nobody can pay now
    with database.session() as session:
        store = CalendarStore(session)
        assert store.get_item_by_uid(f"{shop.pro.principal}/bookings", booking.event_uid) is None
        # Never invited, so nobody gets a cancellation either.
        assert (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.booking_id == booking.id)
            )
            == 0
        )
    # The slot is free: someone else holds it now. Expiring again changes nothing.
    hold(client, shop, make_user(role="client"), start)
    assert (
        holds.expire_payment(
            database,
            gateway,
            payment.id,
            now=payment.hold_expires_at + timedelta(minutes=5),
            links=LINKS,
        )
        == "not_pending"
    )


def test_a_payment_at_the_last_moment_wins_over_the_expiry(
    platform: Any, client: Any, app: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(2, weeks_ahead=2), "09:00"))
    payment = shop.payment(held["id"])
    # Paid, but the webhook is lost (none registered): the expiry asks Stripe first.
    stand_in.pay(held["payment"]["client_secret"])
    gateway = platform.find(GATEWAY)
    swept = holds.sweep(
        database, gateway, now=payment.hold_expires_at + timedelta(minutes=1), links=LINKS
    )
    assert swept.expired == {payment.id: "confirmed"}
    assert shop.booking(held["id"]).status == "confirmed"
    assert shop.payment(held["id"]).status == "succeeded"
    assert stand_in.intent(payment.intent_id)["status"] == "succeeded"


def test_cancelling_a_held_booking_cancels_its_intent(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    held = hold(client, shop, sam, at(next_weekday(3, weeks_ahead=2), "09:00"))
    cancelled = client.post(f"/api/v1/bookings/{held['id']}/cancel", headers=bearer(database, sam))
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    intent_id = shop.payment(held["id"]).intent_id
    # The job queue (a thread of the app here) cancels the intent after the commit.
    wait_for(
        lambda: stand_in.intent(intent_id)["status"] == "canceled", "the intent to be cancelled"
    )
    wait_for(lambda: shop.payment(held["id"]).status == "canceled", "the payment to say so")
    assert shop.booking(held["id"]).cancelled_by == "client"
    assert shop.payment(held["id"]).refunds == []


def test_a_group_seat_is_held_tentatively_then_confirmed(
    client: Any, app: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    created = client.post(
        "/api/v1/services",
        json=group_class(capacity=1, title="Yoga", price={"amount": 1500, "currency": "EUR"}),
        headers=shop.pro_headers,
    )
    assert created.status_code == 201, created.get_json()
    service = created.get_json()
    start = at(next_weekday(2, weeks_ahead=2), "18:00")
    client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(start)},
        headers=shop.pro_headers,
    )
    ana = make_user(role="client", name="Ana Student")
    held = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(start)},
        headers=bearer(database, ana),
    )
    assert held.status_code == 201 and held.get_json()["status"] == "held"
    # The only seat is taken while Ana pays.
    full = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(start)},
        headers=bearer(database, make_user(role="client")),
    )
    assert full.status_code == 409

    def partstat() -> str:
        with database.session() as session:
            item = CalendarStore(session).get_item_by_uid(
                f"{shop.pro.principal}/bookings", held.get_json()["event_uid"]
            )
        assert item is not None
        event = next(iter(icalendar.Calendar.from_ical(item.text).walk("VEVENT")))
        return str(event["ATTENDEE"].params["PARTSTAT"])

    assert partstat() == "TENTATIVE"
    stand_in.pay(held.get_json()["payment"]["client_secret"])
    checked = client.post(
        f"/api/v1/bookings/{held.get_json()['id']}/payment/check", headers=bearer(database, ana)
    )
    assert checked.get_json()["status"] == "confirmed"
    assert partstat() == "ACCEPTED"
    with database.session() as session:
        assert session.scalar(select(GroupOccurrence.seats_taken)) == 1


def test_confirm_and_expire_are_idempotent_in_the_booking_core(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(0, weeks_ahead=3), "09:00"))
    now = utcnow()
    with database.session() as session:
        booking = session.get(Booking, held["id"])
        assert booking is not None
        bookings.confirm_held(session, booking, now=now, links=LINKS)
        assert booking.status == "confirmed"
        sequence = booking.sequence
        bookings.confirm_held(session, booking, now=now, links=LINKS)  # again: nothing
        assert booking.sequence == sequence
        # A confirmed booking is no hold: expiring it changes nothing.
        assert bookings.expire_hold(session, booking, now=now, reason="late") is False
        assert booking.status == "confirmed"
    with database.session() as session:
        payment = session.scalar(select(Payment).where(Payment.booking_id == held["id"]))
        assert payment is not None and payment.status == "pending"  # the money decides
