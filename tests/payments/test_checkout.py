"""Booking a paid service over the API, against localstripe (a stand-in for Stripe:
see conftest): the slot is held while the client pays, the booking is confirmed
only when the payment is (webhook, or the server-side check), two clients racing
get one hold, an unreachable Stripe leaves nothing behind, free services skip all
of it, and a platform without keys cannot publish paid services."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import requests
from sqlalchemy import func, select

from booking.bookings import Links
from booking.models import Booking
from caldav_server.store import CalendarStore
from consult.db import utcnow
from notifications.bookings import CONFIRMED
from notifications.models import OutboxMessage
from payments import holds
from payments.gateway import GATEWAY
from payments.models import Payment, ProcessedWebhookEvent
from runtime.app import create_app, platform_of, shutdown_app
from tests.factories import at, bearer, iso, next_weekday
from tests.helpers import LiveServer, make_settings
from tests.payments.conftest import (
    StandIn,
    closed_port_url,
    open_shop,
    payment_settings,
    wait_for,
)


def event_status(database: Any, principal: str, uid: str) -> str | None:
    with database.session() as session:
        item = CalendarStore(session).get_item_by_uid(f"{principal}/bookings", uid)
    if item is None:
        return None
    event = next(iter(icalendar.Calendar.from_ical(item.text).walk("VEVENT")))
    return str(event["STATUS"])


def invitations(database: Any, booking_id: int) -> int:
    with database.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.booking_id == booking_id, OutboxMessage.kind == CONFIRMED)
            )
            or 0
        )


def offered(base: str, service_id: int, day: Any) -> list[str]:
    response = requests.get(
        f"{base}/api/v1/services/{service_id}/slots",
        params={"start": day.isoformat(), "tz": "Europe/Berlin"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return [slot["start"] for slot in response.json()]


def test_a_paid_booking_is_held_then_confirmed_by_stripes_webhook(
    live_server: LiveServer, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    stand_in.register_webhook(f"{live_server.url}/webhooks/stripe")
    shop = open_shop(requests_client(live_server), database, make_user)
    sam = make_user(role="client", name="Sam Client")
    day = next_weekday(1, weeks_ahead=2)
    start = at(day, "09:50")
    assert iso(start) in offered(live_server.url, shop.service["id"], day)

    before = utcnow()
    response = requests.post(
        f"{live_server.url}/api/v1/bookings",
        json={"service_id": shop.service["id"], "start": iso(start)},
        headers=bearer(database, sam),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    held = response.json()
    assert held["status"] == "held"
    payment = held["payment"]
    assert (payment["amount"], payment["currency"], payment["status"]) == (9000, "EUR", "pending")
    assert payment["formatted"] == "€90.00"
    assert payment["client_secret"].startswith("pi_")
    assert payment["publishable_key"].startswith("pk_test_")
    hold_end = datetime.fromisoformat(payment["hold_expires_at"])
    assert before + timedelta(minutes=10) <= hold_end <= utcnow() + timedelta(minutes=10)
    assert held["refunds"] == []

    # Held: taken for everyone, tentative in the calendar, nobody invited yet.
    assert iso(start) not in offered(live_server.url, shop.service["id"], day)
    assert event_status(database, shop.pro.principal, held["event_uid"]) == "TENTATIVE"
    assert invitations(database, held["id"]) == 0
    # The professional sees the payment but never the client secret.
    as_pro = requests.get(
        f"{live_server.url}/api/v1/bookings/{held['id']}", headers=shop.pro_headers, timeout=30
    ).json()
    assert "client_secret" not in as_pro["payment"]
    assert as_pro["payment"]["intent_id"] == payment["client_secret"].split("_secret_")[0]

    # The client's phone pays with the client secret; Stripe tells us by webhook.
    assert stand_in.pay(payment["client_secret"])["status"] == "succeeded"

    def confirmed() -> dict[str, Any] | None:
        body = requests.get(
            f"{live_server.url}/api/v1/bookings/{held['id']}",
            headers=bearer(database, sam),
            timeout=30,
        ).json()
        return body if body["status"] == "confirmed" else None

    body = wait_for(confirmed, "the webhook to confirm the booking")
    assert body["payment"]["status"] == "succeeded" and body["payment"]["paid_at"]
    assert "client_secret" not in body["payment"]  # the payment is closed
    assert event_status(database, shop.pro.principal, held["event_uid"]) == "CONFIRMED"
    # Client and professional, now (written by the sender, in the background).
    wait_for(lambda: invitations(database, held["id"]) >= 2 or None, "the invitations")
    with database.session() as session:
        handled = session.scalars(select(ProcessedWebhookEvent)).all()
        assert [(e.type, e.outcome) for e in handled] == [("payment_intent.succeeded", "confirmed")]


def requests_client(live_server: LiveServer) -> Any:
    """``setup_professional`` drives a Flask test client; this adapts requests to it."""

    class Client:
        def _call(self, method: str, path: str, **kwargs: Any) -> Any:
            response = requests.request(method, live_server.url + path, timeout=30, **kwargs)
            response.get_json = response.json  # type: ignore[attr-defined]
            return response

        def put(self, path: str, **kwargs: Any) -> Any:
            return self._call("PUT", path, **kwargs)

        def post(self, path: str, **kwargs: Any) -> Any:
            return self._call("POST", path, **kwargs)

    return Client()


def test_two_clients_racing_for_a_paid_slot_get_one_hold_and_one_409(
    live_server: LiveServer, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(requests_client(live_server), database, make_user)
    start = at(next_weekday(2, weeks_ahead=2), "10:40")
    racers = [make_user(role="client") for _ in range(4)]
    headers = [bearer(database, racer) for racer in racers]
    barrier = threading.Barrier(len(racers))
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def race(header: dict[str, str]) -> None:
        barrier.wait()
        response = requests.post(
            f"{live_server.url}/api/v1/bookings",
            json={"service_id": shop.service["id"], "start": iso(start)},
            headers=header,
            timeout=60,
        )
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=race, args=(h,)) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert Counter(r.status_code for r in answers) == {201: 1, 409: 3}, [r.text for r in answers]
    loser = next(r for r in answers if r.status_code == 409).json()
    assert loser["error"]["code"] == "slot_unavailable"
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
    # Every loser's intent was cancelled at once; only the winner's can be paid.
    statuses = Counter(intent["status"] for intent in stand_in.intents())
    assert statuses == {"requires_payment_method": 1, "canceled": 3}


def test_an_unreachable_stripe_is_a_clear_503_and_leaves_no_hold(
    tmp_path: Path, database_url: str, database: Any, make_user: Any, localstripe: str
) -> None:
    settings = make_settings(
        tmp_path, database_url, **payment_settings(localstripe, stripe_api_base=closed_port_url())
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        shop = open_shop(client, database, make_user)
        day = next_weekday(3, weeks_ahead=2)
        start = at(day, "09:00")
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": shop.service["id"], "start": iso(start)},
            headers=bearer(database, make_user(role="client")),
        )
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert error["code"] == "payment_provider_unavailable"
        assert "could not reach our payment provider" in error["message"]
        assert "nothing was booked or charged" in error["message"]
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Booking)) == 0
            assert session.scalar(select(func.count()).select_from(Payment)) == 0
        # Even after the hold would have run out there is nothing to clean up, and
        # the slot was never taken.
        later = utcnow() + timedelta(minutes=11)
        swept = holds.sweep(
            database, platform_of(app).find(GATEWAY), now=later, links=Links("http://x")
        )
        assert swept.expired == {} and swept.stopped == {}
        slots = client.get(
            f"/api/v1/services/{shop.service['id']}/slots?start={day.isoformat()}"
        ).get_json()
        assert iso(start.astimezone(UTC)) in [
            datetime.fromisoformat(s["start"]).astimezone(UTC).isoformat() for s in slots
        ]
    finally:
        shutdown_app(app)


def test_free_services_skip_payment(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user, price=0)
    response = client.post(
        "/api/v1/bookings",
        json={
            "service_id": shop.service["id"],
            "start": iso(at(next_weekday(0, weeks_ahead=2), "09:00")),
        },
        headers=bearer(database, make_user(role="client")),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "confirmed" and body["payment"] is None and body["refunds"] == []
    assert stand_in.intents() == []


def test_the_server_side_check_confirms_without_a_webhook(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    # No webhook endpoint registered: Stripe's events go nowhere.
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    headers = bearer(database, sam)
    held = client.post(
        "/api/v1/bookings",
        json={
            "service_id": shop.service["id"],
            "start": iso(at(next_weekday(4, weeks_ahead=2), "13:10")),
        },
        headers=headers,
    ).get_json()
    checked = client.post(f"/api/v1/bookings/{held['id']}/payment/check", headers=headers)
    assert checked.status_code == 200 and checked.get_json()["status"] == "held"  # unpaid yet

    stand_in.pay(held["payment"]["client_secret"])
    checked = client.post(f"/api/v1/bookings/{held['id']}/payment/check", headers=headers)
    assert checked.status_code == 200
    assert checked.get_json()["status"] == "confirmed"
    # Somebody else's booking is not found; a free booking has no payment.
    other = bearer(database, make_user(role="client"))
    assert (
        client.post(f"/api/v1/bookings/{held['id']}/payment/check", headers=other).status_code
        == 404
    )
    listed = client.get(f"/api/v1/bookings/{held['id']}/payments", headers=shop.pro_headers)
    assert listed.status_code == 200
    assert [p["status"] for p in listed.get_json()["payments"]] == ["succeeded"]
