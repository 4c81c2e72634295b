"""Booking, cancelling and rescheduling: each one database transaction that writes
the booking row and the calendar event together.

Every operation first takes the professional's calendar write lock (the same lock
CalDAV writes take), then re-checks the slot against what the calendars and the
bookings say *now*, then writes. So two clients racing for one slot, or a client
racing the professional adding an event from their phone, are serialised: the
second sees the first's commit and is refused. The database constraints on
``booking`` and ``group_occurrence`` back this up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from booking import events
from booking.busy_index import expect_blocks
from booking.catalog import get_public_service, is_suspended, new_event_uid
from booking.core.ical.write import (
    Attendee,
    add_attendee,
    build_booking_event,
    cancel_event,
    remove_attendee,
)
from booking.core.intervals import Interval
from booking.core.slots import SlotRejection
from booking.errors import (
    BookingClosed,
    BookingNotFound,
    CalendarWriteFailed,
    InvalidCalendarData,
    NotAllowed,
    OutsideBookingWindow,
    ServiceNotFound,
    SlotUnavailable,
    UnknownOccurrence,
    ValidationError,
)
from booking.models import (
    ACTIVE_STATUSES,
    BOOKING_SOURCES,
    CANCELLED,
    CONFIRMED,
    HELD,
    Booking,
    GroupOccurrence,
    GroupSession,
    Service,
)
from booking.scheduling import (
    ProfessionalCalendars,
    SessionOccurrence,
    check_one_on_one,
    find_group_occurrence,
    professional_calendars,
)
from caldav_server.errors import StoreError
from caldav_server.provisioning import BOOKINGS_CALENDAR
from caldav_server.spans import BUSY, BUSY_TENTATIVE, single_event_object
from caldav_server.store import CalendarStore
from consult.hookspecs import Actor, BookingChanged, hooks_of
from consult.text import InvalidText, clean_text

log = logging.getLogger(__name__)

MAX_NOTE = 2000
MAX_REASON = 1000

_REJECTION_MESSAGES: Mapping[SlotRejection, str] = MappingProxyType(
    {
        SlotRejection.TOO_SOON: "This time is too soon to book; pick a later slot.",
        SlotRejection.TOO_FAR: "This time is too far ahead to book yet.",
        SlotRejection.OUTSIDE_WINDOW: "This time is outside the bookable range.",
        SlotRejection.OUTSIDE_OPEN_HOURS: "This time is outside the professional's open hours.",
        SlotRejection.NOT_ALIGNED: "Pick one of the offered start times.",
        SlotRejection.DAILY_MAX_REACHED: "This day is fully booked.",
        SlotRejection.CONFLICT: "Sorry, this slot was just taken. Please pick another time.",
        SlotRejection.FULL: "Sorry, this session is full. Please pick another one.",
    }
)


def _raise_for(rejection: SlotRejection) -> None:
    message = _REJECTION_MESSAGES[rejection]
    if rejection.is_conflict or rejection is SlotRejection.DAILY_MAX_REACHED:
        raise SlotUnavailable(message)
    raise OutsideBookingWindow(message)


@dataclass(frozen=True)
class Links:
    """How to build the URLs that go into calendar events."""

    base_url: str

    def booking_page(self, booking_id: int) -> str:
        return f"{self.base_url}/bookings/{booking_id}"


def _professional(session: Session, service: Service) -> User:
    professional = session.get(User, service.professional_id)
    if professional is None or professional.principal is None:
        raise ServiceNotFound()
    return professional


def _locked_calendars(
    session: Session, store: CalendarStore, professional: User
) -> ProfessionalCalendars:
    """Take the professional's calendar lock, then read their calendars: what they
    say (open hours included) stays so until the transaction ends."""
    store.lock_collection(f"{professional.principal}/{BOOKINGS_CALENDAR}")
    return professional_calendars(session, professional)


def _lock_booking(
    session: Session, booking: Booking
) -> tuple[User, CalendarStore, ProfessionalCalendars]:
    """Lock the calendars of the booking's professional, then re-read the booking:
    what it says now stays so until the transaction ends (check it again)."""
    professional = _professional(session, booking.service)
    store = CalendarStore(session)
    calendars = _locked_calendars(session, store, professional)
    session.refresh(booking)
    return professional, store, calendars


def _summary(service: Service, client: User | None) -> str:
    # Shown in the professional's calendar and mail subjects: the service title and
    # the client's name, nothing from the client's note.
    return f"{service.title} with {client.name}" if client else service.title


def _description(service: Service, note: str, url: str) -> str:
    parts = []
    if note:
        parts.append(f"Note from the client:\n{note}")
    parts.append(f"Booking page: {url}")
    return "\n\n".join(parts)


_WRITE_FAILED = (
    "We could not save this booking to the calendar, so it was not made. Please try again."
)


def write_event_object(store: CalendarStore, path: str, ics: str, href: str | None) -> str:
    """Store a booking event as the platform; a storage failure means the booking is not made."""
    try:
        return store.put_item(path, ics, href=href, actor="platform").href
    except StoreError as error:
        log.error("writing booking event to %s failed: %s", path, error)
        raise CalendarWriteFailed(_WRITE_FAILED) from error


def _flush_or_conflict(session: Session, message: str) -> None:
    """Flush in a savepoint; a unique-index violation means someone else won the race."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise SlotUnavailable(message) from error


def _clean_note(note: str | None, limit: int) -> str:
    try:
        return clean_text(note, max_length=limit, multiline=True, required=False)
    except InvalidText as error:
        raise ValidationError({"client_note": error.message}) from error


# --- booking ------------------------------------------------------------------------


def book(
    session: Session,
    client: User,
    service_id: int,
    start: datetime,
    *,
    now: datetime,
    links: Links,
    note: str | None = None,
    client_timezone: str | None = None,
    status: str = CONFIRMED,
    source: str = "direct",
) -> Booking:
    """Book ``start`` of the service for ``client``: a one-on-one slot or one seat of
    the group session starting then. Raises SlotUnavailable (taken meanwhile),
    OutsideBookingWindow (breaks a rule), ServiceNotFound, NotAllowed, or
    CalendarWriteFailed (then nothing is kept: the caller's transaction rolls back)."""
    note = _clean_note(note, MAX_NOTE)
    service = get_public_service(session, service_id)
    if not service.is_bookable:
        raise ServiceNotFound()
    if service.professional_id == client.id:
        raise NotAllowed("You cannot book your own service.")
    professional = _professional(session, service)
    hooks_of(session).before_booking(
        session=session, service_id=service.id, professional_id=professional.id
    )
    store = CalendarStore(session)
    calendars = _locked_calendars(session, store, professional)
    # Again under the lock: a suspension holds it while it cancels the bookings, so a
    # booking that waited for it must not slip in after.
    if is_suspended(session, professional.id):
        raise ServiceNotFound()
    details = {
        "client_note": note,
        "client_timezone": client_timezone or client.timezone,
        "status": status,
        # An unknown source (a hand-edited link) is counted as the professional's own.
        "source": source if source in BOOKING_SOURCES else "direct",
    }
    if service.is_group:
        booking = _book_seat(
            session, store, calendars, service, professional, client, start, now, details
        )
    else:
        booking = _book_one_on_one(
            session, store, calendars, service, professional, client, start, now, links, details
        )
    session.flush()
    if status == CONFIRMED:
        events.publish(session, BookingChanged("confirmed", booking.id, "client"))
    return booking


def _book_one_on_one(
    session: Session,
    store: CalendarStore,
    calendars: ProfessionalCalendars,
    service: Service,
    professional: User,
    client: User,
    start: datetime,
    now: datetime,
    links: Links,
    details: dict[str, str],
) -> Booking:
    rejection = check_one_on_one(session, service, professional, start, now, calendars=calendars)
    if rejection is not None:
        _raise_for(rejection)
    end = start + timedelta(minutes=service.duration_minutes)
    uid = new_event_uid()
    booking = Booking(
        service=service,
        professional=professional,
        client=client,
        service_id=service.id,
        professional_id=professional.id,
        client_id=client.id,
        start=start,
        end=end,
        event_uid=uid,
        event_href=f"{uid}.ics",
        **details,
    )
    session.add(booking)
    _flush_or_conflict(session, _REJECTION_MESSAGES[SlotRejection.CONFLICT])
    _write_booking_event(
        session, store, calendars, booking, service, professional, client, links, now, fresh=True
    )
    return booking


def _write_booking_event(
    session: Session,
    store: CalendarStore,
    calendars: ProfessionalCalendars,
    booking: Booking,
    service: Service,
    professional: User,
    client: User,
    links: Links,
    now: datetime,
    *,
    fresh: bool = False,
) -> None:
    """(Re)write a one-on-one booking's event: same UID, the booking's SEQUENCE;
    STATUS:TENTATIVE while the slot is only held for a payment. ``fresh``: a new
    booking, whose UID and href were just generated."""
    url = links.booking_page(booking.id)
    ics = build_booking_event(
        uid=booking.event_uid,
        start=booking.start,
        end=booking.end,
        summary=_summary(service, client),
        description=_description(service, booking.client_note, url),
        organizer_email=professional.email,
        organizer_name=professional.name,
        attendees=[Attendee(client.email, client.name)],
        url=url,
        sequence=booking.sequence,
        status="TENTATIVE" if booking.status == HELD else "CONFIRMED",
        zone=calendars.zone,
        extra={"X-CONSULT-BOOKING-ID": str(booking.id), "X-CONSULT-SERVICE-ID": str(service.id)},
        now=now,
    )
    blocks = [Interval(booking.start, booking.end)]
    expect_blocks(session, calendars.bookings_path, booking.event_href, blocks)
    # Our own builder's output: stored without a second parse (see single_event_object).
    obj = single_event_object(
        ics,
        booking.event_uid,
        booking.start,
        booking.end,
        fbtype=BUSY_TENTATIVE if booking.status == HELD else BUSY,
    )
    try:
        store.put_object(
            calendars.bookings_record or calendars.bookings_path,
            booking.event_href,
            obj,
            actor="platform",
            fresh=fresh,
        )
    except StoreError as error:
        log.error("writing booking event to %s failed: %s", calendars.bookings_path, error)
        raise CalendarWriteFailed(_WRITE_FAILED) from error


def _take_seat(session: Session, occurrence: SessionOccurrence, capacity: int) -> None:
    """Take one seat with a conditional UPDATE; the CHECK constraint is the backstop."""
    session_id, start = occurrence.session.id, occurrence.interval.start
    row = session.scalar(
        select(GroupOccurrence).where(
            GroupOccurrence.session_id == session_id, GroupOccurrence.start == start
        )
    )
    if row is None:
        session.add(
            GroupOccurrence(session_id=session_id, start=start, capacity=capacity, seats_taken=0)
        )
        session.flush()
    result = session.execute(
        update(GroupOccurrence)
        .where(
            GroupOccurrence.session_id == session_id,
            GroupOccurrence.start == start,
            GroupOccurrence.seats_taken < capacity,
        )
        .values(seats_taken=GroupOccurrence.seats_taken + 1, capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise SlotUnavailable(_REJECTION_MESSAGES[SlotRejection.FULL])


def _release_seat(session: Session, session_id: int, start: datetime) -> None:
    session.execute(
        update(GroupOccurrence)
        .where(
            GroupOccurrence.session_id == session_id,
            GroupOccurrence.start == start,
            GroupOccurrence.seats_taken > 0,
        )
        .values(seats_taken=GroupOccurrence.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def _book_seat(
    session: Session,
    store: CalendarStore,
    calendars: ProfessionalCalendars,
    service: Service,
    professional: User,
    client: User,
    start: datetime,
    now: datetime,
    details: dict[str, str],
) -> Booking:
    occurrence, rejection = find_group_occurrence(session, service, professional, start, now)
    if occurrence is None:
        raise OutsideBookingWindow("No session of this class starts at that time.")
    if rejection is not None:
        _raise_for(rejection)
    already = session.scalar(
        select(Booking.id).where(
            Booking.group_session_id == occurrence.session.id,
            Booking.start == occurrence.interval.start,
            Booking.client_id == client.id,
            Booking.status.in_(ACTIVE_STATUSES),
        )
    )
    if already is not None:
        raise SlotUnavailable("You already have a seat in this session.")
    _take_seat(session, occurrence, service.capacity or 1)
    group_session = occurrence.session
    booking = Booking(
        service=service,
        professional=professional,
        client=client,
        service_id=service.id,
        professional_id=professional.id,
        client_id=client.id,
        group_session_id=group_session.id,
        start=occurrence.interval.start,
        end=occurrence.interval.end,
        event_uid=group_session.event_uid,
        event_href="",
        **details,
    )
    session.add(booking)
    _join_occurrence(session, store, calendars, booking, client, occurrence, now)
    return booking


def _join_occurrence(
    session: Session,
    store: CalendarStore,
    calendars: ProfessionalCalendars,
    booking: Booking,
    client: User,
    occurrence: SessionOccurrence,
    now: datetime,
) -> None:
    """Save the seat and put the client on that occurrence of the session's event."""
    _flush_or_conflict(session, "You already have a seat in this session.")
    item = store.get_item_by_uid(calendars.bookings_path, occurrence.session.event_uid)
    if item is None:
        raise SlotUnavailable("This session was just cancelled.")
    try:
        ics = add_attendee(
            item.text,
            _seat_attendee(booking, client),
            recurrence_id=occurrence.recurrence_id,
            zone=calendars.zone,
            now=now,
        )
    except (InvalidCalendarData, UnknownOccurrence) as error:
        raise CalendarWriteFailed("This session's calendar event could not be updated.") from error
    booking.event_href = write_event_object(store, calendars.bookings_path, ics, item.href)


def _seat_attendee(booking: Booking, client: User) -> Attendee:
    """The client on a group session's event: TENTATIVE while the seat is only held."""
    partstat = "TENTATIVE" if booking.status == HELD else "ACCEPTED"
    return Attendee(client.email, client.name, partstat=partstat)


# --- payment holds ----------------------------------------------------------------------


def confirm_held(session: Session, booking: Booking, *, now: datetime, links: Links) -> Booking:
    """Turn a held booking into a confirmed one once it is paid: the event becomes
    STATUS:CONFIRMED (same UID and SEQUENCE; a group seat's attendee ACCEPTED) and
    ``BookingChanged("confirmed")`` is published, so invitations go out now.

    Idempotent: an already confirmed booking is returned unchanged. A cancelled one
    (the hold lapsed) raises BookingClosed; the caller decides about the money.
    Assumes ``booking`` was held by :func:`book` with ``status=HELD``."""
    professional, store, calendars = _lock_booking(session, booking)
    if booking.status == CONFIRMED:
        return booking
    if booking.status != HELD:
        raise BookingClosed("This booking was cancelled before the payment arrived.")
    client = session.get(User, booking.client_id)
    assert client is not None
    booking.status = CONFIRMED
    if booking.is_group:
        item = store.get_item_by_uid(calendars.bookings_path, booking.event_uid)
        if item is not None:
            try:
                ics = add_attendee(
                    item.text,
                    _seat_attendee(booking, client),
                    recurrence_id=_recurrence_id_of(booking, session),
                    zone=calendars.zone,
                    now=now,
                )
            except (InvalidCalendarData, UnknownOccurrence) as error:
                log.warning("booking %s: session event unreadable: %s", booking.id, error)
            else:
                write_event_object(store, calendars.bookings_path, ics, item.href)
    else:
        _write_booking_event(
            session, store, calendars, booking, booking.service, professional, client, links, now
        )
    session.flush()
    events.publish(session, BookingChanged("confirmed", booking.id, "client"))
    return booking


def expire_hold(session: Session, booking: Booking, *, now: datetime, reason: str) -> bool:
    """Free the slot or seat of a held booking whose payment did not come: the
    tentative event is deleted (a group seat: the client leaves that occurrence), the
    booking is cancelled by the system. Also works after the start, unlike
    :func:`cancel`. Returns False, changing nothing, when the booking is no longer
    held (paid or cancelled meanwhile)."""
    if booking.status != HELD:
        return False
    professional, store, calendars = _lock_booking(session, booking)
    if booking.status != HELD:
        return False
    _release(session, store, calendars, booking, by="system", now=now, reason=reason)
    return True


# --- access -------------------------------------------------------------------------


def get_booking_for(session: Session, user: User, booking_id: int) -> Booking:
    """The booking if ``user`` is its client or professional; else BookingNotFound
    (the same answer as for a booking that does not exist)."""
    booking = session.get(Booking, booking_id)
    if booking is None or user.id not in (booking.client_id, booking.professional_id):
        raise BookingNotFound()
    return booking


def list_bookings_for(
    session: Session, user: User, *, upcoming: bool | None = None, now: datetime | None = None
) -> list[Booking]:
    """Bookings where ``user`` is client or professional, soonest first (past: latest first)."""
    query = select(Booking).where(
        (Booking.client_id == user.id) | (Booking.professional_id == user.id)
    )
    if upcoming is True and now is not None:
        query = query.where(Booking.end > now).order_by(Booking.start)
    elif upcoming is False and now is not None:
        query = query.where(Booking.end <= now).order_by(Booking.start.desc())
    else:
        query = query.order_by(Booking.start)
    return list(session.scalars(query))


def lock_professional(session: Session, professional: User) -> None:
    """Take ``professional``'s calendar write lock (the one every booking takes) until
    the transaction ends, so nobody books them meanwhile."""
    if professional.principal is not None:
        _locked_calendars(session, CalendarStore(session), professional)


def upcoming_bookings_of(session: Session, professional_id: int, now: datetime) -> list[Booking]:
    """The professional's active bookings (held or confirmed) that start after
    ``now``, soonest first: those a cancellation of everything would cancel."""
    return list(
        session.scalars(
            select(Booking)
            .where(
                Booking.professional_id == professional_id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.start > now,
            )
            .order_by(Booking.start, Booking.id)
        )
    )


def role_in(booking: Booking, user: User) -> Actor:
    return "professional" if user.id == booking.professional_id else "client"


# --- cancel and reschedule ----------------------------------------------------------


def _event_zone(calendars: ProfessionalCalendars) -> ZoneInfo:
    return calendars.zone


def cancel(
    session: Session,
    booking: Booking,
    *,
    by: Actor,
    now: datetime,
    reason: str | None = None,
) -> Booking:
    """Cancel an active booking that has not started: the event becomes
    STATUS:CANCELLED (a group seat: the attendee leaves that occurrence), the slot or
    seat is free again. The caller has checked that ``by`` may do this."""
    reason = _clean_note(reason, MAX_REASON)
    if not booking.is_active:
        raise BookingClosed("This booking is already cancelled.")
    if booking.start <= now:
        raise BookingClosed("This session has already started and can no longer be cancelled.")
    _, store, calendars = _lock_booking(session, booking)
    if not booking.is_active:
        raise BookingClosed("This booking is already cancelled.")
    _release(session, store, calendars, booking, by=by, now=now, reason=reason)
    return booking


def _release(
    session: Session,
    store: CalendarStore,
    calendars: ProfessionalCalendars,
    booking: Booking,
    *,
    by: Actor,
    now: datetime,
    reason: str,
) -> None:
    """Take the booking off its event and mark it cancelled; the caller holds the lock.
    A held one-on-one booking's tentative event is deleted: nobody was invited to it."""
    client = session.get(User, booking.client_id)
    item = store.get_item_by_uid(calendars.bookings_path, booking.event_uid)
    if item is not None and booking.status == HELD and not booking.is_group:
        store.delete_item(calendars.bookings_path, item.href, actor="platform")
        item = None
    if item is not None:
        try:
            if booking.is_group:
                recurrence_id = _recurrence_id_of(booking, session)
                ics = remove_attendee(
                    item.text,
                    client.email if client else "",
                    recurrence_id=recurrence_id,
                    zone=calendars.zone,
                    now=now,
                )
            else:
                ics = cancel_event(item.text, zone=calendars.zone, now=now)
            expect_blocks(session, calendars.bookings_path, item.href, [])
        except (InvalidCalendarData, UnknownOccurrence) as error:
            log.warning(
                "booking %s: event %s unreadable, cancelling anyway: %s",
                booking.id,
                item.href,
                error,
            )
        else:
            write_event_object(store, calendars.bookings_path, ics, item.href)
    mark_cancelled(session, booking, by=by, now=now, reason=reason)


def _recurrence_id_of(booking: Booking, session: Session) -> datetime | None:
    group_session = booking.group_session or (
        session.get(GroupSession, booking.group_session_id) if booking.group_session_id else None
    )
    if group_session is None or not group_session.rrule:
        return None
    # Overrides keep the original start as RECURRENCE-ID; a seat is booked at it.
    return booking.start


def mark_cancelled(
    session: Session, booking: Booking, *, by: Actor, now: datetime, reason: str
) -> None:
    """Record a cancellation already reflected in the calendar (by us or a CalDAV client):
    frees the seat and tells the hooks; the event itself is not touched here."""
    booking.status = CANCELLED
    booking.cancelled_at = now
    booking.cancelled_by = by
    booking.cancel_reason = reason
    booking.sequence += 1
    if booking.group_session_id is not None:
        _release_seat(session, booking.group_session_id, booking.start)
    session.flush()
    events.publish(session, BookingChanged("cancelled", booking.id, by))


def reschedule(
    session: Session,
    booking: Booking,
    new_start: datetime,
    *,
    by: Actor,
    now: datetime,
    links: Links,
) -> Booking:
    """Move an active, not yet started booking to ``new_start``: the same event (same
    UID) with SEQUENCE + 1 for one-on-one; a seat in another session occurrence for a
    group class. The new time is checked like a new booking, ignoring this booking."""
    if not booking.is_active:
        raise BookingClosed("This booking is cancelled and cannot be moved.")
    if booking.start <= now:
        raise BookingClosed("This session has already started and can no longer be moved.")
    service = booking.service
    professional, store, calendars = _lock_booking(session, booking)
    if not booking.is_active:
        raise BookingClosed("This booking is cancelled and cannot be moved.")
    client = session.get(User, booking.client_id)
    assert client is not None
    previous_start = booking.start
    if new_start == previous_start:
        return booking
    if booking.is_group:
        _move_seat(
            session, store, calendars, booking, service, professional, client, new_start, now
        )
    else:
        rejection = check_one_on_one(
            session, service, professional, new_start, now, exclude=booking, calendars=calendars
        )
        if rejection is not None:
            _raise_for(rejection)
        booking.start = new_start
        booking.end = new_start + timedelta(minutes=service.duration_minutes)
        booking.sequence += 1
        _flush_or_conflict(session, _REJECTION_MESSAGES[SlotRejection.CONFLICT])
        _write_booking_event(
            session, store, calendars, booking, service, professional, client, links, now
        )
    session.flush()
    events.publish(
        session, BookingChanged("rescheduled", booking.id, by, previous_start=previous_start)
    )
    return booking


def _move_seat(
    session: Session,
    store: CalendarStore,
    calendars: ProfessionalCalendars,
    booking: Booking,
    service: Service,
    professional: User,
    client: User,
    new_start: datetime,
    now: datetime,
) -> None:
    occurrence, rejection = find_group_occurrence(session, service, professional, new_start, now)
    if occurrence is None:
        raise OutsideBookingWindow("No session of this class starts at that time.")
    if rejection is not None:
        _raise_for(rejection)
    old_recurrence = _recurrence_id_of(booking, session)
    old_session_id = booking.group_session_id
    assert old_session_id is not None
    _take_seat(session, occurrence, service.capacity or 1)
    _release_seat(session, old_session_id, booking.start)
    # Leave the old occurrence's event, join the new one's.
    old_item = store.get_item_by_uid(calendars.bookings_path, booking.event_uid)
    if old_item is not None:
        try:
            ics = remove_attendee(
                old_item.text,
                client.email,
                recurrence_id=old_recurrence,
                zone=calendars.zone,
                now=now,
            )
            write_event_object(store, calendars.bookings_path, ics, old_item.href)
        except (InvalidCalendarData, UnknownOccurrence) as error:
            log.warning("booking %s: old session event unreadable: %s", booking.id, error)
    booking.group_session_id = occurrence.session.id
    booking.event_uid = occurrence.session.event_uid
    booking.start, booking.end = occurrence.interval.start, occurrence.interval.end
    booking.sequence += 1
    _join_occurrence(session, store, calendars, booking, client, occurrence, now)
