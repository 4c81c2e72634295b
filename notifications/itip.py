"""iTIP invitations (RFC 5546) for booking emails, built with the booking core's
event writer so the mailed event matches the CalDAV one: same UID, ORGANIZER
(the professional), the client as ATTENDEE, SEQUENCE from the booking.

A group seat's invitation names the one client only (participants never see each
other) and, for a recurring class, carries the occurrence's RECURRENCE-ID.
"""

from __future__ import annotations

from datetime import datetime

import icalendar

from booking.core.ical.write import Attendee, build_booking_event
from notifications.facts import BookingFacts
from notifications.service import CalendarPart


def invitation(
    facts: BookingFacts,
    *,
    method: str,
    for_client: bool,
    now: datetime,
    uid: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    recurrence_id: datetime | None = None,
) -> CalendarPart:
    """The iTIP part for ``facts``'s booking: ``method`` REQUEST (STATUS:CONFIRMED)
    or CANCEL (STATUS:CANCELLED). ``uid``/``start``/``end``/``recurrence_id``
    override the booking's own (to cancel the occurrence a seat moved away from);
    without ``uid``, a recurring group seat gets its occurrence's RECURRENCE-ID."""
    booking, service = facts.booking, facts.service
    method = method.upper()
    other = facts.professional if for_client else facts.client
    summary = f"{service.title} with {other.name}"
    description = f"Booking page: {facts.booking_url}"
    if for_client:
        description += f"\nCancel or move without signing in: {facts.manage_url}"
    if uid is None:
        recurrence_id = facts.recurrence_id
    text = build_booking_event(
        uid=uid or booking.event_uid,
        start=start or booking.start,
        end=end or booking.end,
        summary=summary,
        description=description,
        organizer_email=facts.professional.email,
        organizer_name=facts.professional.name,
        attendees=[Attendee(facts.client.email, facts.client.name)],
        status="CANCELLED" if method == "CANCEL" else "CONFIRMED",
        sequence=booking.sequence,
        url=facts.booking_url,
        zone=facts.zone,
        now=now,
        method=method,
    )
    if recurrence_id is not None:
        calendar = icalendar.Calendar.from_ical(text)
        for event in calendar.walk("VEVENT"):
            event.add("RECURRENCE-ID", recurrence_id.astimezone(facts.zone).replace(microsecond=0))
        text = calendar.to_ical().decode()
    return CalendarPart(
        method=method, ics=text, uid=uid or booking.event_uid, recurrence_id=recurrence_id
    )
