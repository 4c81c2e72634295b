"""A professional's calendar app edits their bookings, and only theirs (issue 14).

UIDs are unique per collection only, so another professional can store an event with a
victim's booking UID in their *own* Bookings calendar. Probed as an attacker would: a
second, self-registered professional account talking to the real CalDAV server over
HTTP, on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from booking.models import Booking, GroupSession
from notifications.models import OutboxMessage
from tests.caldav_server.conftest import DavUser, make_event
from tests.factories import at, bearer, group_class, iso, next_weekday, setup_professional

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the outbox rows stay for the assertions."""
    return {"notifications": {"sweep_seconds": "0"}}


def dav_account(live_server: Any, user: Any) -> DavUser:
    """``user`` as a calendar app signed in to the live server sees them."""
    return DavUser(live_server.url + "/dav", user.principal, user.email, user.test_password)


def _state(database: Any, booking_id: int) -> tuple[str, Any, int]:
    with database.session() as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        return booking.status, booking.start, booking.sequence


def _mail_kinds(database: Any, booking_id: int) -> set[str]:
    with database.session() as session:
        return set(
            session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.booking_id == booking_id)
            )
        )


def test_another_professional_cannot_move_or_cancel_a_one_on_one_booking(
    client: Any, database: Any, make_user: Any, live_server: Any
) -> None:
    _, _, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    day = next_weekday(1, weeks_ahead=2)
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "09:00"))},
        headers=bearer(database, sam),
    ).get_json()
    assert "id" in booked, booked
    before = _state(database, booked["id"])
    mails_before = _mail_kinds(database, booked["id"])
    attacker = dav_account(live_server, make_user(role="professional"))

    moved = at(day + timedelta(days=3), "06:00")
    forged = make_event(booked["event_uid"], moved, moved + timedelta(minutes=50))
    response = attacker.put("forged.ics", forged)
    assert response.status_code in (201, 204), response.text  # their own calendar: stored
    assert _state(database, booked["id"]) == before
    cancelled = make_event(booked["event_uid"], moved, extra="STATUS:CANCELLED")
    assert attacker.put("forged.ics", cancelled).status_code in (201, 204)
    assert _state(database, booked["id"]) == before
    assert attacker.request("DELETE", attacker.calendar_url() + "forged.ics").status_code == 200
    assert _state(database, booked["id"]) == before
    assert _mail_kinds(database, booked["id"]) == mails_before  # no "Moved"/"Cancelled" mail


def test_the_professionals_own_calendar_app_still_moves_and_cancels(
    client: Any, database: Any, make_user: Any, live_server: Any
) -> None:
    """The control: the same requests from the booking's own professional take effect."""
    pro, _, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    day = next_weekday(1, weeks_ahead=2)
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "09:00"))},
        headers=bearer(database, sam),
    ).get_json()
    owner = dav_account(live_server, pro)
    event = owner.calendar().event_by_uid(booked["event_uid"])
    href = str(event.url).rsplit("/", 1)[-1]
    moved = at(day, "14:00")
    response = owner.put(
        href, make_event(booked["event_uid"], moved, moved + timedelta(minutes=50))
    )
    assert response.status_code == 204, response.text
    status, start, sequence = _state(database, booked["id"])
    assert (status, start) == ("confirmed", moved) and sequence == 1
    assert owner.request("DELETE", owner.calendar_url() + href).status_code == 200
    assert _state(database, booked["id"])[0] == "cancelled"


def test_another_professional_cannot_cancel_a_group_class(
    client: Any, database: Any, make_user: Any, live_server: Any
) -> None:
    pro = make_user(role="professional", timezone="Europe/Berlin")
    pro_headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services", json=group_class(capacity=5), headers=pro_headers
    ).get_json()
    day = next_weekday(2, weeks_ahead=2)
    group = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=3"},
        headers=pro_headers,
    ).get_json()
    seats = [
        client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(at(day, "18:00"))},
            headers=bearer(database, make_user(role="client")),
        ).get_json()
        for _ in range(5)
    ]
    # Every seat holder learns the class's UID; the attacker is one of them, or asks one.
    assert {seat["event_uid"] for seat in seats} == {group["event_uid"]}
    attacker = dav_account(live_server, make_user(role="professional"))
    start = at(day, "18:00")
    cancelled = make_event(
        group["event_uid"], start, rrule="FREQ=WEEKLY;COUNT=3", extra="STATUS:CANCELLED"
    )
    assert attacker.put("class.ics", cancelled).status_code in (201, 204)
    assert attacker.put("class.ics", make_event(group["event_uid"], start)).status_code == 204
    assert attacker.request("DELETE", attacker.calendar_url() + "class.ics").status_code == 200
    assert {_state(database, seat["id"])[0] for seat in seats} == {"confirmed"}
    with database.session() as session:
        row = session.scalar(
            select(GroupSession).where(GroupSession.event_uid == group["event_uid"])
        )
        assert row is not None and row.cancelled_at is None
