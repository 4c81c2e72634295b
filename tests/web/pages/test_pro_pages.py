"""The professional's pages: onboarding, profile with photo, services and group
sessions, the hours editor with overrides and preview, the dashboard, and
"Connect your calendar"."""

from __future__ import annotations

import io
import re
from datetime import UTC
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from accounts.models import AppPassword, User
from booking.models import GroupSession, Service
from caldav_server.store import CalendarStore
from directory import photos
from directory.profiles import get_profile
from tests.factories import at, bearer, group_class, iso, next_weekday
from tests.helpers import TEST_PASSWORD, csrf_token, login
from tests.web.pages.helpers import jpeg_with_gps, make_professional, png_bytes


def post(
    client: Any, path: str, data: dict[str, Any], form_page: str | None = None, **kw: Any
) -> Any:
    """POST ``data`` with the CSRF token read from ``form_page`` (default ``path``)."""
    return client.post(
        path, data={"csrf_token": csrf_token(client, form_page or path), **data}, **kw
    )


@pytest.fixture
def pro(client: Any, database: Any, make_user: Any) -> Any:
    user, _, _ = make_professional(client, database, make_user, name="Maya Lindqvist", services=[])
    login(client, user)
    return user


def hours_form(**days: list[tuple[str, str]]) -> dict[str, str]:
    data = {"timezone": "Europe/Berlin"}
    for key, ranges in days.items():
        data[f"{key}-open"] = "on"
        for index, (start, end) in enumerate(ranges):
            data[f"{key}-{index}-start"], data[f"{key}-{index}-end"] = start, end
    return data


def test_a_new_professional_is_taken_through_onboarding(client: Any, database: Any) -> None:
    registered = post(
        client,
        "/register",
        {
            "name": "Ken Watanabe",
            "email": "ken@example.org",
            "password": TEST_PASSWORD,
            "role": "professional",
            "timezone": "Asia/Tokyo",
        },
    )
    assert registered.status_code == 302 and registered.headers["Location"] == "/pro/welcome"
    welcome = client.get("/pro/welcome").get_data(as_text=True)
    assert "Welcome, Ken" in welcome and welcome.count("(to do)") == 3

    profile = post(
        client,
        "/pro/profile?onboarding=1",
        {
            "headline": "Japanese tutor",
            "bio": "Patient.",
            "categories": ["languages"],
            "languages": ["ja", "en"],
            "timezone": "Asia/Tokyo",
        },
    )
    assert profile.status_code == 302
    assert profile.headers["Location"] == "/pro/services/new?onboarding=1"
    service = post(
        client,
        "/pro/services/new?onboarding=1",
        {
            "kind": "one_on_one",
            "title": "Japanese lesson",
            "duration_minutes": "30",
            "price": "0",
            "currency": "USD",
            "horizon_days": "60",
            "is_published": "y",
        },
    )
    assert service.status_code == 302 and service.headers["Location"] == "/pro/hours?onboarding=1"
    hours = post(
        client, "/pro/hours?onboarding=1", hours_form(mon=[("09:00", "12:00")]), "/pro/hours"
    )
    assert hours.status_code == 302 and hours.headers["Location"] == "/pro/welcome?done=1"
    done = client.get("/pro/welcome?done=1").get_data(as_text=True)
    assert "You are ready for bookings" in done and done.count("(done)") == 3
    with database.session() as session:
        ken = session.scalar(select(User).where(User.email == "ken@example.org"))
        assert ken is not None and ken.is_professional
        assert get_profile(session, ken.id).languages == ["en", "ja"]


def test_profile_errors_sit_next_to_the_fields_and_input_is_kept(client: Any, pro: Any) -> None:
    response = post(
        client,
        "/pro/profile",
        {
            "headline": "",
            "bio": "Kept bio",
            "categories": ["astrology"],
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="headline-error"' in html and "Write one line" in html
    assert 'id="languages-error"' in html and "Pick at least one language" in html
    assert 'id="categories-error"' in html
    assert "Kept bio</textarea>" in html


def test_photo_upload_is_checked_by_content(
    client: Any, database: Any, pro: Any, settings: Any
) -> None:
    base = {"headline": "Therapist", "languages": ["en"], "timezone": "Europe/Berlin"}
    fake = post(
        client,
        "/pro/profile",
        {**base, "photo": (io.BytesIO(b"%PDF-1.4 not a picture"), "me.png")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422
    assert 'id="photo-error"' in fake.get_data(as_text=True)
    assert "Use a PNG, JPEG or WebP picture." in fake.get_data(as_text=True)
    huge = post(
        client,
        "/pro/profile",
        {**base, "photo": (io.BytesIO(png_bytes() + b"\0" * 2_200_000), "me.png")},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 422 and "use a picture of at most 2 MB" in huge.get_data(
        as_text=True
    )
    good = post(
        client,
        "/pro/profile",
        {**base, "photo": (io.BytesIO(png_bytes()), "whatever.pdf")},
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    with database.session() as session:
        name = get_profile(session, pro.id).photo_filename
    assert name and name.endswith("-512.webp")
    page = client.get(f"/p/{pro.principal}").get_data(as_text=True)
    assert f'src="/photos/{name}"' in page and 'alt="Photo of Maya Lindqvist"' in page
    assert client.get(f"/photos/{name}").mimetype == "image/webp"  # re-encoded
    removed = post(client, "/pro/profile", {**base, "remove_photo": "y"})
    assert removed.status_code == 302
    for file in (name, photos.small_name(name)):
        assert client.get(f"/photos/{file}").status_code == 404  # the files are gone too
        assert not (settings.data_dir / "photos" / file).exists()


def test_a_decompression_bomb_is_refused_beside_the_field_with_the_real_numbers(
    client: Any, database: Any, pro: Any, settings: Any
) -> None:
    base = {"headline": "Therapist", "languages": ["en"], "timezone": "Europe/Berlin"}
    upload = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(upload, "PNG")  # 144 megapixels, a few KB
    upload.seek(0)
    response = post(
        client,
        "/pro/profile",
        {**base, "photo": (upload, "me.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'id="photo-error"[^>]*>(.*?)<', html, re.S)
    assert error is not None, html
    assert error.group(1).strip() == (
        "This picture is 12000 × 12000 pixels (144.0 megapixels); use one of at most 25 megapixels."
    )
    assert "at most 2 MB and 25 megapixels" in html  # the hint says so beforehand
    with database.session() as session:
        assert get_profile(session, pro.id).photo_filename is None
    assert not (settings.data_dir / "photos").exists() or not any(
        (settings.data_dir / "photos").iterdir()
    )


def test_an_uploaded_photo_keeps_no_exif_and_is_stored_in_both_sizes(
    client: Any, database: Any, pro: Any, settings: Any
) -> None:
    base = {"headline": "Therapist", "languages": ["en"], "timezone": "Europe/Berlin"}
    response = post(
        client,
        "/pro/profile",
        {**base, "photo": (io.BytesIO(jpeg_with_gps(1600, 1200)), "IMG_0001.JPG")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with database.session() as session:
        name = get_profile(session, pro.id).photo_filename
    assert name
    for file, size in ((name, 512), (photos.small_name(name), 96)):
        data = (settings.data_dir / "photos" / file).read_bytes()
        image = Image.open(io.BytesIO(data))
        assert image.format == "WEBP" and image.size == (size, size)
        assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
        assert b"SecretPhone" not in data


def test_services_are_created_edited_unpublished_and_deleted(
    client: Any, database: Any, pro: Any
) -> None:
    bad = post(
        client,
        "/pro/services/new",
        {
            "kind": "one_on_one",
            "title": " ",
            "duration_minutes": "x",
            "price": "lots",
            "currency": "EUR",
            "buffer_before_minutes": "-5",
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="duration_minutes-error"' in html and 'id="price-error"' in html
    assert 'value="lots"' in html

    bad_rules = post(
        client,
        "/pro/services/new",
        {
            "kind": "one_on_one",
            "title": "Therapy",
            "duration_minutes": "50",
            "price": "0",
            "currency": "EUR",
            "buffer_before_minutes": "-5",
            "horizon_days": "999",
        },
    )
    assert bad_rules.status_code == 422
    assert 'id="buffer_before_minutes-error"' in bad_rules.get_data(as_text=True)
    assert 'id="horizon_days-error"' in bad_rules.get_data(as_text=True)

    # A paid service kept unpublished (publishing a paid one needs online payment,
    # which this test platform has not set up).
    made = post(
        client,
        "/pro/services/new",
        {
            "kind": "one_on_one",
            "title": "Therapy session",
            "duration_minutes": "50",
            "price": "89,50",
            "currency": "EUR",
            "min_notice_hours": "24",
            "horizon_days": "60",
        },
    )
    assert made.status_code == 302
    with database.session() as session:
        service = session.scalar(select(Service))
        assert (service.price_amount, service.min_notice_minutes) == (8950, 24 * 60)
        assert not service.is_published
        service_id = service.id
    listing = client.get("/pro/services").get_data(as_text=True)
    assert "Therapy session" in listing and "€89.50" in listing and "Unpublished" in listing
    assert 'value="89.50"' in client.get(f"/pro/services/{service_id}").get_data(as_text=True)

    edited = post(
        client,
        f"/pro/services/{service_id}",
        {
            "title": "Long session",
            "duration_minutes": "80",
            "price": "0",
            "currency": "EUR",
            "horizon_days": "60",
            "is_published": "y",
        },
    )
    assert edited.status_code == 302
    listing = client.get("/pro/services").get_data(as_text=True)
    assert "Long session" in listing and "Published" in listing and "80 min" not in listing
    assert "1 h 20 min · Free" in listing

    unpublished = post(
        client, f"/pro/services/{service_id}/publish", {"publish": "0"}, "/pro/services"
    )
    assert unpublished.status_code == 302
    assert "Unpublished" in client.get("/pro/services").get_data(as_text=True)
    assert "Long session" not in client.get(f"/p/{pro.principal}").get_data(as_text=True)
    post(client, f"/pro/services/{service_id}/publish", {"publish": "1"}, "/pro/services")
    assert "Long session" in client.get(f"/p/{pro.principal}").get_data(as_text=True)

    deleted = post(client, f"/pro/services/{service_id}/delete", {}, "/pro/services")
    assert deleted.status_code == 302
    assert "No services yet" in client.get("/pro/services").get_data(as_text=True)
    assert client.get(f"/pro/services/{service_id}").status_code == 404


def test_group_classes_get_one_off_and_recurring_sessions(
    client: Any, database: Any, pro: Any
) -> None:
    made = post(
        client,
        "/pro/services/new",
        {
            "kind": "group",
            "title": "Morning yoga",
            "duration_minutes": "60",
            "capacity": "12",
            "price": "0",
            "currency": "EUR",
            "horizon_days": "90",
            "is_published": "y",
        },
    )
    assert made.status_code == 302 and "/sessions" in made.headers["Location"]
    sessions_url = made.headers["Location"].split("?")[0]
    day = next_weekday(3, weeks_ahead=2)
    once = post(client, sessions_url, {"day": day.isoformat(), "time": "07:30", "repeat": "none"})
    assert once.status_code == 302
    weekly = post(
        client,
        sessions_url,
        {"day": day.isoformat(), "time": "18:00", "repeat": "weekly", "count": "4"},
    )
    assert weekly.status_code == 302
    page = client.get(sessions_url).get_data(as_text=True)
    assert page.count("12 of 12 places left") == 5
    assert "07:30–08:30 (Europe/Berlin)" in page
    with database.session() as session:
        rules = sorted(str(s.rrule) for s in session.scalars(select(GroupSession)))
        assert rules == ["FREQ=WEEKLY;COUNT=4", "None"]

    too_few = post(
        client,
        sessions_url,
        {"day": day.isoformat(), "time": "18:00", "repeat": "weekly", "count": "1"},
    )
    assert too_few.status_code == 422 and "Repeat between 2 and 104 times." in too_few.get_data(
        as_text=True
    )
    past = post(client, sessions_url, {"day": "2020-01-01", "time": "18:00", "repeat": "none"})
    assert past.status_code == 422 and "must start in the future" in past.get_data(as_text=True)
    garbage = post(client, sessions_url, {"day": "soon", "time": "25:99", "repeat": "none"})
    assert garbage.status_code == 422 and 'id="day-error"' in garbage.get_data(as_text=True)


def test_the_hours_editor_saves_several_intervals_and_explains_mistakes(
    client: Any, database: Any, pro: Any
) -> None:
    saved = post(
        client,
        "/pro/hours",
        hours_form(mon=[("09:00", "12:00"), ("13:00", "17:00")], sat=[("10:00", "00:00")]),
    )
    assert saved.status_code == 302
    availability = client.get("/api/v1/availability", headers=bearer(database, pro)).get_json()
    assert availability["weekly"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert availability["weekly"]["sat"] == [["10:00", "24:00"]]
    assert availability["weekly"]["tue"] == []
    page = client.get("/pro/hours").get_data(as_text=True)
    assert 'name="mon-1-start" value="13:00"' in page and 'name="mon-open" checked' in page

    overlapping = post(
        client,
        "/pro/hours",
        hours_form(
            mon=[("09:00", "12:00"), ("11:00", "13:00")],
            tue=[("15:00", "14:00")],
            wed=[("09:00", "")],
        ),
        "/pro/hours",
    )
    assert overlapping.status_code == 422
    html = overlapping.get_data(as_text=True)
    assert 'id="wed-0-error"' in html and "Give both a start and an end time." in html
    assert 'value="11:00"' in html  # input kept
    only_core = post(
        client,
        "/pro/hours",
        hours_form(mon=[("09:00", "12:00"), ("11:00", "13:00")], tue=[("15:00", "14:00")]),
        "/pro/hours",
    )
    html = only_core.get_data(as_text=True)
    assert only_core.status_code == 422
    assert 'id="mon-1-error"' in html and "overlaps another interval" in html
    assert 'id="tue-0-error"' in html and "The end must be after the start" in html
    bad_zone = post(
        client, "/pro/hours", {**hours_form(mon=[("09:00", "12:00")]), "timezone": "Mars/Base"}
    )
    assert bad_zone.status_code == 422 and "Choose your time zone" in bad_zone.get_data(
        as_text=True
    )
    # Nothing was written by the failed attempts.
    availability = client.get("/api/v1/availability", headers=bearer(database, pro)).get_json()
    assert availability["weekly"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]


def test_date_overrides_and_the_preview(client: Any, database: Any, pro: Any) -> None:
    every_day = {
        day: [("09:00", "17:00")] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    assert post(client, "/pro/hours", hours_form(**every_day)).status_code == 302
    post(
        client,
        "/pro/services/new",
        {
            "kind": "one_on_one",
            "title": "Call",
            "duration_minutes": "60",
            "price": "0",
            "currency": "EUR",
            "horizon_days": "60",
            "is_published": "y",
        },
    )
    holiday, short_day = next_weekday(1, weeks_ahead=3), next_weekday(2, weeks_ahead=3)
    closed = post(
        client,
        "/pro/hours/overrides",
        {"date": holiday.isoformat(), "mode": "closed"},
        "/pro/hours",
    )
    assert closed.status_code == 302
    different = post(
        client,
        "/pro/hours/overrides",
        {
            "date": short_day.isoformat(),
            "mode": "hours",
            "override-0-start": "10:00",
            "override-0-end": "11:00",
        },
        "/pro/hours",
    )
    assert different.status_code == 302
    availability = client.get("/api/v1/availability", headers=bearer(database, pro)).get_json()
    assert {"date": holiday.isoformat(), "intervals": []} in availability["overrides"]
    assert {"date": short_day.isoformat(), "intervals": [["10:00", "11:00"]]} in availability[
        "overrides"
    ]
    page = client.get("/pro/hours").get_data(as_text=True)
    assert f"{holiday:%A} {holiday.day} {holiday:%B %Y}" in page and "10:00–11:00" in page
    # The preview lists the bookable start times of the next days.
    preview = page.split('id="preview-heading"')[1]
    assert preview.count('data-testid="preview-day"') == 7
    assert "<li>09:00</li>" in preview or "<li>10:00</li>" in preview

    for data, message in (
        ({"date": "someday", "mode": "closed"}, "Pick the date to change."),
        ({"date": "2020-01-01", "mode": "closed"}, "Pick today or a later date."),
        ({"date": short_day.isoformat(), "mode": "hours"}, "Give the hours for that date"),
        (
            {"date": short_day.isoformat(), "mode": "hours", "override-0-start": "10:00"},
            "Give both a start and an end",
        ),
        ({"date": short_day.isoformat(), "mode": "maybe"}, "Choose “Closed all day”"),
    ):
        response = post(client, "/pro/hours/overrides", data, "/pro/hours")
        assert response.status_code == 422 and message in response.get_data(as_text=True), data

    removed = post(client, f"/pro/hours/overrides/{holiday.isoformat()}/delete", {}, "/pro/hours")
    assert removed.status_code == 302
    availability = client.get("/api/v1/availability", headers=bearer(database, pro)).get_json()
    assert holiday.isoformat() not in [o["date"] for o in availability["overrides"]]
    assert (
        post(client, "/pro/hours/overrides/1999-01-01/delete", {}, "/pro/hours").status_code == 404
    )


def test_the_dashboard_shows_bookings_classes_and_busy_time(
    client: Any, database: Any, make_user: Any
) -> None:
    maya, headers, [therapy, yoga] = make_professional(
        client,
        database,
        make_user,
        name="Maya Lindqvist",
        services=[
            {"kind": "one_on_one", "title": "Therapy", "duration_minutes": 50, "horizon_days": 365},
            group_class(
                title="Breathing class", capacity=6, price={"amount": 0, "currency": "EUR"}
            ),
        ],
    )
    day = next_weekday(2, weeks_ahead=2)
    client.post(
        f"/api/v1/services/{yoga['id']}/sessions",
        json={"start": iso(at(day, "16:00"))},
        headers=headers,
    )
    sam = make_user(role="client", name="Sam Client")
    booked = client.post(
        "/api/v1/bookings",
        json={
            "service_id": therapy["id"],
            "start": iso(at(day, "10:40")),
            "client_note": "Bring notes",
        },
        headers=bearer(database, sam),
    )
    assert booked.status_code == 201
    seat = client.post(
        "/api/v1/bookings",
        json={"service_id": yoga["id"], "start": iso(at(day, "16:00"))},
        headers=bearer(database, sam),
    )
    assert seat.status_code == 201
    dentist = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:d@test\r\n"
        "DTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{at(day, '13:00').astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
        "DURATION:PT1H\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with database.session() as session:
        store = CalendarStore(session)
        store.create_calendar(f"{maya.principal}/personal", {"D:displayname": "Personal"})
        store.put_item(f"{maya.principal}/personal", dentist, actor=f"dav:{maya.principal}")
    login(client, maya)
    week = client.get(f"/pro?date={day.isoformat()}").get_data(as_text=True)
    assert "<strong>Sam Client</strong>" in week and "10:40 · Therapy" in week
    assert "10:40–11:30 Therapy" in week and "Bring notes" in week  # the agenda for phones
    assert "13:00–14:00 Busy (from your calendar)" in week and "Dentist" not in week
    assert "Breathing class" in week and "1 of 6 places booked" in week
    assert "2 bookings or classes this week" in week and "times in Europe/Berlin" in week
    day_view = client.get(f"/pro?view=day&date={day.isoformat()}").get_data(as_text=True)
    assert f"{day:%A} {day.day} {day:%B %Y}" in day_view and "10:40 · Therapy" in day_view
    assert (
        'data-testid="upcoming"' in day_view
        and "Sam Client" in day_view.split('id="upcoming-heading"')[1]
    )
    odd = client.get("/pro?view=month&date=never")
    assert odd.status_code == 200
    assert "Unknown view" in odd.get_data(
        as_text=True
    ) and "That date is not valid" in odd.get_data(as_text=True)


def test_connect_calendar_page_app_passwords_and_feed(client: Any, database: Any, pro: Any) -> None:
    page = client.get("/pro/calendar").get_data(as_text=True)
    assert "http://127.0.0.1:8000/dav/" in page and f"/dav/{pro.principal}/" in page
    for app in ("Apple Calendar on a Mac", "iPhone and iPad", "Thunderbird", "Android with DAVx5"):
        assert app in page
    feed = re.search(r'data-testid="feed-url">([^<]+)<', page)
    assert feed is not None and feed.group(1).endswith(".ics")
    old_path = feed.group(1).replace("http://127.0.0.1:8000", "")
    assert client.get(old_path).status_code == 200

    empty = post(client, "/pro/calendar/app-passwords", {"name": " "}, "/pro/calendar")
    assert empty.status_code == 422 and 'id="name-error"' in empty.get_data(as_text=True)
    created = post(
        client, "/pro/calendar/app-passwords", {"name": "Maya’s iPhone"}, "/pro/calendar"
    )
    assert created.status_code == 201
    secret = re.search(r'data-testid="new-app-password">([^<]+)<', created.get_data(as_text=True))
    assert secret is not None and len(secret.group(1)) == 29
    with database.session() as session:
        app_password = session.scalar(select(AppPassword))
        assert app_password is not None and app_password.name == "Maya’s iPhone"
    revoked = post(
        client, f"/pro/calendar/app-passwords/{app_password.id}/revoke", {}, "/pro/calendar"
    )
    assert revoked.status_code == 302
    assert "can no longer sign in" in client.get("/pro/calendar").get_data(as_text=True)
    assert (
        post(client, "/pro/calendar/app-passwords/9999/revoke", {}, "/pro/calendar").status_code
        == 404
    )

    rotated = post(client, "/pro/calendar/feed/rotate", {}, "/pro/calendar")
    assert rotated.status_code == 302
    new = re.search(
        r'data-testid="feed-url">([^<]+)<', client.get("/pro/calendar").get_data(as_text=True)
    )
    assert new is not None and new.group(1) != feed.group(1)
    assert client.get(old_path).status_code == 404


def test_clients_and_visitors_cannot_open_professional_pages(client: Any, make_user: Any) -> None:
    for path in ("/pro", "/pro/profile", "/pro/hours", "/pro/calendar", "/pro/services/new"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, make_user(role="client"))
    response = client.get("/pro/hours")
    assert response.status_code == 403
    assert "This page is for professionals" in response.get_data(as_text=True)
    assert client.post("/pro/services/new", data={}).status_code == 400  # no CSRF token
