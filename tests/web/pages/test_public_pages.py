"""A professional's page (month view and times in the visitor's zone), the booking
form with sign-up on the fly, the confirmation with "add to calendar", and photos."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from accounts.models import User
from booking.models import Booking
from tests.factories import at, group_class, iso, next_weekday, one_on_one
from tests.helpers import TEST_PASSWORD, csrf_token, login
from tests.web.pages.helpers import make_professional


@pytest.fixture
def maya(client: Any, database: Any, make_user: Any) -> dict[str, Any]:
    user, headers, services = make_professional(
        client,
        database,
        make_user,
        name="Maya Lindqvist",
        headline="Therapist for anxiety",
        bio="Calm and practical.",
        categories=("therapy",),
        languages=("en", "sv"),
        services=[
            # Bookings here are of the free service; the paid one is only shown (paying is
            # the payments package's flow, tested there).
            one_on_one(title="Therapy session"),
            one_on_one(
                title="Short call", duration_minutes=20, price={"amount": 3000, "currency": "EUR"}
            ),
        ],
    )
    return {
        "user": user,
        "headers": headers,
        "service": services[0],
        "short": services[1],
        "day": next_weekday(1, weeks_ahead=2),
    }


def page_url(maya: dict[str, Any], **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/p/{maya['user'].principal}" + (f"?{query}" if query else "")


def book_url(
    maya: dict[str, Any], start: datetime, tz: str = "Europe/Berlin", service: Any = None
) -> str:
    service_id = (service or maya["service"])["id"]
    return booking_link(maya["user"].principal, service_id, start, tz)


def booking_link(principal: str, service_id: int, start: datetime, tz: str) -> str:
    utc = iso(start.astimezone(UTC)).replace("+", "%2B")
    return f"/p/{principal}/book?service={service_id}&start={utc}&tz={tz}"


def test_the_page_shows_the_profile_and_the_services(client: Any, maya: dict[str, Any]) -> None:
    response = client.get(page_url(maya))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Maya Lindqvist: Therapist for anxiety · Consult</title>" in html
    assert ">ML</span>" in html  # initials without a photo
    assert "Therapy &amp; counselling" in html and "Sessions in English, Swedish" in html
    assert "Therapy session" in html and "50 min · Free" in html and "20 min · €30.00" in html
    assert "Choose a service to see the free times." in html


def test_month_view_and_times_in_the_zone_asked_for(client: Any, maya: dict[str, Any]) -> None:
    day = maya["day"]
    html = client.get(
        page_url(maya, service=str(maya["service"]["id"]), date=day.isoformat(), tz="Asia/Tokyo")
    ).get_data(as_text=True)
    assert day.strftime("%B %Y") in html
    assert 'aria-current="date"' in html
    # 09:00-17:00 Berlin is 17:00-01:00 in Tokyo; the 50-minute grid starts at 09:00 Berlin.
    times = re.findall(r'data-testid="free-time" aria-label="(\d\d:\d\d) Asia/Tokyo, book"', html)
    expected = at(day, "09:00").astimezone(ZoneInfo("Asia/Tokyo"))
    assert times[0] == expected.strftime("%H:%M")
    assert "Times in Asia/Tokyo (UTC+09:00)" in html
    # Links keep the chosen zone; the booking link carries the UTC start.
    link = re.search(r'href="(/p/[^"]+/book\?[^"]+)" data-testid="free-time"', html)
    assert link is not None
    query = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)
    assert query["tz"] == ["Asia/Tokyo"]
    assert datetime.fromisoformat(query["start"][0]) == at(day, "09:00")


def test_free_days_are_links_and_closed_days_are_not(client: Any, maya: dict[str, Any]) -> None:
    saturday = next_weekday(5, weeks_ahead=2)
    html = client.get(
        page_url(maya, service=str(maya["service"]["id"]), month=saturday.strftime("%Y-%m"))
    ).get_data(as_text=True)
    assert f'aria-label="{saturday:%A} {saturday.day} {saturday:%B %Y}, nothing free"' in html
    assert re.search(
        r'data-testid="free-day"[^>]*aria-label="\w+day \d+ \w+ \d{4}, \d+ free times"', html
    )


def test_the_fragment_is_only_the_widget(client: Any, maya: dict[str, Any]) -> None:
    html = client.get(page_url(maya, service=str(maya["service"]["id"]), fragment="1")).get_data(
        as_text=True
    )
    assert html.lstrip().startswith("{#") is False and "<html" not in html
    assert 'data-widget data-zone="Europe/Berlin"' in html


@pytest.mark.parametrize(
    ("params", "note"),
    [
        ({"month": "2026-99"}, "That month is not valid"),
        ({"date": "tomorrow"}, "That date is not valid"),
        ({"tz": "Mars/Olympus"}, "We do not know the time zone"),
    ],
)
def test_bad_widget_input_is_explained_not_a_500(
    client: Any, maya: dict[str, Any], params: dict[str, str], note: str
) -> None:
    response = client.get(page_url(maya, service=str(maya["service"]["id"]), **params))
    assert response.status_code == 200 and note in response.get_data(as_text=True)


def test_unknown_professionals_and_services(
    client: Any, maya: dict[str, Any], make_user: Any
) -> None:
    missing = client.get("/p/nobody-000000")
    assert missing.status_code == 404
    assert "We could not find that page" in missing.get_data(as_text=True)
    sam = make_user(role="client")
    assert client.get("/p/" + "x" * 70).status_code == 404
    assert client.get(f"/p/{sam.email}").status_code == 404
    html = client.get(page_url(maya, service="99999")).get_data(as_text=True)
    assert "That service is not offered here" in html
    assert client.get(f"/p/{maya['user'].principal}/book?service=99999&start=x").status_code == 404
    assert client.get(f"/p/{maya['user'].principal}/book?service=abc").status_code == 404


def test_a_visitor_books_and_gets_an_account_on_the_fly(
    client: Any, database: Any, maya: dict[str, Any]
) -> None:
    start = at(maya["day"], "10:40")
    url = book_url(maya, start, tz="America/New_York")
    form = client.get(url).get_data(as_text=True)
    assert "Confirm your booking" in form and "(America/New York)" in form
    assert 'for="name"' in form and 'for="email"' in form and 'for="password"' in form
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "name": "Sam Client",
            "email": "sam@example.org",
            "password": TEST_PASSWORD,
            "note": "First time.",
        },
    )
    assert response.status_code == 302
    assert re.fullmatch(r"/bookings/\d+/confirmed", response.headers["Location"])
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You are booked" in confirmation and "Sign out" in confirmation  # signed in
    assert "(America/New York)" in confirmation
    with database.session() as session:
        booking = session.scalar(select(Booking))
        sam = session.scalar(select(User).where(User.email == "sam@example.org"))
        assert booking is not None and sam is not None and sam.is_client
        assert booking.client_id == sam.id and booking.start == start
        assert (
            booking.client_note == "First time." and booking.client_timezone == "America/New_York"
        )
        assert sam.timezone == "America/New_York"


def test_the_confirmation_offers_an_ics_file_and_a_google_link(
    client: Any, maya: dict[str, Any], make_user: Any
) -> None:
    sam = make_user(role="client", name="Sam Client")
    login(client, sam)
    start = at(maya["day"], "09:00")
    url = book_url(maya, start)
    done = client.post(url, data={"csrf_token": csrf_token(client, url), "note": ""})
    assert done.status_code == 302
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    google = re.search(r'href="(https://calendar\.google\.com/calendar/render\?[^"]+)"', html)
    assert google is not None
    params = parse_qs(urlsplit(google.group(1).replace("&amp;", "&")).query)
    assert params["action"] == ["TEMPLATE"]
    assert params["text"] == ["Therapy session with Maya Lindqvist"]
    utc_start = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert params["dates"][0].startswith(utc_start + "/")
    assert "/bookings/" in params["details"][0]
    ics_link = re.search(r'href="(/bookings/\d+/event\.ics)"', html)
    assert ics_link is not None
    ics = client.get(ics_link.group(1))
    assert ics.mimetype == "text/calendar"
    assert "attachment" in ics.headers["Content-Disposition"]
    event = icalendar.Calendar.from_ical(ics.data).walk("VEVENT")[0]
    assert event.decoded("DTSTART") == start
    assert str(event["SUMMARY"]) == "Therapy session with Maya Lindqvist"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_booking_form_errors_keep_the_input(client: Any, maya: dict[str, Any]) -> None:
    url = book_url(maya, at(maya["day"], "09:00"))
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "name": "Sam",
            "email": "not-an-email",
            "password": "short",
            "note": "Keep me",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="email-error"' in html and "Enter a valid email address." in html
    assert 'id="password-error"' in html and "at least 10 characters" in html.lower()
    assert 'value="Sam"' in html and "Keep me</textarea>" in html
    assert '"None"' not in html


def test_an_existing_email_must_sign_in_instead(
    client: Any, database: Any, maya: dict[str, Any], make_user: Any
) -> None:
    sam = make_user(role="client", email="sam@example.org")
    url = book_url(maya, at(maya["day"], "09:00"))
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client, url),
            "name": "Sam",
            "email": "SAM@example.org",
            "password": TEST_PASSWORD,
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "An account with this email already exists. Sign in to book with it." in html
    sign_in = re.search(r'href="(/login\?next=[^"]+)">Sign in</a>', html)
    assert sign_in is not None and "/book?service" in sign_in.group(1)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 0
    # Signing in there leads back to the form, which now books with the account.
    login_page = sign_in.group(1).replace("&amp;", "&")
    back = client.post(
        login_page,
        data={
            "csrf_token": csrf_token(client, login_page),
            "email": sam.email,
            "password": TEST_PASSWORD,
        },
    )
    assert back.status_code == 302 and "/book?" in back.headers["Location"]
    assert "Booking as <strong>Client</strong>" in client.get(back.headers["Location"]).get_data(
        as_text=True
    )


def test_a_slot_taken_meanwhile_is_a_clear_error(
    client: Any, database: Any, maya: dict[str, Any], make_user: Any
) -> None:
    start = at(maya["day"], "09:00")
    url = book_url(maya, start)
    sam, kim = make_user(role="client"), make_user(role="client")
    login(client, sam)
    token = csrf_token(client, url)
    other = client.application.test_client()
    login(other, kim)
    assert other.post(url, data={"csrf_token": csrf_token(other, url)}).status_code == 302
    response = client.post(url, data={"csrf_token": token})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This time is no longer available" in html or "just taken" in html
    assert client.get(url).get_data(as_text=True).count("no longer available") == 1


def test_nonsense_booking_input_is_not_a_500(
    client: Any, database: Any, maya: dict[str, Any]
) -> None:
    principal = maya["user"].principal
    service = maya["service"]["id"]
    assert client.get(f"/p/{principal}/book?service={service}&start=yesterday").status_code == 400
    # A start that is not on the grid is "no longer available", not booked.
    odd = book_url(maya, at(maya["day"], "09:07"))
    assert "This time is no longer available" in client.get(odd).get_data(as_text=True)
    # Posting it anyway books nothing and creates no account.
    response = client.post(
        odd,
        data={
            "csrf_token": csrf_token(client, "/login"),
            "name": "Sam",
            "email": "new@example.org",
            "password": TEST_PASSWORD,
        },
    )
    assert response.status_code == 409
    assert "This time is no longer available" in response.get_data(as_text=True)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1  # Maya only
        assert session.scalar(select(func.count()).select_from(Booking)) == 0
    # Without the CSRF token the form is refused.
    refused = client.post(book_url(maya, at(maya["day"], "09:00")), data={})
    assert refused.status_code == 400 and "This form has expired" in refused.get_data(as_text=True)


def test_professionals_cannot_book_themselves(client: Any, maya: dict[str, Any]) -> None:
    login(client, maya["user"])
    url = book_url(maya, at(maya["day"], "09:00"))
    response = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert response.status_code == 409
    assert "You cannot book your own service." in response.get_data(as_text=True)


def test_group_classes_show_sessions_with_places_left(
    client: Any, database: Any, make_user: Any
) -> None:
    ana, headers, [yoga] = make_professional(
        client,
        database,
        make_user,
        name="Ana Souza",
        services=[group_class(title="Yoga", capacity=3, price={"amount": 0, "currency": "EUR"})],
    )
    day = next_weekday(2, weeks_ahead=2)
    created = client.post(
        f"/api/v1/services/{yoga['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=4"},
        headers=headers,
    )
    assert created.status_code == 201
    html = client.get(f"/p/{ana.principal}?service={yoga['id']}&month={day:%Y-%m}").get_data(
        as_text=True
    )
    assert "3 places left" in html and "group class, up to 3 people" in html
    sam = make_user(role="client")
    login(client, sam)
    url = booking_link(ana.principal, yoga["id"], at(day, "18:00"), "Europe/Berlin")
    assert "3 places left" in client.get(url).get_data(as_text=True)
    assert client.post(url, data={"csrf_token": csrf_token(client, url)}).status_code == 302
    html = client.get(f"/p/{ana.principal}?service={yoga['id']}&month={day:%Y-%m}").get_data(
        as_text=True
    )
    assert "2 places left" in html


def test_a_profile_photo_is_served_with_safe_headers(
    client: Any, maya: dict[str, Any], settings: Any
) -> None:
    from directory import photos
    from tests.web.pages.helpers import png_bytes

    name = photos.store_photo(settings.data_dir, maya["user"].id, photos.prepare_photo(png_bytes()))
    for url in (f"/photos/{name}", f"/photos/{photos.small_name(name)}"):
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/webp"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age=31536000" in response.headers["Cache-Control"]
    # A photo stored before re-encoding (one file, as uploaded) is still served.
    legacy = f"{maya['user'].id}-0123456789abcdef.png"
    (settings.data_dir / "photos" / legacy).write_bytes(png_bytes())
    response = client.get(f"/photos/{legacy}")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == png_bytes()
    assert client.get("/photos/..%2Fsecret_key").status_code == 404
    assert client.get("/photos/1-0000000000000000.png").status_code == 404
