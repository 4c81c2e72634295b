"""Reading and writing RFC 5545 calendar data for the booking core.

Reading (:func:`busy_intervals`, :func:`occurrences`) expands VEVENTs with
``recurring_ical_events`` (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, RANGE=THISANDFUTURE)
and turns every occurrence into aware UTC datetimes: all-day dates become whole local days in
the professional's zone and floating times are read in that zone. It is lenient on purpose:
a calendar or event that cannot be read is logged and skipped, never raised, because one bad
event in someone's phone calendar must not take the booking page down.

Work is bounded. Each recurring series is expanded lazily with two budgets: at most
``max_occurrences`` occurrences inside the window, and at most ``_MAX_SKIPPED`` rule instances
before it (a FREQ=SECONDLY rule that started years ago). A series that exceeds a budget is cut
there and logged; :func:`busy_intervals` then treats the rest of the window as busy (failing
closed: an unknowable calendar must not let anyone double-book). Rules that can never produce
an instance (BYMONTHDAY=30 in February, BYSETPOS beyond any set) are rejected up front,
because the underlying ``dateutil`` would otherwise search until the year 9999.

Writing (:func:`build_booking_event`, :func:`build_session_event`, :func:`cancel_event`,
:func:`add_attendee`, :func:`remove_attendee`) produces complete VCALENDAR text, and
:func:`parse_calendar` is the strict validator for data coming in from outside.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from recurring_ical_events.selection.name import ComponentsWithName
from recurring_ical_events.series import Series
from recurring_ical_events.util import compare_greater, convert_to_datetime

from booking.errors import InvalidCalendarData, UnknownOccurrence
from booking.intervals import Interval, normalize, to_utc

__all__ = [
    "PRODID",
    "Attendee",
    "CalendarSource",
    "Occurrence",
    "RawOccurrence",
    "add_attendee",
    "build_booking_event",
    "build_session_event",
    "bump_sequence",
    "busy_intervals",
    "cancel_event",
    "date_value",
    "expand_raw",
    "load_calendars",
    "occurrences",
    "parse_calendar",
    "remove_attendee",
    "rrules_of",
    "to_instant",
]

logger = logging.getLogger(__name__)

PRODID = "-//Consult Platform//Booking//EN"

CalendarSource = str | bytes | icalendar.Calendar

# Rule instances a series may generate before the window starts. Enough for a daily event
# that started in 1890 or an hourly one from five years ago; a FREQ=SECONDLY rule from last
# week stops here after about a tenth of a second.
_MAX_SKIPPED = 50_000

_STATUSES = ("TENTATIVE", "CONFIRMED", "CANCELLED")
_EMAIL = re.compile(r"^[^@\s:;,<>\"]+@[^@\s:;,<>\"]+$")
_X_NAME = re.compile(r"^X-[A-Z0-9-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# --------------------------------------------------------------------------- data types


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


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a VEVENT, with times in UTC.

    ``recurrence_id`` (UTC) identifies the occurrence within a recurring series and is
    ``None`` for an event that does not recur. ``component`` is the occurrence as its own
    VEVENT (DTSTART/DTEND of this occurrence, no RRULE), e.g. to read its attendees.
    """

    uid: str
    recurrence_id: datetime | None
    start: datetime
    end: datetime
    summary: str
    component: icalendar.Event = field(compare=False, repr=False)


# --------------------------------------------------------------------------- parsing


# Properties whose value decides when something happens. A broken value elsewhere (a CREATED
# of "0000...", an odd GEO) is tolerated: clients write such things and the time is intact.
_TIME_PROPERTIES = frozenset(
    {
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "RRULE",
        "RDATE",
        "EXDATE",
        "RECURRENCE-ID",
        "STATUS",
        "TRANSP",
    }
)
_TIMEZONE_COMPONENTS = frozenset({"VTIMEZONE", "STANDARD", "DAYLIGHT"})


def parse_calendar(text: str | bytes) -> icalendar.Calendar:
    """Return the VCALENDAR in ``text``, validated for scheduling.

    Raises :class:`InvalidCalendarData` with a message naming the problem when the text is
    not exactly one VCALENDAR; when a time-defining value cannot be parsed (a VEVENT's UID,
    DTSTART, DTEND, DURATION, RRULE, RDATE, EXDATE, RECURRENCE-ID, STATUS, TRANSP, or
    anything in a VTIMEZONE); or when a VEVENT lacks UID or DTSTART, has both DTEND and
    DURATION, ends before it starts, mixes DATE and DATE-TIME in DTSTART/DTEND, or has an
    RRULE without FREQ or that can never occur. Unparsable values of other properties are
    kept as they are (``component.errors`` lists them).
    """
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError, ...
        raise InvalidCalendarData(f"not valid iCalendar data: {error}") from error
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        name = getattr(calendar, "name", type(calendar).__name__)
        raise InvalidCalendarData(f"expected a VCALENDAR, found {name}")
    problems: list[str] = []
    for component in calendar.walk():
        label = _label(component)
        relevant = [
            (prop, message)
            for prop, message in component.errors
            if component.name in _TIMEZONE_COMPONENTS
            or (component.name == "VEVENT" and str(prop).upper() in _TIME_PROPERTIES)
        ]
        problems.extend(f"{label}: {prop}: {message}" for prop, message in relevant)
        if component.name == "VEVENT" and not relevant:
            problems.extend(f"{label}: {message}" for message in _vevent_problems(component))
    if problems:
        raise InvalidCalendarData("invalid calendar data: " + "; ".join(problems))
    return calendar


def _label(component: icalendar.cal.Component) -> str:
    uid = component.get("UID")
    return f"{component.name} {uid}" if uid else str(component.name)


def _vevent_problems(event: icalendar.cal.Component) -> list[str]:
    problems = []
    if not event.get("UID"):
        problems.append("UID is missing")
    if "DTSTART" not in event:
        return [*problems, "DTSTART is missing"]
    start = date_value(event, "DTSTART")
    if "DTEND" in event and "DURATION" in event:
        problems.append("DTEND and DURATION must not both be present")
    if "DTEND" in event:
        end = date_value(event, "DTEND")
        if isinstance(start, datetime) != isinstance(end, datetime):
            problems.append("DTSTART and DTEND must both be dates or both be date-times")
        elif _comparable(end) < _comparable(start):
            problems.append("DTEND is before DTSTART")
    for rule in rrules_of(event):
        if not rule.get("FREQ"):
            problems.append("RRULE has no FREQ")
        else:
            reason = _impossible_rule(rule)
            if reason:
                problems.append(f"RRULE can never occur ({reason})")
    return problems


def date_value(component: icalendar.cal.Component, name: str) -> date | datetime:
    """Return the date or date-time value of property ``name`` (ValueError otherwise)."""
    prop: Any = component[name]
    value = prop.dt
    if not isinstance(value, date):
        raise ValueError(f"{name} is not a date or date-time")
    return value


def _comparable(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rrules_of(component: icalendar.cal.Component) -> list[icalendar.vRecur]:
    rules = component.get("RRULE")
    if rules is None:
        return []
    return list(rules) if isinstance(rules, list) else [rules]


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")


def _ints(rule: icalendar.vRecur, name: str) -> list[int]:
    return [int(value) for value in rule.get(name, [])]


def _max_days_per_period(rule: icalendar.vRecur, freq: str) -> int:
    """Return an upper bound of the days one period of ``rule`` can select."""
    byday = [str(value) for value in rule.get("BYDAY", [])]
    months = len(rule.get("BYMONTH", [])) or 12
    if freq == "WEEKLY":
        return min(7, len(byday) or 1)
    if freq == "MONTHLY":
        if rule.get("BYMONTHDAY"):
            return len(rule["BYMONTHDAY"])
        return sum(1 if value[:-2] else 5 for value in byday) or 1
    if freq == "YEARLY":
        if rule.get("BYYEARDAY"):
            return len(rule["BYYEARDAY"])
        if rule.get("BYWEEKNO"):
            return 7 * len(rule["BYWEEKNO"])
        if rule.get("BYMONTHDAY"):
            return len(rule["BYMONTHDAY"]) * months
        if byday:
            per_month = rule.get("BYMONTH") is not None
            return sum(
                (months if per_month else 1) if value[:-2] else (5 * months if per_month else 53)
                for value in byday
            )
        return len(rule.get("BYMONTH", [])) or 1
    return 1


def _impossible_rule(rule: icalendar.vRecur) -> str | None:
    """Return why ``rule`` can never produce an instance, or ``None`` if it might.

    Only the patterns that make dateutil search until the year 9999 are recognised: a
    BYMONTHDAY that no BYMONTH has, and a BYSETPOS beyond the largest possible set.
    """
    monthdays = _ints(rule, "BYMONTHDAY")
    months = [month for month in _ints(rule, "BYMONTH") if 1 <= month <= 12] or list(range(1, 13))
    if monthdays and not any(
        abs(day) <= _DAYS_IN_MONTH[month - 1] for day in monthdays for month in months
    ):
        return "BYMONTHDAY does not exist in BYMONTH"
    setpos = _ints(rule, "BYSETPOS")
    freq = str(rule["FREQ"][0]).upper() if rule.get("FREQ") else ""
    if setpos and freq in _FREQS:
        times = 1
        for name, coarsest in (
            ("BYHOUR", "DAILY"),
            ("BYMINUTE", "HOURLY"),
            ("BYSECOND", "MINUTELY"),
        ):
            if _FREQS.index(freq) <= _FREQS.index(coarsest):
                times *= len(rule.get(name, [])) or 1
        largest = _max_days_per_period(rule, freq) * times
        if all(abs(position) > largest for position in setpos):
            return "BYSETPOS is beyond every set"
    return None


def load_calendars(calendars: Iterable[CalendarSource]) -> list[icalendar.Calendar]:
    """Return the calendars in ``calendars``, parsing text leniently.

    Text may hold several concatenated VCALENDARs. Text that cannot be parsed at all is
    logged as a warning and skipped; broken single events are left in place for the
    expansion to skip.
    """
    result: list[icalendar.Calendar] = []
    for index, source in enumerate(calendars):
        if isinstance(source, icalendar.Calendar):
            result.append(source)
            continue
        try:
            parsed = icalendar.Calendar.from_ical(source, multiple=True)
        except Exception as error:  # any parser failure means: skip this calendar
            logger.warning("skipping calendar #%d: cannot parse it: %s", index, error)
            continue
        if not parsed:
            logger.warning("skipping calendar #%d: it contains no VCALENDAR", index)
        for calendar in parsed:
            if isinstance(calendar, icalendar.Calendar) and calendar.name == "VCALENDAR":
                result.append(calendar)
            else:
                logger.warning(
                    "skipping calendar #%d: %s is not a VCALENDAR",
                    index,
                    getattr(calendar, "name", "?"),
                )
    return result


# --------------------------------------------------------------------------- expansion


class _BoundedSeries(Series):
    """A ``recurring_ical_events`` series whose rule expansion is lazy and budgeted."""

    class RecurrenceRules(Series.RecurrenceRules):
        max_in_span = 5000
        max_skipped = _MAX_SKIPPED
        truncated_at: datetime | date | None = None

        def rrule_between(self, span_start: Any, span_stop: Any) -> Iterator[Any]:
            """Yield rule instances in the span, stopping at the budgets (see module doc)."""
            span_start_dt = convert_to_datetime(span_start, self.tzinfo)
            span_stop_dt = convert_to_datetime(span_stop, self.tzinfo)
            for rule in self.rrules:
                skipped = in_span = 0
                for start in rule:
                    if start > span_stop_dt:
                        break
                    if start < span_start_dt:
                        skipped += 1
                        if skipped > self.max_skipped:
                            self._truncate(start)
                            break
                        continue
                    until = getattr(rule, "until", None)
                    if until is not None and compare_greater(start, until):
                        break
                    in_span += 1
                    if in_span > self.max_in_span:
                        self._truncate(start)
                        break
                    yield start

        def _truncate(self, at: Any) -> None:
            if self.truncated_at is None or at < self.truncated_at:
                self.truncated_at = at


class _BoundedEvents(ComponentsWithName):
    """Collects VEVENT series; a series that cannot be built is logged and skipped."""

    def __init__(
        self,
        *,
        max_occurrences: int,
        exclude_uids: Collection[str],
        window: Interval,
        zone: ZoneInfo,
    ) -> None:
        super().__init__("VEVENT", series=_BoundedSeries)
        self.max_occurrences = max_occurrences
        self.exclude_uids = frozenset(exclude_uids)
        self.window = window
        self.zone = zone

    def _outside_window(self, components: list[Any]) -> bool:
        """Return whether a lone, non-recurring event certainly misses the window.

        A calendar feed often holds years of history; skipping those events before
        ``recurring_ical_events`` builds a series for each of them is most of the work saved.
        """
        if len(components) != 1:
            return False
        component = components[0]
        if "RRULE" in component or "RDATE" in component or "RECURRENCE-ID" in component:
            return False
        adapter = self._adapter(component)
        start = to_instant(adapter.start, self.zone)
        end = to_instant(adapter.end, self.zone)
        return end < self.window.start or start > self.window.end

    def collect_series_from(self, source: Any, suppress_errors: Any) -> list[Series]:
        by_uid: dict[str, list[Any]] = {}
        for component in source.walk("VEVENT"):
            uid = str(component.get("UID", "")) or f"(no UID #{id(component)})"
            if uid in self.exclude_uids:
                continue
            by_uid.setdefault(uid, []).append(component)
        result: list[Series] = []
        for uid, components in by_uid.items():
            try:
                problems = [
                    reason
                    for component in components
                    for rule in rrules_of(component)
                    if (reason := _impossible_rule(rule))
                ]
                if problems:
                    raise ValueError(f"RRULE can never occur: {problems[0]}")
                if self._outside_window(components):
                    continue
                series = _BoundedSeries([self._adapter(c) for c in components])
            except Exception as error:  # malformed data of any kind: skip this series
                logger.warning("skipping event %s: %s", uid, error)
                continue
            if isinstance(series.recurrence, Series.RecurrenceRules):
                series.recurrence.max_in_span = self.max_occurrences
            result.append(series)
        return result


@dataclass(frozen=True, slots=True)
class RawOccurrence:
    """An occurrence as the expansion found it, before any filtering."""

    uid: str
    recurrence_id: datetime | None
    raw_start: date | datetime  # as written (wall clock), for reading hours back
    raw_end: date | datetime
    start: datetime  # UTC
    end: datetime  # UTC
    source: icalendar.cal.Component  # the VEVENT defining it: the master or an override
    generated: bool  # produced by the master's RRULE/RDATE, not a one-off or override
    occurrence: recurring_ical_events.Occurrence

    @property
    def cancelled(self) -> bool:
        return str(self.source.get("STATUS", "")).upper() == "CANCELLED"

    @property
    def transparent(self) -> bool:
        return str(self.source.get("TRANSP", "")).upper() == "TRANSPARENT"


@dataclass(frozen=True, slots=True)
class _Truncation:
    at: datetime  # UTC; everything from here on is unknown
    master: icalendar.cal.Component


def to_instant(value: date | datetime, zone: tzinfo) -> datetime:
    """Return the UTC instant of an iCalendar value: a date is local midnight in ``zone``,
    a floating date-time is read in ``zone``, an aware one is converted."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone).astimezone(UTC)
    return value.astimezone(UTC)


def _source_of(occurrence: recurring_ical_events.Occurrence) -> icalendar.cal.Component:
    adapter = getattr(occurrence, "_adapter", None)
    component = getattr(adapter, "_component", None)
    if component is None:  # a future recurring_ical_events: fall back to the public copy
        component = occurrence.as_component(True)
    return component


def expand_raw(
    calendars: Iterable[icalendar.Calendar],
    window: Interval,
    zone: ZoneInfo,
    *,
    max_occurrences: int,
    exclude_uids: Collection[str] = (),
) -> tuple[list[RawOccurrence], list[_Truncation]]:
    """Return every occurrence overlapping ``window`` plus the series cut by a budget."""
    if max_occurrences < 1:
        raise ValueError("max_occurrences must be positive")
    span_start = window.start.astimezone(zone)
    span_stop = window.end.astimezone(zone)
    hits: list[RawOccurrence] = []
    truncations: list[_Truncation] = []
    selector = _BoundedEvents(
        max_occurrences=max_occurrences, exclude_uids=exclude_uids, window=window, zone=zone
    )
    for calendar in calendars:
        try:
            query = recurring_ical_events.of(calendar, components=[selector])
        except Exception as error:  # e.g. a non-Gregorian CALSCALE
            logger.warning("skipping calendar: %s", error)
            continue
        for series in query.series:
            try:
                found = list(series.between(span_start, span_stop))
            except Exception as error:  # malformed data inside the series
                logger.warning("skipping event %s: %s", series.uid, error)
                continue
            recurrence = series.recurrence
            master = recurrence.core._component if recurrence.has_core else None
            for occurrence in found:
                hit = _hit(occurrence, master, zone)
                if hit is not None:
                    hits.append(hit)
            truncated_at = getattr(recurrence, "truncated_at", None)
            if truncated_at is not None and master is not None:
                at = to_instant(truncated_at, zone)
                logger.warning(
                    "event %s recurs too often (more than %d occurrences in the window or "
                    "%d before it); expansion stopped at %s",
                    series.uid,
                    max_occurrences,
                    _MAX_SKIPPED,
                    at.isoformat(),
                )
                truncations.append(_Truncation(at, master))
    return hits, truncations


def _hit(
    occurrence: recurring_ical_events.Occurrence,
    master: icalendar.cal.Component | None,
    zone: ZoneInfo,
) -> RawOccurrence | None:
    source = _source_of(occurrence)
    try:
        start = to_instant(occurrence.start, zone)
        end = to_instant(occurrence.end, zone)
    except (TypeError, ValueError, OverflowError) as error:
        logger.warning("skipping an occurrence of %s: %s", source.get("UID"), error)
        return None
    recurring = master is not None and ("RRULE" in master or "RDATE" in master)
    adapter = getattr(occurrence, "_adapter", None)
    moved_by = getattr(adapter, "move_recurrences_by", timedelta(0))
    if "RECURRENCE-ID" in source and (
        not moved_by or occurrence.start == getattr(adapter, "start", occurrence.start)
    ):
        # The override itself (for RANGE=THISANDFUTURE: the one that starts the range).
        recurrence_id: datetime | None = to_instant(date_value(source, "RECURRENCE-ID"), zone)
        generated = False
    elif "RECURRENCE-ID" in source:
        # Generated by the rule but shifted by a RANGE=THISANDFUTURE override.
        recurrence_id = to_instant(occurrence.start - moved_by, zone)
        generated = True
    elif recurring and source is master:
        recurrence_id = start
        generated = True
    else:
        recurrence_id = None
        generated = False
    return RawOccurrence(
        uid=str(source.get("UID", "")),
        recurrence_id=recurrence_id,
        raw_start=occurrence.start,
        raw_end=occurrence.end,
        start=start,
        end=end,
        source=source,
        generated=generated,
        occurrence=occurrence,
    )


def busy_intervals(
    calendars: Iterable[CalendarSource],
    window: Interval,
    zone: ZoneInfo,
    *,
    max_occurrences: int = 5000,
    exclude_uids: Collection[str] = (),
) -> list[Interval]:
    """Return the time blocked by events in ``calendars`` around ``window``, merged, in UTC.

    Every VEVENT occurrence overlapping ``window`` counts, except TRANSP:TRANSPARENT ones,
    STATUS:CANCELLED ones (a cancelled override cancels just that occurrence), zero-length
    ones and those whose UID is in ``exclude_uids`` (e.g. the booking being rescheduled).
    All-day events block whole local days in ``zone``; floating times are read in ``zone``;
    an event without DTEND lasts its DURATION, else one day (dates) or nothing (date-times).
    Intervals are not clipped: an event reaching into the window is returned whole, which is
    what buffers need. Pass a window widened by the largest buffer.

    Malformed calendars and events are logged and skipped. A series with more than
    ``max_occurrences`` occurrences in the window is cut there and the rest of the window
    is returned as busy (fail closed); see the module docstring.
    """
    hits, truncations = expand_raw(
        load_calendars(calendars),
        window,
        zone,
        max_occurrences=max_occurrences,
        exclude_uids=exclude_uids,
    )
    busy = [
        Interval(hit.start, hit.end)
        for hit in hits
        if hit.end > hit.start and not hit.cancelled and not hit.transparent
    ]
    window_end = window.end
    for truncation in truncations:
        master = truncation.master
        if str(master.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(master.get("TRANSP", "")).upper() == "TRANSPARENT":
            continue
        start = max(truncation.at, window.start)
        if start < window_end:
            busy.append(Interval(start, window_end))
    return normalize(busy)


def _occurrence_component(hit: RawOccurrence) -> icalendar.Event:
    component = hit.occurrence.as_component(False)
    if hit.recurrence_id is None:
        # recurring_ical_events stamps a RECURRENCE-ID on every copy; a one-off has none.
        component.pop("RECURRENCE-ID", None)
    return component


def occurrences(
    calendars: Iterable[CalendarSource],
    window: Interval,
    zone: ZoneInfo,
    *,
    max_occurrences: int = 5000,
    exclude_uids: Collection[str] = (),
    include_cancelled: bool = False,
) -> list[Occurrence]:
    """Return the VEVENT occurrences overlapping ``window``, sorted by start then UID.

    Times are UTC, read as in :func:`busy_intervals`. Transparent events are included,
    cancelled ones (whole series or single overrides) only with ``include_cancelled``.
    Zero-length occurrences are included (a class may be a point in time). A series with
    more than ``max_occurrences`` occurrences in the window is cut there and logged.
    """
    hits, _ = expand_raw(
        load_calendars(calendars),
        window,
        zone,
        max_occurrences=max_occurrences,
        exclude_uids=exclude_uids,
    )
    result = [
        Occurrence(
            uid=hit.uid,
            recurrence_id=hit.recurrence_id,
            start=hit.start,
            end=hit.end,
            summary=str(hit.source.get("SUMMARY", "")),
            component=_occurrence_component(hit),
        )
        for hit in hits
        if include_cancelled or not hit.cancelled
    ]
    result.sort(key=lambda occurrence: (occurrence.start, occurrence.uid))
    return result


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
    reason = _impossible_rule(rule)
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
