"""My bookings (upcoming and past), one booking's page with cancel and reschedule,
and the signed link that works without signing in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from booking.models import Booking
from tests.factories import at, bearer, iso, next_weekday
from tests.helpers import csrf_token, login
from tests.web.pages.helpers import make_professional


@pytest.fixture
def booked(client: Any, database: Any, make_user: Any) -> dict[str, Any]:
    maya, _, [service] = make_professional(client, database, make_user, name="Maya Lindqvist")
    sam = make_user(role="client", name="Sam Client", timezone="America/New_York")
    day = next_weekday(2, weeks_ahead=2)
    response = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "09:00")), "client_note": "Hi"},
        headers=bearer(database, sam),
    )
    assert response.status_code == 201
    return {
        "maya": maya,
        "sam": sam,
        "day": day,
        "booking": response.get_json(),
        "service": service,
    }


def test_my_bookings_lists_upcoming_and_past_in_my_zone(
    client: Any, database: Any, booked: dict[str, Any]
) -> None:
    login(client, booked["sam"])
    html = client.get("/bookings").get_data(as_text=True)
    upcoming = html.split('id="upcoming-heading"')[1].split('id="past-heading"')[0]
    assert "Therapy session" in upcoming and "with Maya Lindqvist" in upcoming
    local = at(booked["day"], "09:00").astimezone(ZoneInfo("America/New_York"))
    assert f"{local:%H:%M}–" in upcoming and "(America/New York)" in upcoming
    with database.session() as session:  # time passes: the booking is now in the past
        booking = session.get(Booking, booked["booking"]["id"])
        assert booking is not None
        booking.start -= timedelta(days=60)
        booking.end -= timedelta(days=60)
    html = client.get("/bookings").get_data(as_text=True)
    past_part = html.split('id="past-heading"')[1]
    assert "Therapy session" in past_part and "Nothing booked yet" in html


def test_the_professional_sees_it_too_marked_as_hosted(client: Any, booked: dict[str, Any]) -> None:
    login(client, booked["maya"])
    html = client.get("/bookings").get_data(as_text=True)
    assert "You host" in html and "with Sam Client" in html
    detail = client.get(f"/bookings/{booked['booking']['id']}").get_data(as_text=True)
    assert "Client</dt><dd>Sam Client" in detail and "(Europe/Berlin)" in detail
    ics = icalendar.Calendar.from_ical(
        client.get(f"/bookings/{booked['booking']['id']}/event.ics").data
    ).walk("VEVENT")[0]
    assert str(ics["SUMMARY"]) == "Therapy session with Sam Client"
    assert str(ics["UID"]) == booked["booking"]["event_uid"]


def test_cancel_from_the_booking_page_frees_the_slot(client: Any, booked: dict[str, Any]) -> None:
    login(client, booked["sam"])
    url = f"/bookings/{booked['booking']['id']}"
    page = client.get(url).get_data(as_text=True)
    assert "Cancel booking" in page and "Move booking" in page
    done = client.post(
        url, data={"csrf_token": csrf_token(client, url), "action": "cancel", "reason": "Ill"}
    )
    assert done.status_code == 302
    after = client.get(url).get_data(as_text=True)
    assert "The booking is cancelled. The time is free again." in after
    assert "Cancelled by the client: Ill" in after and "Cancel booking" not in after
    slots = client.get(
        f"/api/v1/services/{booked['service']['id']}/slots",
        query_string={"start": booked["day"].isoformat(), "tz": "Europe/Berlin"},
    ).get_json()
    assert slots[0]["start"].startswith(f"{booked['day'].isoformat()}T09:00")


def test_reschedule_from_the_booking_page(client: Any, booked: dict[str, Any]) -> None:
    login(client, booked["sam"])
    url = f"/bookings/{booked['booking']['id']}"
    page = client.get(url).get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)">', page)
    assert options, "alternatives are offered"
    moved = client.post(
        url,
        data={"csrf_token": csrf_token(client, url), "action": "reschedule", "start": options[3]},
    )
    assert moved.status_code == 302
    assert "The booking is moved." in client.get(url).get_data(as_text=True)
    bad = client.post(
        url, data={"csrf_token": csrf_token(client, url), "action": "reschedule", "start": "soon"}
    )
    assert bad.status_code == 302
    assert "Pick a new time." in client.get(url).get_data(as_text=True)
    taken = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "action": "reschedule",
            "start": iso(at(booked["day"], "03:00")),
        },
    )
    assert taken.status_code == 302
    assert "outside the professional" in client.get(url).get_data(as_text=True)
    nonsense = client.post(url, data={"csrf_token": csrf_token(client, url), "action": "explode"})
    assert nonsense.status_code == 400


def test_other_people_get_a_friendly_404(
    client: Any, booked: dict[str, Any], make_user: Any
) -> None:
    login(client, make_user(role="client"))
    for path in (
        f"/bookings/{booked['booking']['id']}",
        "/bookings/999999",
        f"/bookings/{booked['booking']['id']}/confirmed",
        f"/bookings/{booked['booking']['id']}/event.ics",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Page not found" in response.get_data(as_text=True)


def test_signed_in_pages_need_a_sign_in(client: Any, booked: dict[str, Any]) -> None:
    for path in ("/bookings", f"/bookings/{booked['booking']['id']}"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_signed_link_shows_the_booking_in_the_clients_zone(
    client: Any, booked: dict[str, Any]
) -> None:
    token = booked["booking"]["manage_url"].rsplit("/", 1)[1]
    html = client.get(f"/manage/{token}").get_data(as_text=True)
    assert "(America/New York)" in html and "Cancel booking" in html
    assert "My bookings" not in html.split("<main")[1].split("</main>")[0]
