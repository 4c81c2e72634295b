"""Producing complete VCALENDAR text: the one event builder behind booking and group-session
events, and the edits the platform makes to stored events (cancel an occurrence or a series,
bump SEQUENCE, add or remove an attendee), each keeping what a calendar app wrote."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from booking.core.ical.expand import expand_raw, to_instant
from booking.core.ical.validate import PRODID, date_value, impossible_rule, parse_calendar
from booking.core.intervals import Interval, to_utc
from booking.errors import InvalidCalendarData, UnknownOccurrence

logger = logging.getLogger(__name__)

_STATUSES = ("TENTATIVE", "CONFIRMED", "CANCELLED")
_EMAIL = re.compile(r"^[^@\s:;,<>\"]+@[^@\s:;,<>\"]+$")
_X_NAME = re.compile(r"^X-[A-Z0-9-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Attendee:
    """A participant of an event.

    ``rsvp=None`` asks for a reply exactly when ``partstat`` is NEEDS-ACTION.
    """

    email: str
    name: str = ""
    partstat: str = "ACCEPTED"
    role: str = "REQ-PARTICIPANT"
    rsvp: bool | None = None


# --------------------------------------------------------------------------- writing


def _clean(text: str) -> str:
    """Return ``text`` without control characters (they would break parameter values)."""
    return _CONTROL.sub(" ", text).strip()


def _address(email: str, name: str) -> icalendar.vCalAddress:
    email = email.strip()
    if not _EMAIL.match(email):
        raise ValueError(f"not an email address: {email!r}")
    address = icalendar.vCalAddress(f"mailto:{email}")
    if _clean(name):
        address.params["CN"] = _clean(name)
    return address


def _attendee_property(attendee: Attendee) -> icalendar.vCalAddress:
    address = _address(attendee.email, attendee.name)
    partstat = attendee.partstat.upper()
    rsvp = attendee.rsvp if attendee.rsvp is not None else partstat == "NEEDS-ACTION"
    address.params["CUTYPE"] = "INDIVIDUAL"
    address.params["ROLE"] = attendee.role.upper()
    address.params["PARTSTAT"] = partstat
    address.params["RSVP"] = "TRUE" if rsvp else "FALSE"
    return address


def _email_of(address: Any) -> str:
    value = str(address).strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :]
    return value.strip().lower()


def _new_calendar(method: str | None) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    if method:
        calendar.add("METHOD", method.upper())
    return calendar


def _stamp(now: datetime | None) -> datetime:
    stamp = datetime.now(UTC) if now is None else to_utc(now)
    return stamp.replace(microsecond=0)


def _build_event(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    organizer_email: str,
    organizer_name: str,
    attendees: Sequence[Attendee],
    status: str,
    sequence: int,
    url: str | None,
    zone: ZoneInfo | None,
    extra: Mapping[str, str] | None,
    now: datetime | None,
    method: str | None,
    rrule: str | None,
) -> str:
    if not uid or _CONTROL.search(uid):
        raise ValueError(f"invalid UID {uid!r}")
    if to_utc(end) <= to_utc(start):
        raise ValueError("the event must end after it starts")
    status = status.upper()
    if status not in _STATUSES:
        raise ValueError(f"STATUS must be one of {', '.join(_STATUSES)}, not {status!r}")
    if sequence < 0:
        raise ValueError("SEQUENCE must not be negative")
    if rrule is not None and zone is None:
        raise ValueError("a recurring event needs a zone: a UTC rule would move with DST")
    stamp = _stamp(now)
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", stamp)
    event.add("CREATED", stamp)
    event.add("LAST-MODIFIED", stamp)
    if zone is None:
        event.add("DTSTART", to_utc(start).replace(microsecond=0))
        event.add("DTEND", to_utc(end).replace(microsecond=0))
    else:
        event.add("DTSTART", start.astimezone(zone).replace(microsecond=0))
        event.add("DTEND", end.astimezone(zone).replace(microsecond=0))
    if rrule is not None:
        event.add("RRULE", _parse_rrule(rrule))
    event.add("SUMMARY", summary)
    if description:
        event.add("DESCRIPTION", description)
    event.add("ORGANIZER", _address(organizer_email, organizer_name))
    for attendee in attendees:
        event.add("ATTENDEE", _attendee_property(attendee))
    event.add("STATUS", status)
    event.add("SEQUENCE", sequence)
    if url:
        event.add("URL", url)
    event.add("TRANSP", "OPAQUE")
    for name, value in (extra or {}).items():
        key = name.upper()
        if not _X_NAME.match(key):
            raise ValueError(f"extra property {name!r} must be named X-SOMETHING")
        event.add(key, value)
    calendar = _new_calendar(method)
    calendar.add_component(event)
    if zone is not None:
        # VTIMEZONE rules from January of the first year on; ten years for a recurring event
        # (clients that know the TZID use their own data beyond that).
        first_year = start.astimezone(zone).year
        last_year = end.astimezone(zone).year + 1 if rrule is None else first_year + 10
        calendar.add_missing_timezones(
            first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1)
        )
    return calendar.to_ical().decode()


def _parse_rrule(text: str) -> icalendar.vRecur:
    text = text.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    try:
        rule = icalendar.vRecur.from_ical(text)
    except ValueError as error:
        raise InvalidCalendarData(f"invalid RRULE {text!r}: {error}") from error
    if not rule.get("FREQ"):
        raise InvalidCalendarData(f"invalid RRULE {text!r}: FREQ is missing")
    reason = impossible_rule(rule)
    if reason:
        raise InvalidCalendarData(f"invalid RRULE {text!r}: it can never occur ({reason})")
    return rule


def build_booking_event(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    organizer_email: str,
    organizer_name: str,
    attendees: Sequence[Attendee],
    status: str = "CONFIRMED",
    sequence: int = 0,
    url: str | None = None,
    zone: ZoneInfo | None = None,
    extra: Mapping[str, str] | None = None,
    now: datetime | None = None,
    method: str | None = None,
) -> str:
    """Return a VCALENDAR with one VEVENT for a one-on-one booking, as text.

    DTSTART/DTEND are written in UTC, or with TZID and a VTIMEZONE when ``zone`` is given.
    The event has DTSTAMP, CREATED and LAST-MODIFIED (``now``, default the current time;
    pass it for reproducible output), ORGANIZER and ATTENDEEs with CN, PARTSTAT, ROLE, RSVP,
    and TRANSP:OPAQUE. ``extra`` adds X- properties (names must start with ``X-``).
    ``method`` (e.g. ``"REQUEST"``) is only for iTIP mail; stored CalDAV objects have none.
    Keep ``summary`` free of anything sensitive: it ends up in email subjects.
    Raises :class:`ValueError` for an invalid UID, email, status, sequence or time span.
    """
    return _build_event(
        uid=uid,
        start=start,
        end=end,
        summary=summary,
        description=description,
        organizer_email=organizer_email,
        organizer_name=organizer_name,
        attendees=attendees,
        status=status,
        sequence=sequence,
        url=url,
        zone=zone,
        extra=extra,
        now=now,
        method=method,
        rrule=None,
    )


def build_session_event(
    *,
    uid: str,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    organizer_email: str,
    organizer_name: str,
    attendees: Sequence[Attendee] = (),
    rrule: str | None = None,
    status: str = "CONFIRMED",
    sequence: int = 0,
    url: str | None = None,
    zone: ZoneInfo | None = None,
    extra: Mapping[str, str] | None = None,
    now: datetime | None = None,
    method: str | None = None,
) -> str:
    """Return a VCALENDAR with one VEVENT for a group class session, as text.

    Like :func:`build_booking_event`; ``start``/``end`` are the first session. ``rrule``
    (e.g. ``"FREQ=WEEKLY;BYDAY=TU"``) makes it recurring and then requires ``zone``, so the
    class stays at the same local time across DST. Attendees change later through
    :func:`add_attendee` / :func:`remove_attendee`. For an invitation mailed to one client,
    build it with that client alone: participants must not see each other.
    Raises :class:`InvalidCalendarData` for an unusable ``rrule``.
    """
    return _build_event(
        uid=uid,
        start=start,
        end=end,
        summary=summary,
        description=description,
        organizer_email=organizer_email,
        organizer_name=organizer_name,
        attendees=attendees,
        status=status,
        sequence=sequence,
        url=url,
        zone=zone,
        extra=extra,
        now=now,
        method=method,
        rrule=rrule,
    )


# --------------------------------------------------------------------------- editing


def _master(calendar: icalendar.Calendar) -> icalendar.cal.Component:
    events = calendar.walk("VEVENT")
    masters = [event for event in events if "RECURRENCE-ID" not in event]
    if len(masters) != 1:
        raise InvalidCalendarData(
            f"expected exactly one VEVENT without RECURRENCE-ID, found {len(masters)}"
        )
    return masters[0]


def _touch(component: icalendar.cal.Component, stamp: datetime) -> None:
    for name in ("DTSTAMP", "LAST-MODIFIED"):
        component.pop(name, None)
        component.add(name, stamp)


def _bump(component: icalendar.cal.Component, floor: int = 0) -> None:
    sequence = max(int(component.get("SEQUENCE", 0)), floor) + 1
    component.pop("SEQUENCE", None)
    component.add("SEQUENCE", sequence)


def _as_value_like(instant: datetime, like: date | datetime, zone: tzinfo) -> date | datetime:
    """Return ``instant`` written the way ``like`` is: date, floating or in like's zone."""
    if not isinstance(like, datetime):
        return instant.astimezone(zone).date()
    if like.tzinfo is None:
        return instant.astimezone(zone).replace(tzinfo=None)
    return instant.astimezone(like.tzinfo)


def _override_for(
    calendar: icalendar.Calendar,
    recurrence_id: datetime,
    zone: ZoneInfo,
) -> icalendar.cal.Component:
    """Return the override VEVENT of one occurrence, copying it from the master if needed."""
    master = _master(calendar)
    wanted = to_utc(recurrence_id)
    for event in calendar.walk("VEVENT"):
        if (
            "RECURRENCE-ID" in event
            and to_instant(date_value(event, "RECURRENCE-ID"), zone) == wanted
        ):
            return event
    if "RRULE" not in master and "RDATE" not in master:
        raise UnknownOccurrence(f"event {master.get('UID')} does not recur")
    around = Interval(wanted - timedelta(days=1), wanted + timedelta(days=1))
    hits, _ = expand_raw([calendar], around, zone, max_occurrences=10_000)
    hit = next((hit for hit in hits if hit.generated and hit.recurrence_id == wanted), None)
    if hit is None:
        raise UnknownOccurrence(
            f"{wanted.isoformat()} is not an occurrence of event {master.get('UID')}"
        )
    override = master.copy()
    for name in ("RRULE", "RDATE", "EXDATE", "DTSTART", "DTEND", "DURATION", "RECURRENCE-ID"):
        override.pop(name, None)
    master_start = date_value(master, "DTSTART")
    start_value = _as_value_like(wanted, master_start, zone)
    override.add("RECURRENCE-ID", start_value)
    override.add("DTSTART", start_value)
    if "DTEND" in master:
        override.add(
            "DTEND",
            hit.raw_end
            if not isinstance(hit.raw_end, datetime)
            else _as_value_like(hit.end, master_start, zone),
        )
    elif "DURATION" in master:
        override.add("DURATION", master.decoded("DURATION"))
    for alarm in master.subcomponents:
        override.add_component(alarm.copy())
    calendar.add_component(override)
    return override


def _targets(
    calendar: icalendar.Calendar, recurrence_id: datetime | None, zone: ZoneInfo
) -> list[icalendar.cal.Component]:
    if recurrence_id is None:
        return list(calendar.walk("VEVENT"))
    return [_override_for(calendar, recurrence_id, zone)]


def cancel_event(
    ics: str | bytes,
    *,
    recurrence_id: datetime | None = None,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> str:
    """Return ``ics`` with STATUS:CANCELLED and SEQUENCE bumped, as text.

    Without ``recurrence_id`` the whole event (master and every override) is cancelled; with
    it only that occurrence, through a RECURRENCE-ID override created from the master when
    needed. ``zone`` reads floating and all-day values (default UTC). Raises
    :class:`InvalidCalendarData` for invalid text and :class:`UnknownOccurrence` for a
    ``recurrence_id`` that is not an occurrence. Cancelling twice bumps SEQUENCE twice.
    """
    calendar = parse_calendar(ics)
    zone = zone or ZoneInfo("UTC")
    stamp = _stamp(now)
    floor = int(_master(calendar).get("SEQUENCE", 0))
    for event in _targets(calendar, recurrence_id, zone):
        event.pop("STATUS", None)
        event.add("STATUS", "CANCELLED")
        _bump(event, floor)
        _touch(event, stamp)
    return calendar.to_ical().decode()


def bump_sequence(ics: str | bytes, *, now: datetime | None = None) -> str:
    """Return ``ics`` with SEQUENCE incremented on every VEVENT, as text.

    For a significant change made by editing the text (new time, new place): clients
    replace their copy only when SEQUENCE grows. DTSTAMP and LAST-MODIFIED are refreshed
    (``now``, default the current time). Raises :class:`InvalidCalendarData` for invalid text.
    """
    calendar = parse_calendar(ics)
    stamp = _stamp(now)
    floor = int(_master(calendar).get("SEQUENCE", 0))
    for event in calendar.walk("VEVENT"):
        _bump(event, floor)
        _touch(event, stamp)
    return calendar.to_ical().decode()


def _attendees(component: icalendar.cal.Component) -> list[Any]:
    value = component.get("ATTENDEE")
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _set_attendees(component: icalendar.cal.Component, attendees: list[Any]) -> None:
    component.pop("ATTENDEE", None)
    for attendee in attendees:
        component.add("ATTENDEE", attendee)


def add_attendee(
    ics: str | bytes,
    attendee: Attendee,
    *,
    recurrence_id: datetime | None = None,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> str:
    """Return ``ics`` with ``attendee`` on the event, or on one occurrence of it, as text.

    An attendee with the same email (case-insensitive) is replaced, so repeating the call
    changes nothing: safe for retried jobs. Without ``recurrence_id`` the master and every
    override get the attendee; with it, only that occurrence (an override is created from the
    master when needed). SEQUENCE is unchanged (RFC 5546 does not require a bump for
    attendee changes); DTSTAMP and LAST-MODIFIED are refreshed. Errors as for
    :func:`cancel_event`.
    """
    calendar = parse_calendar(ics)
    stamp = _stamp(now)
    wanted = attendee.email.strip().lower()
    new = _attendee_property(attendee)
    for event in _targets(calendar, recurrence_id, zone or ZoneInfo("UTC")):
        kept = [a for a in _attendees(event) if _email_of(a) != wanted]
        _set_attendees(event, [*kept, new])
        _touch(event, stamp)
    return calendar.to_ical().decode()


def remove_attendee(
    ics: str | bytes,
    email: str,
    *,
    recurrence_id: datetime | None = None,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
) -> str:
    """Return ``ics`` without the attendee ``email`` on the event or on one occurrence.

    Removing someone who is not there changes nothing (the text is returned re-serialised
    but with the same content and stamps). Scope, SEQUENCE and errors as for
    :func:`add_attendee`; removing from one occurrence creates its override when needed.
    """
    calendar = parse_calendar(ics)
    stamp = _stamp(now)
    wanted = email.strip().lower()
    for event in _targets(calendar, recurrence_id, zone or ZoneInfo("UTC")):
        current = _attendees(event)
        kept = [a for a in current if _email_of(a) != wanted]
        if len(kept) != len(current):
            _set_attendees(event, kept)
            _touch(event, stamp)
    return calendar.to_ical().decode()
