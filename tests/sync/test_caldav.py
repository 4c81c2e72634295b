"""Mirroring a calendar from another CalDAV server: a stock Radicale of its own, with
htpasswd authentication, started by the tests on loopback."""

from __future__ import annotations

import base64
from datetime import UTC
from typing import Any

from booking.models import Booking
from caldav_server.store import CalendarStore
from sync.models import ExternalCalendar
from tests.factories import at, bearer, iso, next_weekday, setup_professional
from tests.sync.helpers import (
    connect,
    get_connection,
    slot_times,
    sync_now,
    vcalendar,
    vevent,
    wait_for,
)
from tests.sync.servers.radicale import PASSWORD, USER, ExternalRadicale

ALL_DAY = ["09:00", "09:50", "10:40", "11:30", "12:20", "13:10", "14:00", "14:50", "15:40"]


def _mirror_texts(database: Any, path: str) -> list[str]:
    with database.session() as session:
        return [item.text for item in CalendarStore(session).list_items(path)]


def test_events_added_moved_and_deleted_upstream_change_the_slots(
    client: Any, database: Any, make_user: Any, radicale: ExternalRadicale
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    work = radicale.new_calendar(display="Work")
    connection = connect(client, headers, kind="caldav", url=work, username=USER, password=PASSWORD)
    assert connection["status"] == "ok", connection
    assert connection["name"] == "CalDAV — Work"
    assert connection["mirror"]["events"] == 0
    assert slot_times(client, service["id"], day) == ALL_DAY

    # Added upstream: the slots it overlaps disappear after the next sync.
    radicale.put(work, "dentist", vcalendar(vevent("dentist", at(day, "10:00"), at(day, "11:00"))))
    synced = sync_now(client, headers, connection["id"])
    assert synced["status"] == "ok" and synced["mirror"]["events"] == 1
    assert slot_times(client, service["id"], day) == [
        t for t in ALL_DAY if t not in ("09:50", "10:40")
    ]
    # Only what blocks time was copied: no title (not opted in), description or attendee.
    mirror_path = synced["mirror"]["path"].strip("/").removeprefix("dav/")
    (text,) = _mirror_texts(database, mirror_path)
    assert "DTSTART" in text and "Dentist" not in text
    assert "DESCRIPTION" not in text and "ATTENDEE" not in text

    # Moved upstream.
    radicale.put(work, "dentist", vcalendar(vevent("dentist", at(day, "15:00"), at(day, "16:00"))))
    sync_now(client, headers, connection["id"])
    assert slot_times(client, service["id"], day) == [
        t for t in ALL_DAY if t not in ("14:50", "15:40")
    ]

    # Deleted upstream.
    radicale.delete(work, "dentist")
    synced = sync_now(client, headers, connection["id"])
    assert synced["mirror"]["events"] == 0
    assert slot_times(client, service["id"], day) == ALL_DAY

    # Incremental: the server's RFC 6578 sync token is kept, and a sync with nothing new
    # changes nothing in the mirror (its own sync token stays the same).
    with database.session() as session:
        row = session.get(ExternalCalendar, connection["id"])
        assert row is not None and row.sync_token.startswith("http://radicale.org/ns/sync/")
        before = CalendarStore(session).sync_token(mirror_path)
    sync_now(client, headers, connection["id"])
    with database.session() as session:
        assert CalendarStore(session).sync_token(mirror_path) == before


def test_server_address_recurring_events_and_titles(
    client: Any, database: Any, make_user: Any, radicale: ExternalRadicale
) -> None:
    """A server URL finds the user's calendar; an override moves one occurrence;
    titles are copied when the professional opts in."""
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(2)
    owner = radicale.new_user()
    # Discovery skips a calendar that cannot hold events.
    radicale.new_calendar("a-tasks", "Tasks", user=owner, components="VTODO")
    calendar = radicale.new_calendar("b-private", "Private", user=owner)
    weekly = vcalendar(
        vevent(
            "gym",
            f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T090000",
            f"DTEND;TZID=Europe/Berlin:{day:%Y%m%d}T100000",
            summary="Gym",
            extra=["RRULE:FREQ=WEEKLY;COUNT=4"],
        ),
        vevent(
            "gym",
            f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T120000",
            f"DTEND;TZID=Europe/Berlin:{day:%Y%m%d}T130000",
            summary="Gym (moved)",
            extra=[f"RECURRENCE-ID;TZID=Europe/Berlin:{day:%Y%m%d}T090000"],
        ),
    )
    radicale.put(calendar, "gym", weekly, user=owner)
    connection = connect(
        client,
        headers,
        kind="caldav",
        url=f"{radicale.url}/{owner[0]}/",
        username=owner[0],
        password=owner[1],
        show_titles=True,
    )
    assert connection["name"] == "CalDAV — Private"
    assert connection["status"] == "ok", connection
    # The override moved this week's occurrence to noon; next week's stays at nine.
    this_week = slot_times(client, service["id"], day)
    assert "09:00" in this_week and "12:20" not in this_week and "11:30" not in this_week
    next_week = slot_times(client, service["id"], next_weekday(2, weeks_ahead=2))
    assert "09:00" not in next_week and "12:20" in next_week
    path = connection["mirror"]["path"].strip("/").removeprefix("dav/")
    (text,) = _mirror_texts(database, path)
    assert "SUMMARY:Gym" in text and "RRULE:FREQ=WEEKLY;COUNT=4" in text
    assert "TZID=Europe/Berlin" in text and "BEGIN:VTIMEZONE" in text


def test_bad_password_is_recorded_retried_later_and_keeps_the_mirror(
    client: Any, database: Any, make_user: Any, radicale: ExternalRadicale
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    work = radicale.new_calendar()
    radicale.put(work, "busy", vcalendar(vevent("busy", at(next_weekday(1), "10:00"))))
    good = connect(client, headers, kind="caldav", url=work, username=USER, password=PASSWORD)
    assert good["mirror"]["events"] == 1
    wrong = connect(client, headers, kind="caldav", url=work, username=USER, password="nope")
    assert wrong["status"] == "error"
    assert "password" in wrong["last_error"]
    assert wrong["failure_count"] == 1 and wrong["last_sync_at"] is None
    assert wrong["next_sync_at"] > wrong["last_attempt_at"]
    # The other calendar is unaffected, and a failing sync keeps what a mirror has.
    assert get_connection(client, headers, good["id"])["status"] == "ok"
    with database.session() as session:
        row = session.get(ExternalCalendar, good["id"])
        assert row is not None
        row.username = "someone-else"
    failed = sync_now(client, headers, good["id"])
    assert failed["status"] == "error" and failed["mirror"]["events"] == 1
    assert failed["failure_count"] == 1


def test_the_mirror_is_read_only_for_calendar_apps(
    client: Any, database: Any, make_user: Any, radicale: ExternalRadicale
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    work = radicale.new_calendar()
    connection = connect(client, headers, kind="caldav", url=work, username=USER, password=PASSWORD)
    path = connection["mirror"]["path"]
    token = base64.b64encode(f"{pro.email}:{pro.test_password}".encode()).decode()
    auth = {"Authorization": f"Basic {token}"}
    listing = client.open(path, method="PROPFIND", headers={**auth, "Depth": "0"})
    assert listing.status_code == 207
    put = client.put(
        f"{path}x.ics",
        data=vcalendar(vevent("x", at(next_weekday(1), "10:00"))),
        headers={**auth, "Content-Type": "text/calendar"},
    )
    assert put.status_code == 403


def test_bookings_are_written_back_to_a_caldav_calendar(
    client: Any, database: Any, make_user: Any, radicale: ExternalRadicale
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    work = radicale.new_calendar()
    connection = connect(
        client,
        headers,
        kind="caldav",
        url=work,
        username=USER,
        password=PASSWORD,
        writeback=True,
    )
    assert connection["writeback"] is True
    sam = bearer(database, make_user(role="client", name="Sam"))
    day = next_weekday(4)
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "12:20"))},
        headers=sam,
    )
    assert booked.status_code == 201, booked.get_json()
    booking = booked.get_json()
    with database.session() as session:
        uid = session.get(Booking, booking["id"]).event_uid  # type: ignore[union-attr]
    event_url = f"{work}{uid}.ics"
    pushed = wait_for(lambda: (r := radicale.get(event_url)).status_code == 200 and r.text)
    assert "SUMMARY:Therapy session with Sam" in pushed
    assert f"DTSTART:{at(day, '12:20').astimezone(UTC):%Y%m%dT%H%M%SZ}" in pushed

    # Not mirrored back: the booking already blocks its slot.
    assert sync_now(client, headers, connection["id"])["mirror"]["events"] == 0

    client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start": iso(at(day, "14:00"))},
        headers=sam,
    )
    moved = f"DTSTART:{at(day, '14:00').astimezone(UTC):%Y%m%dT%H%M%SZ}"
    wait_for(lambda: moved in radicale.get(event_url).text)
    client.post(f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=sam)
    wait_for(lambda: radicale.get(event_url).status_code == 404)
