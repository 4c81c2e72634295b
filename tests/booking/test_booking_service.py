"""Book, cancel and reschedule called directly on a database session (issue 13): the
service layer's contract without HTTP in between. Each test reads back both sides that
must agree, the booking row and the event in the professional's Bookings calendar, on
PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import User
from booking.bookings import Links, book, cancel, reschedule
from booking.errors import BookingClosed, NotAllowed, OutsideBookingWindow, SlotUnavailable
from booking.models import Booking, Service
from booking.scheduling import professional_calendars
from caldav_server.store import CalendarStore
from notifications.models import OutboxMessage
from tests.factories import at, next_weekday, setup_professional

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

LINKS = Links(base_url="https://consult.example")


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the outbox rows stay for the assertions."""
    return {"notifications": {"sweep_seconds": "0"}}


def _utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive (they are stored as UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _event_text(session: Any, booking: Booking) -> str:
    professional = session.get(User, booking.service.professional_id)
    calendars = professional_calendars(session, professional)
    assert booking.event_href is not None
    item = CalendarStore(session).get_item(calendars.bookings_path, booking.event_href)
    assert item is not None
    return item.text


def _changes_told(session: Any, booking_id: int) -> list[str]:
    """The booking changes handed to notifications (one outbox row each, in order)."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.booking_id == booking_id)
        .order_by(OutboxMessage.id)
    )
    return [(row.payload or {}).get("change", row.kind) for row in session.scalars(query)]


@pytest.fixture
def world(client: Any, database: Any, make_user: Any) -> tuple[int, int, datetime]:
    """(service id, client id, a Tuesday 09:00 Berlin two weeks out)."""
    _, _, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    return service["id"], sam.id, at(next_weekday(1, weeks_ahead=2), "09:00")


def test_book_writes_the_row_and_the_event_in_one_transaction(
    database: Any, world: tuple[int, int, datetime]
) -> None:
    service_id, client_id, start = world
    now = datetime.now(UTC)
    with database.session() as session, session.begin():
        sam = session.get(User, client_id)
        booking = book(session, sam, service_id, start, now=now, links=LINKS, note="Hi")
        booking_id = booking.id
    with database.session() as session:
        stored = session.get(Booking, booking_id)
        assert stored is not None
        assert (stored.status, _utc(stored.start)) == ("confirmed", start.astimezone(UTC))
        assert _utc(stored.end) - _utc(stored.start) == timedelta(minutes=50)
        text = _event_text(session, stored)
        assert f"UID:{stored.event_uid}" in text and "STATUS:CONFIRMED" in text
        assert "DTSTART;TZID=Europe/Berlin:" in text and "T090000" in text
        assert _changes_told(session, booking_id) == ["confirmed"]


def test_a_failed_booking_leaves_neither_row_nor_event(
    database: Any, world: tuple[int, int, datetime]
) -> None:
    service_id, client_id, start = world
    now = datetime.now(UTC)
    with database.session() as session, session.begin():
        book(session, session.get(User, client_id), service_id, start, now=now, links=LINKS)
    with database.session() as session, session.begin():
        sam = session.get(User, client_id)
        with pytest.raises(SlotUnavailable):
            book(session, sam, service_id, start, now=now, links=LINKS)
        with pytest.raises(OutsideBookingWindow):
            book(session, sam, service_id, start.replace(hour=3), now=now, links=LINKS)
    with database.session() as session:
        assert len(session.scalars(select(Booking)).all()) == 1
        professional = session.get(
            User, session.scalars(select(Booking)).one().service.professional_id
        )
        calendars = professional_calendars(session, professional)
        assert len(CalendarStore(session).list_items(calendars.bookings_path)) == 1


def test_nobody_books_their_own_service(database: Any, world: tuple[int, int, datetime]) -> None:
    service_id, _, start = world
    with database.session() as session, session.begin():
        service = session.get(Service, service_id)
        professional = session.get(User, service.professional_id)
        with pytest.raises(NotAllowed):
            book(session, professional, service_id, start, now=datetime.now(UTC), links=LINKS)
        assert session.scalars(select(Booking)).first() is None


def test_cancel_marks_the_event_cancelled_and_frees_the_slot(
    database: Any, world: tuple[int, int, datetime]
) -> None:
    service_id, client_id, start = world
    now = datetime.now(UTC)
    with database.session() as session, session.begin():
        booking_id = book(
            session, session.get(User, client_id), service_id, start, now=now, links=LINKS
        ).id
    with database.session() as session, session.begin():
        booking = session.get(Booking, booking_id)
        cancel(session, booking, by="client", now=now, reason="Ill")
    with database.session() as session, session.begin():
        booking = session.get(Booking, booking_id)
        assert (booking.status, booking.cancelled_by, booking.cancel_reason) == (
            "cancelled",
            "client",
            "Ill",
        )
        assert booking.sequence == 1
        assert "STATUS:CANCELLED" in _event_text(session, booking)
        assert _changes_told(session, booking_id) == ["confirmed", "cancelled"]
        with pytest.raises(BookingClosed):
            cancel(session, booking, by="client", now=now)
        # The slot is free again for somebody else.
        again = book(session, session.get(User, client_id), service_id, start, now=now, links=LINKS)
        assert again.status == "confirmed"


def test_a_started_booking_can_be_neither_cancelled_nor_moved(
    database: Any, world: tuple[int, int, datetime]
) -> None:
    service_id, client_id, start = world
    with database.session() as session, session.begin():
        booking = book(
            session,
            session.get(User, client_id),
            service_id,
            start,
            now=datetime.now(UTC),
            links=LINKS,
        )
        later = start + timedelta(minutes=1)
        with pytest.raises(BookingClosed):
            cancel(session, booking, by="client", now=later)
        with pytest.raises(BookingClosed):
            reschedule(
                session, booking, start + timedelta(days=1), by="client", now=later, links=LINKS
            )


def test_reschedule_keeps_the_uid_and_bumps_the_sequence(
    database: Any, world: tuple[int, int, datetime]
) -> None:
    service_id, client_id, start = world
    now = datetime.now(UTC)
    moved = start + timedelta(days=1)  # Wednesday, same hour
    with database.session() as session, session.begin():
        booking = book(
            session, session.get(User, client_id), service_id, start, now=now, links=LINKS
        )
        booking_id, uid = booking.id, booking.event_uid
    with database.session() as session, session.begin():
        reschedule(
            session,
            session.get(Booking, booking_id),
            moved,
            by="professional",
            now=now,
            links=LINKS,
        )
    with database.session() as session, session.begin():
        booking = session.get(Booking, booking_id)
        assert (booking.event_uid, booking.sequence) == (uid, 1)
        assert _utc(booking.start) == moved.astimezone(UTC)
        text = _event_text(session, booking)
        assert "SEQUENCE:1" in text and f"DTSTART;TZID=Europe/Berlin:{moved:%Y%m%dT%H%M%S}" in text
        assert _changes_told(session, booking_id) == ["confirmed", "rescheduled"]
        # The old time is free, the new one is not.
        other = book(session, session.get(User, client_id), service_id, start, now=now, links=LINKS)
        assert other.id != booking_id
        with pytest.raises(SlotUnavailable):
            book(session, session.get(User, client_id), service_id, moved, now=now, links=LINKS)
        with pytest.raises(OutsideBookingWindow):
            reschedule(session, booking, moved.replace(hour=2), by="client", now=now, links=LINKS)
