"""Strict reading of RFC 5545 data coming in from outside: :func:`parse_calendar` refuses
what the platform cannot use (with every problem named), and rules that can never produce an
instance are rejected up front, because ``dateutil`` would otherwise search until the year
9999. :func:`load_calendars` is the lenient reader the expansion uses: a calendar that cannot
be read is logged and skipped, never raised, because one bad event in someone's phone
calendar must not take the booking page down."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

import icalendar

from booking.errors import InvalidCalendarData

logger = logging.getLogger(__name__)

PRODID = "-//Consult Platform//Booking//EN"

CalendarSource = str | bytes | icalendar.Calendar


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
            reason = impossible_rule(rule)
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


def impossible_rule(rule: icalendar.vRecur) -> str | None:
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
