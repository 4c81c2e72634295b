"""Booking, cancelling and rescheduling through the API: the booking row and the
event in the professional's CalDAV calendar always agree."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import icalendar
import pytest
from sqlalchemy import func, select

from booking.models import Booking
from caldav_server.errors import StoreError
from caldav_server.store import CalendarStore
from tests.factories import at, bearer, group_class, iso, next_weekday, setup_professional


def event_of(database: Any, principal: str, uid: str) -> icalendar.cal.Component:
    with database.session() as session:
        item = CalendarStore(session).get_item_by_uid(f"{principal}/bookings", uid)
    assert item is not None, f"no event {uid}"
    return icalendar.Calendar.from_ical(item.text)


def master(calendar: icalendar.Calendar) -> icalendar.cal.Component:
    return next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)


@pytest.fixture
def world(client: Any, database: Any, make_user: Any) -> dict[str, Any]:
    pro, pro_headers, service = setup_professional(client, database, make_user)
    sam = make_user(role="client", name="Sam Client")
    return {
        "pro": pro,
        "pro_headers": pro_headers,
        "service": service,
        "sam": sam,
        "sam_headers": bearer(database, sam),
        "day": next_weekday(0, weeks_ahead=2),
    }


def book(
    client: Any, world: dict[str, Any], clock: str = "09:00", headers: Any = None, **extra: Any
) -> Any:
    return client.post(
        "/api/v1/bookings",
        json={"service_id": world["service"]["id"], "start": iso(at(world["day"], clock)), **extra},
        headers=headers or world["sam_headers"],
    )


def test_booking_writes_a_complete_event_to_the_bookings_calendar(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    response = book(client, world, client_note="First session, please call me Sam.")
    assert response.status_code == 201, response.get_json()
    booking = response.get_json()
    assert booking["status"] == "confirmed"
    assert datetime.fromisoformat(booking["start"]) == at(world["day"], "09:00")
    assert booking["manage_url"].startswith("http://127.0.0.1:8000/manage/")

    event = master(event_of(database, world["pro"].principal, booking["event_uid"]))
    assert event["UID"] == booking["event_uid"]
    assert str(event["STATUS"]) == "CONFIRMED" and int(event["SEQUENCE"]) == 0
    assert str(event["ORGANIZER"]).lower() == f"mailto:{world['pro'].email}"
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == f"mailto:{world['sam'].email}"
    assert attendee.params["PARTSTAT"] == "ACCEPTED" and attendee.params["CN"] == "Sam Client"
    assert "Therapy session" in str(event["SUMMARY"])
    assert "please call me Sam" in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith(f"/bookings/{booking['id']}")
    assert event.decoded("DTSTART") == at(world["day"], "09:00")


def test_a_taken_slot_is_409_and_the_slot_disappears(
    client: Any, database: Any, make_user: Any, world: dict[str, Any]
) -> None:
    assert book(client, world).status_code == 201
    other = make_user(role="client")
    response = book(client, world, headers=bearer(database, other))
    assert response.status_code == 409
    assert "just taken" in response.get_json()["error"]["message"]
    starts = [
        slot["start"]
        for slot in client.get(
            f"/api/v1/services/{world['service']['id']}/slots",
            query_string={"start": world["day"].isoformat(), "tz": "Europe/Berlin"},
        ).get_json()
    ]
    assert iso(at(world["day"], "09:00")) not in starts


@pytest.mark.parametrize(
    ("clock", "day_offset", "reason"),
    [
        ("07:00", 0, "open hours"),
        ("09:10", 0, "offered start"),
        ("09:00", -400, "too soon"),
        ("09:00", 7 * 60, "too far"),
    ],
)
def test_rule_violations_are_422(
    client: Any, world: dict[str, Any], clock: str, day_offset: int, reason: str
) -> None:
    world = {**world, "day": world["day"] + timedelta(days=day_offset)}
    response = book(client, world, clock)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "outside_booking_window"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"service_id": "one", "start": "2026-12-01T09:00:00+01:00"}, 422),
        ({"start": "2026-12-01T09:00:00+01:00"}, 422),
        ({"service_id": 1, "start": "next monday"}, 422),
        ({"service_id": 1, "start": "2026-12-01T09:00:00"}, 422),
        ({"service_id": 1, "start": "2026-12-01T09:00:00+01:00", "client_note": "x" * 5000}, 422),
        ({"service_id": 999999, "start": "2030-12-01T09:00:00+01:00"}, 404),
    ],
)
def test_bad_booking_requests_are_clear_4xx(
    client: Any, world: dict[str, Any], body: dict[str, Any], status: int
) -> None:
    response = client.post("/api/v1/bookings", json=body, headers=world["sam_headers"])
    assert response.status_code == status
    assert response.get_json()["error"]["message"]


def test_booking_needs_a_token_and_professionals_cannot_book_themselves(
    client: Any, world: dict[str, Any]
) -> None:
    assert client.post("/api/v1/bookings", json={"service_id": 1, "start": "x"}).status_code == 401
    response = book(client, world, headers=world["pro_headers"])
    assert response.status_code == 403


def test_a_failed_calendar_write_leaves_nothing_behind(
    client: Any, database: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("disk on fire")

    monkeypatch.setattr(CalendarStore, "put_object", broken)
    response = book(client, world)
    assert response.status_code == 503
    assert "not made" in response.get_json()["error"]["message"]
    monkeypatch.undo()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 0
        assert CalendarStore(session).list_items(f"{world['pro'].principal}/bookings") == []


def test_client_cancels_event_becomes_cancelled_and_slot_is_free(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    response = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "Feeling better"},
        headers=world["sam_headers"],
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled" and body["cancelled_by"] == "client"
    event = master(event_of(database, world["pro"].principal, booking["event_uid"]))
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    again = client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world["sam_headers"])
    assert again.status_code == 409
    assert book(client, world).status_code == 201  # the slot is free again


def test_professional_can_cancel_too(client: Any, world: dict[str, Any]) -> None:
    booking = book(client, world).get_json()
    response = client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=world["pro_headers"])
    assert response.status_code == 200 and response.get_json()["cancelled_by"] == "professional"
    seen = client.get(f"/api/v1/bookings/{booking['id']}", headers=world["sam_headers"]).get_json()
    assert seen["status"] == "cancelled" and seen["cancelled_by"] == "professional"


def test_reschedule_keeps_the_uid_and_bumps_sequence(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    response = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start": iso(at(world["day"], "11:30"))},
        headers=world["sam_headers"],
    )
    assert response.status_code == 200, response.get_json()
    moved = response.get_json()
    assert moved["event_uid"] == booking["event_uid"] and moved["sequence"] == 1
    event = master(event_of(database, world["pro"].principal, booking["event_uid"]))
    assert event.decoded("DTSTART") == at(world["day"], "11:30") and int(event["SEQUENCE"]) == 1
    assert book(client, world, "09:00").status_code == 201  # the old slot is free


def test_reschedule_onto_a_taken_slot_is_409(
    client: Any, database: Any, make_user: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    other = bearer(database, make_user(role="client"))
    assert book(client, world, "11:30", headers=other).status_code == 201
    response = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start": iso(at(world["day"], "11:30"))},
        headers=world["sam_headers"],
    )
    assert response.status_code == 409


def test_nobody_sees_or_changes_a_booking_that_is_not_theirs(
    client: Any, database: Any, make_user: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    for intruder in (make_user(role="client"), make_user(role="professional")):
        headers = bearer(database, intruder)
        assert client.get(f"/api/v1/bookings/{booking['id']}", headers=headers).status_code == 404
        assert (
            client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=headers).status_code
            == 404
        )
        assert client.get("/api/v1/bookings", headers=headers).get_json() == []
    assert len(client.get("/api/v1/bookings", headers=world["sam_headers"]).get_json()) == 1
    assert len(client.get("/api/v1/bookings", headers=world["pro_headers"]).get_json()) == 1


def test_signed_link_cancels_and_reschedules_without_signing_in(
    client: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    token = booking["manage_url"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/manage/{token}").get_json()["id"] == booking["id"]
    moved = client.post(
        f"/api/v1/manage/{token}/reschedule", json={"start": iso(at(world["day"], "10:40"))}
    )
    assert moved.status_code == 200 and moved.get_json()["sequence"] == 1
    page = client.get(f"/manage/{token}")
    assert page.status_code == 200 and "Cancel booking" in page.get_data(as_text=True)
    cancelled = client.post(f"/api/v1/manage/{token}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    forged = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    assert client.get(f"/api/v1/manage/{forged}").status_code == 404
    assert client.get(f"/manage/{forged}").status_code == 404


def test_professional_deleting_the_event_from_their_phone_cancels_the_booking(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    with database.session() as session:
        store = CalendarStore(session)
        item = store.get_item_by_uid(f"{world['pro'].principal}/bookings", booking["event_uid"])
        assert item is not None
        store.delete_item(
            f"{world['pro'].principal}/bookings", item.href, actor=f"dav:{world['pro'].principal}"
        )
    seen = client.get(f"/api/v1/bookings/{booking['id']}", headers=world["sam_headers"]).get_json()
    assert seen["status"] == "cancelled" and seen["cancelled_by"] == "professional"
    assert book(client, world).status_code == 201


def test_group_seats_attendees_and_capacity(client: Any, database: Any, make_user: Any) -> None:
    pro = make_user(role="professional", timezone="Europe/Berlin")
    pro_headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services", json=group_class(capacity=2), headers=pro_headers
    ).get_json()
    day = next_weekday(1, weeks_ahead=2)
    session = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=3"},
        headers=pro_headers,
    ).get_json()
    clients = [make_user(role="client") for _ in range(3)]
    second_week = iso(at(day + timedelta(days=7), "18:00"))
    results = [
        client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": second_week},
            headers=bearer(database, c),
        )
        for c in clients
    ]
    assert [r.status_code for r in results] == [201, 201, 409]
    assert "full" in results[2].get_json()["error"]["message"]
    calendar = event_of(database, pro.principal, session["event_uid"])
    override = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" in e)
    attendees = (
        override["ATTENDEE"] if isinstance(override["ATTENDEE"], list) else [override["ATTENDEE"]]
    )
    assert sorted(str(a).lower() for a in attendees) == sorted(
        f"mailto:{c.email}" for c in clients[:2]
    )
    # A client sees only their own seat, never the others.
    mine = client.get("/api/v1/bookings", headers=bearer(database, clients[0])).get_json()
    assert len(mine) == 1 and clients[1].email not in str(mine)
    # Cancelling frees the seat and takes the attendee off that occurrence.
    first_booking = results[0].get_json()
    client.post(
        f"/api/v1/bookings/{first_booking['id']}/cancel", headers=bearer(database, clients[0])
    )
    retry = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": second_week},
        headers=bearer(database, clients[2]),
    )
    assert retry.status_code == 201
    calendar = event_of(database, pro.principal, session["event_uid"])
    override = next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" in e)
    emails = {
        str(a).lower()
        for a in (
            override["ATTENDEE"]
            if isinstance(override["ATTENDEE"], list)
            else [override["ATTENDEE"]]
        )
    }
    assert f"mailto:{clients[0].email}" not in emails and f"mailto:{clients[2].email}" in emails


def test_deleting_a_service_keeps_its_bookings(client: Any, world: dict[str, Any]) -> None:
    booking = book(client, world).get_json()
    assert (
        client.delete(
            f"/api/v1/services/{world['service']['id']}", headers=world["pro_headers"]
        ).status_code
        == 204
    )
    seen = client.get(f"/api/v1/bookings/{booking['id']}", headers=world["sam_headers"])
    assert seen.status_code == 200 and seen.get_json()["status"] == "confirmed"
    assert book(client, world, "10:40").status_code == 404


def test_ics_feed_serves_bookings_and_rotation_revokes_the_old_url(
    client: Any, world: dict[str, Any]
) -> None:
    booking = book(client, world).get_json()
    feed = client.get("/api/v1/feed", headers=world["pro_headers"]).get_json()
    path = feed["url"].replace("http://127.0.0.1:8000", "")
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    assert booking["event_uid"] in {str(e["UID"]) for e in calendar.walk("VEVENT")}
    rotated = client.post("/api/v1/feed/rotate", headers=world["pro_headers"]).get_json()
    assert rotated["url"] != feed["url"]
    assert client.get(path).status_code == 404
    assert client.get(rotated["url"].replace("http://127.0.0.1:8000", "")).status_code == 200
    assert client.get("/feeds/1-" + "0" * 40 + ".ics").status_code == 404
    assert client.get("/feeds/garbage.ics").status_code == 404
