"""The payment pages: the booking form sends a paid booking to the payment page; the
page loads Stripe.js from the configured URL (localstripe's stand-in here, see
conftest) for the booking's client only; the card-token endpoint pays, or says
clearly why not; the return page checks the payment server-side; the booking page
shows payment and refunds; a lapsed hold says so."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from booking.models import Booking
from payments import holds
from payments.gateway import GATEWAY
from payments.models import Payment
from runtime import create_app, shutdown_app
from tests.factories import at, iso, next_weekday, one_on_one
from tests.helpers import TEST_PASSWORD, csrf_token, login, make_settings
from tests.payments.conftest import StandIn, closed_port_url, open_shop, payment_settings
from tests.payments.test_holds import LINKS, hold
from tests.web.pages.helpers import make_professional


def booking_link(principal: str, service_id: int, start: Any) -> str:
    utc = iso(start.astimezone(UTC)).replace("+", "%2B")
    return f"/p/{principal}/book?service={service_id}&start={utc}&tz=Europe/Berlin"


def maya(client: Any, database: Any, make_user: Any) -> tuple[Any, dict[str, Any]]:
    user, _headers, services = make_professional(
        client,
        database,
        make_user,
        name="Maya Lindqvist",
        headline="Therapist",
        categories=("therapy",),
        services=[one_on_one(title="Therapy session", price={"amount": 9000, "currency": "EUR"})],
    )
    return user, services[0]


def test_the_booking_form_sends_a_paid_booking_to_the_payment_page(
    client: Any, database: Any, make_user: Any, stand_in: StandIn, localstripe: str
) -> None:
    pro, service = maya(client, database, make_user)
    start = at(next_weekday(1, weeks_ahead=2), "09:50")
    url = booking_link(pro.principal, service["id"], start)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "name": "Sam Client",
            "email": "sam@example.org",
            "password": TEST_PASSWORD,
        },
    )
    assert response.status_code == 302
    pay_url = response.headers["Location"]
    assert re.fullmatch(r"/bookings/\d+/pay", pay_url)
    page = client.get(pay_url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'<script src="{localstripe}/js.stripe.com/v3/"></script>' in html
    assert 'data-publishable-key="pk_test_consult_payments"' in html
    with database.session() as session:
        payment = session.scalar(select(Payment))
        assert payment is not None
        assert f'data-client-secret="{payment.client_secret}"' in html
    assert "Pay €90.00" in html and "We hold this time for you for" in html
    assert "Full refund if you cancel at least 24 hours before" in html
    # Not on anybody else's screen: another client, the professional, nobody signed out.
    booking_id = int(pay_url.split("/")[2])
    other = client.application.test_client()
    assert other.get(pay_url).status_code == 302  # to the sign-in page
    login(other, make_user(role="client"))
    assert other.get(pay_url).status_code == 404
    as_pro = client.application.test_client()
    login(as_pro, pro)
    assert as_pro.get(pay_url).status_code == 404
    # The booking page says what is going on and leads back to paying.
    detail = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "Waiting for payment" in detail and f'href="{pay_url}"' in detail


def test_paying_with_a_card_token_confirms_and_refusals_are_clear(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    held = hold(client, shop, sam, at(next_weekday(2, weeks_ahead=2), "09:00"))
    login(client, sam)
    token = csrf_token(client, f"/bookings/{held['id']}/pay")
    card_url = f"/bookings/{held['id']}/pay/card"
    headers = {"X-CSRFToken": token}

    assert client.post(card_url, json={"token": 42}, headers=headers).status_code == 400
    assert client.post(card_url, data="nonsense", headers=headers).status_code == 400
    assert client.post(card_url, json={"token": "tok_x"}).status_code == 400  # no CSRF token
    declined = client.post(
        card_url, json={"token": stand_in.card_token("4000000000000341")}, headers=headers
    )
    assert declined.status_code == 402
    assert "declined" in declined.get_json()["error"]["message"].lower()
    assert shop.booking(held["id"]).status == "held"  # still held: try another card

    # localstripe cannot confirm an intent again after a declined charge (Stripe can),
    # so the good card pays a second hold.
    held = hold(client, shop, sam, at(next_weekday(2, weeks_ahead=2), "09:50"))
    card_url = f"/bookings/{held['id']}/pay/card"
    paid = client.post(card_url, json={"token": stand_in.card_token()}, headers=headers)
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json() == {
        "status": "succeeded",
        "redirect": f"/bookings/{held['id']}/confirmed",
    }
    assert shop.booking(held["id"]).status == "confirmed"
    again = client.get(f"/bookings/{held['id']}/pay")
    assert again.status_code == 302 and again.headers["Location"].endswith("/confirmed")


def test_the_return_page_checks_the_payment_itself(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    held = hold(client, shop, sam, at(next_weekday(3, weeks_ahead=2), "09:00"))
    login(client, sam)
    back = client.get(f"/bookings/{held['id']}/pay/return")
    assert back.status_code == 302 and back.headers["Location"] == f"/bookings/{held['id']}/pay"
    # Paid, no webhook (none registered): the return page asks Stripe.
    stand_in.pay(held["payment"]["client_secret"])
    done = client.get(
        f"/bookings/{held['id']}/pay/return?payment_intent=x&redirect_status=succeeded"
    )
    assert done.status_code == 302
    assert done.headers["Location"] == f"/bookings/{held['id']}/confirmed"
    assert "You are booked" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_a_lapsed_hold_says_so_and_takes_no_money(
    platform: Any, client: Any, app: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    held = hold(client, shop, sam, at(next_weekday(4, weeks_ahead=2), "09:00"))
    login(client, sam)
    token = csrf_token(client, f"/bookings/{held['id']}/pay")
    payment = shop.payment(held["id"])
    gateway = platform.find(GATEWAY)
    holds.sweep(database, gateway, now=payment.hold_expires_at + timedelta(seconds=5), links=LINKS)

    page = client.get(f"/bookings/{held['id']}/pay")
    assert page.status_code == 409
    html = page.get_data(as_text=True)
    assert "This time is no longer held" in html and "nothing was charged" in html
    assert "js.stripe.com" not in html
    late = client.post(
        f"/bookings/{held['id']}/pay/card",
        json={"token": stand_in.card_token()},
        headers={"X-CSRFToken": token},
    )
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "hold_expired"
    assert stand_in.refunds() == [] and shop.payment(held["id"]).status == "canceled"


def test_the_booking_form_with_stripe_unreachable_is_a_clear_503(
    tmp_path: Path, database_url: str, database: Any, make_user: Any, localstripe: str
) -> None:
    app = create_app(
        make_settings(
            tmp_path,
            database_url,
            **payment_settings(localstripe, stripe_api_base=closed_port_url()),
        )
    )
    try:
        client = app.test_client()
        pro, service = maya(client, database, make_user)
        login(client, make_user(role="client"))
        url = booking_link(
            pro.principal, service["id"], at(next_weekday(1, weeks_ahead=2), "09:00")
        )
        response = client.post(url, data={"csrf_token": csrf_token(client, url), "note": ""})
        assert response.status_code == 503
        html = response.get_data(as_text=True)
        assert "could not reach our payment provider" in html
        assert "nothing was booked or charged" in html
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Booking)) == 0
    finally:
        shutdown_app(app)


def test_the_professional_sets_the_cancellation_policy_on_the_service_form(
    client: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    pro = make_user(role="professional")
    login(client, pro)
    new = client.get("/pro/services/new").get_data(as_text=True)
    assert "Cancellation policy" in new and 'name="full_refund_hours"' in new
    assert 'value="24"' in new  # the default: everything back until a day before
    form = {
        "csrf_token": csrf_token(client, "/pro/services/new"),
        "kind": "one_on_one",
        "title": "Yoga class",
        "duration_minutes": "60",
        "price": "25",
        "currency": "EUR",
        "horizon_days": "60",
        "is_published": "y",
        "full_refund_hours": "24",
        "partial_refund_hours": "48",
        "partial_refund_percent": "50",
    }
    wrong = client.post("/pro/services/new", data=form)
    assert wrong.status_code == 422
    assert "The partial refund must end closer to the start" in wrong.get_data(as_text=True)
    created = client.post("/pro/services/new", data={**form, "partial_refund_hours": "6"})
    assert created.status_code == 302
    with database.session() as session:
        from booking.models import Service

        service = session.scalars(select(Service)).one()
        assert (
            service.refund_full_hours,
            service.refund_partial_hours,
            service.refund_partial_percent,
            service.price_amount,
        ) == (24, 6, 50, 2500)
    edit = client.get(f"/pro/services/{service.id}").get_data(as_text=True)
    for name, value in (("full_refund_hours", 24), ("partial_refund_hours", 6)):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', edit)
        assert tag is not None and f'value="{value}"' in tag.group(0), name
    percent = re.search(r'<input[^>]*name="partial_refund_percent"[^>]*>', edit)
    assert percent is not None and 'value="50"' in percent.group(0)
