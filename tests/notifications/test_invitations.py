"""Booking emails as they arrive at a real SMTP server: multipart text + HTML, the
iTIP part (RFC 6047) with the CalDAV event's UID, SEQUENCE, ORGANIZER and
ATTENDEE, in each recipient's language and time zone."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from caldav_server.store import CalendarStore
from notifications.delivery import Outcome
from notifications.mailer import message_id_for
from notifications.models import Notification, OutboxMessage
from notifications.rendering import format_datetime, format_short, format_span
from tests.factories import at, bearer, group_class, iso
from tests.notifications.conftest import (
    SENDER,
    attendees,
    itip,
    parts,
    send_due,
    set_locale,
)

# Free classes: paid ones need the payments setup, which is not what these tests are about.
FREE = {"amount": 0, "currency": "EUR"}


def caldav_event(database: Any, principal: str, uid: str) -> icalendar.cal.Component:
    with database.session() as session:
        item = CalendarStore(session).get_item_by_uid(f"{principal}/bookings", uid)
    assert item is not None
    calendar = icalendar.Calendar.from_ical(item.text)
    return next(e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e)


def texts(message: EmailMessage) -> tuple[str, str, str]:
    found = parts(message)
    return (
        found["text/plain"].get_content(),
        found["text/html"].get_content(),
        found["text/calendar"].get_content(),
    )


def only(items: list[EmailMessage]) -> EmailMessage:
    assert len(items) == 1, [m["Subject"] for m in items]
    return items[0]


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_one_on_one_invitation_update_and_cancellation(
    platform: Any, client: Any, database: Any, settings: Any, world: dict[str, Any], inbox: Any
) -> None:
    pro, sam = world["pro"], world["sam"]
    set_locale(database, sam, "de-DE")
    start = at(world["day"], "09:00")
    response = client.post(
        "/api/v1/bookings",
        json={
            "service_id": world["service"]["id"],
            "start": iso(start),
            "client_note": "Anxiety about my diagnosis",
        },
        headers=world["sam_headers"],
    )
    assert response.status_code == 201, response.get_json()
    booking = response.get_json()
    booking_url = f"http://127.0.0.1:8000/bookings/{booking['id']}"

    assert send_due(platform)[Outcome.SENT] == 2
    inbox.wait_for(2)
    to_sam, to_pro = only(inbox.to(sam.email)), only(inbox.to(pro.email))

    # Layout: text and HTML alternatives, the iTIP part, and invite.ics for Outlook.
    assert to_sam.get_content_type() == "multipart/mixed"
    found = parts(to_sam)
    assert set(found) == {
        "text/plain",
        "text/html",
        "text/calendar",
        "attachment:application/ics",
    }
    assert found["attachment:application/ics"].get_filename() == "invite.ics"
    assert found["text/calendar"].get_content_charset() == "utf-8"
    assert to_sam["From"] == SENDER and to_sam["Auto-Submitted"] == "auto-generated"
    assert to_sam["Message-ID"] == message_id_for(
        f"booking:{booking['id']}:confirmed:{sam.id}", SENDER
    )
    assert to_sam["Message-ID"] != to_pro["Message-ID"]

    # The invitation is the CalDAV event: same UID, organizer, attendee, sequence.
    stored = caldav_event(database, pro.principal, booking["event_uid"])
    for message in (to_sam, to_pro):
        method, event, calendar = itip(message)
        assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == str(stored["UID"]) == booking["event_uid"]
        assert event.decoded("SEQUENCE") == stored.decoded("SEQUENCE") == 0
        assert str(event["ORGANIZER"]).lower() == f"mailto:{pro.email}".lower()
        assert attendees(event) == [sam.email.lower()]
        assert str(event["STATUS"]) == "CONFIRMED" and "DTSTAMP" in event
        assert event.decoded("DTSTART") == start
        assert event.decoded("DTEND") == start + timedelta(minutes=50)

    # Sam reads German, in New York time; Maya English, in Berlin time. Every time
    # names its zone; the note never leaves the platform.
    sam_text, sam_html, sam_ics = texts(to_sam)
    pro_text, pro_html, pro_ics = texts(to_pro)
    end = start + timedelta(minutes=50)
    assert to_sam["Subject"].startswith("Bestätigt: Therapy session, ")
    assert to_pro["Subject"].startswith("Confirmed: Therapy session, ")
    assert format_span(start, end, ZoneInfo("America/New_York"), "de") in sam_text
    assert to_sam["Subject"].endswith(format_short(start, ZoneInfo("America/New_York"), "de"))
    assert to_pro["Subject"].endswith(format_short(start, ZoneInfo("Europe/Berlin"), "en"))
    assert format_span(start, end, ZoneInfo("Europe/Berlin"), "en") in pro_text
    for message, body in ((to_sam, sam_text), (to_pro, pro_text)):
        assert "Anxiety" not in message["Subject"] + body
    assert "Anxiety" not in sam_html + pro_html + sam_ics + pro_ics
    # Both link to the booking page; only the client gets the no-password manage link.
    assert booking_url in sam_text and booking_url in sam_html and booking_url in pro_text
    assert booking["manage_url"] in sam_text and booking["manage_url"] in sam_html
    assert "/manage/" not in pro_text + pro_html + pro_ics
    assert "Sam Client" in pro_text and "Hallo Sam Client" in sam_text

    # Moving keeps the UID and bumps SEQUENCE; the new time is in the invitation.
    inbox.clear()
    new_start = at(world["day"], "10:40")
    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start": iso(new_start)},
        headers=world["sam_headers"],
    )
    assert moved.status_code == 200, moved.get_json()
    assert send_due(platform)[Outcome.SENT] == 2
    inbox.wait_for(2)
    for message in (only(inbox.to(sam.email)), only(inbox.to(pro.email))):
        method, event, _ = itip(message)
        assert method == "REQUEST" and str(event["UID"]) == booking["event_uid"]
        assert event.decoded("SEQUENCE") == 1
        assert event.decoded("DTSTART") == new_start
    assert only(inbox.to(sam.email))["Subject"].startswith("Verschoben: Therapy session, neu ")
    moved_text = parts(only(inbox.to(pro.email)))["text/plain"].get_content()
    assert "Sam Client moved this booking." in moved_text
    assert f"Was: {format_datetime(start, ZoneInfo('Europe/Berlin'), 'en')}" in moved_text

    # The professional cancels: METHOD:CANCEL with the same UID and a higher SEQUENCE.
    inbox.clear()
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel",
        json={"reason": "I am away that day."},
        headers=world["pro_headers"],
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    assert send_due(platform)[Outcome.SENT] == 2
    inbox.wait_for(2)
    for message in (only(inbox.to(sam.email)), only(inbox.to(pro.email))):
        method, event, calendar = itip(message)
        assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
        assert str(event["UID"]) == booking["event_uid"]
        assert str(event["STATUS"]) == "CANCELLED" and event.decoded("SEQUENCE") == 2
        assert attendees(event) == [sam.email.lower()]
    sam_cancel = parts(only(inbox.to(sam.email)))["text/plain"].get_content()
    assert "Professional hat diese Buchung abgesagt." in sam_cancel
    assert "I am away that day." in sam_cancel

    # In-app twins go to whoever did not cause the change.
    with database.session() as session:
        notes = {
            (note.recipient_id, note.kind)
            for note in session.scalars(
                select(Notification).where(Notification.booking_id == booking["id"])
            )
        }
        statuses = set(
            session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.kind.like("booking_%"))
            )
        )
    assert (pro.id, "booking_confirmed") in notes and (sam.id, "booking_confirmed") not in notes
    assert (pro.id, "booking_rescheduled") in notes and (sam.id, "booking_rescheduled") not in notes
    assert (sam.id, "booking_cancelled") in notes and (pro.id, "booking_cancelled") not in notes
    # Reminders were planned, then cancelled with the booking.
    assert statuses == {"sent", "cancelled"}


def test_group_class_each_client_gets_their_own_invitation(
    platform: Any, client: Any, database: Any, settings: Any, make_user: Any, inbox: Any
) -> None:
    from tests.factories import next_weekday

    pro = make_user(role="professional", timezone="Europe/Berlin", name="Ana Teacher")
    pro_headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services",
        json=group_class(title="Morning yoga", capacity=6, price=FREE),
        headers=pro_headers,
    ).get_json()
    day = next_weekday(2, weeks_ahead=2)
    session_json = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=4"},
        headers=pro_headers,
    ).get_json()
    second = at(day + timedelta(days=7), "18:00")
    clients = [make_user(role="client", name=f"Student {n}") for n in range(2)]
    for person in clients:
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(second)},
            headers=bearer(database, person),
        )
        assert response.status_code == 201, response.get_json()

    assert send_due(platform)[Outcome.SENT] == 2
    inbox.wait_for(2)
    assert inbox.to(pro.email) == []  # the professional gets a summary, not one email per seat
    for person in clients:
        message = only(inbox.to(person.email))
        method, event, _ = itip(message)
        assert method == "REQUEST"
        assert str(event["UID"]) == session_json["event_uid"]
        assert event.decoded("RECURRENCE-ID") == second and event.decoded("DTSTART") == second
        # Participants never see each other.
        assert attendees(event) == [person.email.lower()]
        body = (
            parts(message)["text/plain"].get_content() + parts(message)["text/html"].get_content()
        )
        assert all(
            other.email not in body and other.name not in body
            for other in clients
            if other is not person
        )

    # The professional's summary goes out 24 h before, with the roster as it is then.
    late = make_user(role="client", name="Student Late")
    assert (
        client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(second)},
            headers=bearer(database, late),
        ).status_code
        == 201
    )
    send_due(platform)
    inbox.clear()
    result = send_due(platform, now=second - timedelta(hours=24) + timedelta(seconds=1))
    # Three clients' 24 h reminders and one summary for the professional.
    assert result[Outcome.SENT] == 4
    inbox.wait_for(4)
    summary = only(inbox.to(pro.email))
    assert (
        summary["Subject"].startswith("Morning yoga, ")
        and "3 of 6 seats taken" in summary["Subject"]
    )
    text = parts(summary)["text/plain"].get_content()
    assert all(f"- {name}" in text for name in ("Student 0", "Student 1", "Student Late"))
    assert "/bookings/" in text and "/session" in text
    reminder = only(inbox.to(late.email))
    assert reminder["Subject"].startswith("Reminder: Morning yoga, ")
    assert "Student 0" not in parts(reminder)["text/plain"].get_content()


def test_group_seat_moves_and_cancellation_update_the_clients_calendar(
    platform: Any, client: Any, database: Any, settings: Any, make_user: Any, inbox: Any
) -> None:
    from tests.factories import next_weekday

    pro = make_user(role="professional", timezone="Europe/Berlin", name="Ken Tutor")
    pro_headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services",
        json=group_class(title="Conversation", capacity=6, price=FREE),
        headers=pro_headers,
    ).get_json()
    day = next_weekday(3, weeks_ahead=2)
    series = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=4"},
        headers=pro_headers,
    ).get_json()
    first, second = at(day, "18:00"), at(day + timedelta(days=7), "18:00")
    student = make_user(role="client", name="Student")
    headers = bearer(database, student)
    booking = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(first)},
        headers=headers,
    ).get_json()
    send_due(platform)
    inbox.clear()

    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule", json={"start": iso(second)}, headers=headers
    )
    assert moved.status_code == 200, moved.get_json()
    assert send_due(platform)[Outcome.SENT] == 2
    inbox.wait_for(2)
    by_method = {itip(message)[0]: itip(message)[1] for message in inbox.to(student.email)}
    # The new occurrence is requested, the old one cancelled: both of the same series.
    assert by_method.keys() == {"REQUEST", "CANCEL"}
    assert by_method["REQUEST"].decoded("RECURRENCE-ID") == second
    assert by_method["CANCEL"].decoded("RECURRENCE-ID") == first
    assert {str(e["UID"]) for e in by_method.values()} == {series["event_uid"]}
    assert all(e.decoded("SEQUENCE") == 1 for e in by_method.values())

    cancelled = client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    inbox.clear()
    assert send_due(platform)[Outcome.SENT] == 1
    method, event, _ = itip(inbox.wait_for(1)[0].message)
    assert method == "CANCEL" and event.decoded("RECURRENCE-ID") == second
    assert event.decoded("SEQUENCE") == 2 and attendees(event) == [student.email.lower()]

    with database.session() as session:
        kinds = [
            note.kind
            for note in session.scalars(
                select(Notification)
                .where(Notification.recipient_id == pro.id, Notification.kind.like("seat_%"))
                .order_by(Notification.id)
            )
        ]
        summaries = set(
            session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.kind == "group_summary")
            )
        )
        hidden = set(
            session.scalars(
                select(Notification.cancelled_at.is_not(None)).where(
                    Notification.kind == "group_summary"
                )
            )
        )
    # The professional hears of each seat change in the app, not by email.
    assert kinds == ["seat_booked", "seat_moved", "seat_cancelled"]
    assert inbox.to(pro.email) == []
    # With nobody left in either occurrence, no summary will go out.
    assert summaries == {"cancelled"} and hidden == {True}
