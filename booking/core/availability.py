"""A professional's open hours: the weekly model, its API shape, and its calendar form.

The API speaks :class:`WeeklyHours` (a time zone, intervals per weekday, and date overrides).
The source of truth is the professional's "Availability" calendar, so that changes made in a
phone's calendar app count at once. :func:`availability_events` writes the model as events:

* one recurring VEVENT per weekday interval (``RRULE:FREQ=WEEKLY;BYDAY=MO``, DTSTART with the
  professional's TZID in the anchor's week, ``X-CONSULT-AVAILABILITY:weekly``);
* per override date an all-day marker (``X-CONSULT-AVAILABILITY:closed``, "Closed" or
  "Different hours") plus one-off events for its intervals (``...:override``).

All of them are TRANSP:TRANSPARENT: open hours are not busy time in anyone's free/busy view.

:func:`open_intervals` reads *any* events back as absolute open time, including events with no
X- properties created or moved in Apple Calendar: every occurrence is open time, except that on
a local date carrying a "closed" marker only one-off events and moved occurrences count (the
weekly rules are suspended that day). TRANSP is ignored here, since our own events are
transparent; a cancelled occurrence is not open. :func:`read_weekly_hours` recovers the API
shape: weekly intervals from the weekly rules, and overrides for the dates whose hours differ.

Wall-clock times map to instants with the RFC 5545 rule (``fold=0``, see
:mod:`booking.core.intervals`), so 09:00-17:00 Europe/Berlin is 08:00Z in winter and 07:00Z in
summer. An interval that lies wholly inside a DST gap covers no time that day (logged).
An end time of ``time(0)`` means 24:00, midnight at the end of the day.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from booking.core.ical.expand import RawOccurrence, expand_raw, to_instant
from booking.core.ical.validate import PRODID, CalendarSource, date_value, load_calendars, rrules_of
from booking.core.intervals import (
    Interval,
    from_wall_clock,
    local_midnight,
    normalize,
    split_by_local_day,
    to_utc,
)
from booking.errors import InvalidWeeklyHours
from consult.bounds import EARLIEST_DATE, LATEST_DATE, parse_date

__all__ = [
    "END_OF_DAY",
    "LOOK_AHEAD_DAYS",
    "MARKER_PROPERTY",
    "WEEKDAYS",
    "TimeRange",
    "WeeklyHours",
    "availability_events",
    "hours_to_intervals",
    "open_intervals",
    "parse_weekly_hours",
    "read_weekly_hours",
    "to_payload",
]

logger = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ICAL_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MARKER_PROPERTY = "X-CONSULT-AVAILABILITY"
END_OF_DAY = time(0)  # as the end of a range: 24:00
LOOK_AHEAD_DAYS = 365
MAX_INTERVALS_PER_DAY = 48
MAX_OVERRIDES = 1000

TimeRange = tuple[time, time]

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class WeeklyHours:
    """Open hours: per weekday, and per date where a day differs from its weekday.

    ``weekly`` has all seven keys ``"mon"`` .. ``"sun"``; each value is a sorted tuple of
    non-overlapping ``(start, end)`` wall-clock ranges in ``timezone`` (touching is allowed;
    ``end == time(0)`` is 24:00). ``overrides`` maps a date to its ranges, ``()`` = closed.
    Build it with :func:`parse_weekly_hours`, which guarantees all of this.
    """

    timezone: str
    weekly: Mapping[str, tuple[TimeRange, ...]]
    overrides: Mapping[date, tuple[TimeRange, ...]]

    @property
    def zone(self) -> ZoneInfo:
        """Return the :class:`ZoneInfo` of ``timezone``."""
        return ZoneInfo(self.timezone)

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        """Return the wall-clock ranges open on ``day``: its override, else its weekday's."""
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly[WEEKDAYS[day.weekday()]]


# --------------------------------------------------------------------------- API shape


def _seconds(value: time, *, end: bool = False) -> int:
    seconds = value.hour * 3600 + value.minute * 60 + value.second
    return _DAY_SECONDS if end and seconds == 0 else seconds


def _format(value: time, *, end: bool = False) -> str:
    if end and value == END_OF_DAY:
        return "24:00"
    return f"{value.hour:02d}:{value.minute:02d}"


def _parse_time(value: Any, *, end: bool) -> time | None:
    if not isinstance(value, str):
        return None
    if end and value == "24:00":
        return END_OF_DAY
    match = _TIME.match(value)
    if match is None:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _load_zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _parse_ranges(raw: Any, path: str, errors: dict[str, str]) -> tuple[TimeRange, ...]:
    if not isinstance(raw, list | tuple):
        errors[path] = 'expected a list of ["HH:MM", "HH:MM"] pairs'
        return ()
    if len(raw) > MAX_INTERVALS_PER_DAY:
        errors[path] = f"at most {MAX_INTERVALS_PER_DAY} intervals per day"
        return ()
    parsed: list[tuple[int, time, time]] = []
    for index, pair in enumerate(raw):
        where = f"{path}[{index}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            errors[where] = 'expected ["HH:MM", "HH:MM"]'
            continue
        start = _parse_time(pair[0], end=False)
        end = _parse_time(pair[1], end=True)
        if start is None:
            errors[where] = f"invalid start time {pair[0]!r}: use HH:MM from 00:00 to 23:59"
        elif end is None:
            errors[where] = f"invalid end time {pair[1]!r}: use HH:MM from 00:01 to 24:00"
        elif _seconds(end, end=True) <= _seconds(start):
            errors[where] = "end must be after start"
        else:
            parsed.append((index, start, end))
    parsed.sort(key=lambda item: (_seconds(item[1]), _seconds(item[2], end=True)))
    for (before, _, before_end), (index, start, _) in zip(parsed, parsed[1:], strict=False):
        if _seconds(start) < _seconds(before_end, end=True):
            errors[f"{path}[{index}]"] = f"overlaps {path}[{before}]"
    return tuple((start, end) for _, start, end in parsed)


def parse_weekly_hours(payload: Any) -> WeeklyHours:
    """Return the :class:`WeeklyHours` described by the API's JSON ``payload``.

    The shape is ``{"timezone": "Europe/Berlin", "weekly": {"mon": [["09:00", "17:00"]],
    ..., "sun": []}, "overrides": [{"date": "2025-12-24", "intervals": []}]}``; ``overrides``
    may be omitted. Times are ``HH:MM``; ``"24:00"`` is allowed as an end. Ranges come out
    sorted. Raises :class:`InvalidWeeklyHours` whose ``errors`` name every bad field
    (``"weekly.mon[0]"``: "end must be after start") for: an unknown field, an unknown time
    zone, a missing or unknown weekday, a malformed time or range, an end not after its
    start, overlapping ranges on one day, a malformed or duplicate override date, or more
    than :data:`MAX_INTERVALS_PER_DAY` ranges a day or :data:`MAX_OVERRIDES` overrides.
    """
    if not isinstance(payload, Mapping):
        raise InvalidWeeklyHours({"": "expected a JSON object"})
    errors: dict[str, str] = {}
    for key in payload:
        if key not in ("timezone", "weekly", "overrides"):
            errors[str(key)] = "unknown field (expected timezone, weekly, overrides)"
    timezone = payload.get("timezone")
    if "timezone" not in payload:
        errors["timezone"] = "missing: give an IANA time zone such as Europe/Berlin"
    elif _load_zone(timezone) is None:
        errors["timezone"] = f"unknown time zone {timezone!r}: use an IANA name"
    weekly: dict[str, tuple[TimeRange, ...]] = {}
    raw_weekly = payload.get("weekly")
    if not isinstance(raw_weekly, Mapping):
        errors["weekly"] = "expected an object with the keys mon, tue, wed, thu, fri, sat, sun"
    else:
        for key in raw_weekly:
            if key not in WEEKDAYS:
                errors[f"weekly.{key}"] = "unknown weekday: use mon, tue, wed, thu, fri, sat, sun"
        for day in WEEKDAYS:
            if day not in raw_weekly:
                errors[f"weekly.{day}"] = "missing: use [] for a closed day"
            else:
                weekly[day] = _parse_ranges(raw_weekly[day], f"weekly.{day}", errors)
    overrides: dict[date, tuple[TimeRange, ...]] = {}
    raw_overrides = payload.get("overrides", [])
    if not isinstance(raw_overrides, list | tuple):
        errors["overrides"] = "expected a list of {date, intervals} objects"
    elif len(raw_overrides) > MAX_OVERRIDES:
        errors["overrides"] = f"at most {MAX_OVERRIDES} overrides"
    else:
        seen: dict[date, int] = {}
        for index, item in enumerate(raw_overrides):
            path = f"overrides[{index}]"
            if not isinstance(item, Mapping):
                errors[path] = "expected an object with date and intervals"
                continue
            for key in item:
                if key not in ("date", "intervals"):
                    errors[f"{path}.{key}"] = "unknown field (expected date, intervals)"
            when = _parse_date(item.get("date"))
            if when is None:
                errors[f"{path}.date"] = (
                    f"invalid date {item.get('date')!r}: use YYYY-MM-DD"
                    f" between {EARLIEST_DATE} and {LATEST_DATE}"
                )
            elif when in seen:
                errors[f"{path}.date"] = f"duplicate date {when} (also overrides[{seen[when]}])"
            if "intervals" not in item:
                errors[f"{path}.intervals"] = "missing: use [] for a closed day"
                continue
            ranges = _parse_ranges(item["intervals"], f"{path}.intervals", errors)
            if when is not None and when not in seen:
                seen[when] = index
                overrides[when] = ranges
    if errors:
        raise InvalidWeeklyHours(errors)
    assert isinstance(timezone, str)
    return WeeklyHours(timezone=timezone, weekly=weekly, overrides=dict(sorted(overrides.items())))


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.match(value):
        return None
    return parse_date(value)


def to_payload(hours: WeeklyHours) -> dict[str, Any]:
    """Return ``hours`` in the API's JSON shape (see :func:`parse_weekly_hours`).

    Times are ``"HH:MM"`` (seconds dropped), an end of midnight is ``"24:00"``, weekdays are
    in order and overrides sorted by date: ``parse_weekly_hours(to_payload(h)) == h``.
    """
    return {
        "timezone": hours.timezone,
        "weekly": {
            day: [[_format(start), _format(end, end=True)] for start, end in hours.weekly[day]]
            for day in WEEKDAYS
        },
        "overrides": [
            {
                "date": day.isoformat(),
                "intervals": [[_format(start), _format(end, end=True)] for start, end in ranges],
            }
            for day, ranges in sorted(hours.overrides.items())
        ],
    }


def hours_to_intervals(hours: WeeklyHours, window: Interval) -> list[Interval]:
    """Return the open time ``hours`` describes around ``window``, normalized, in UTC.

    Every local day touching ``window`` contributes its ranges whole (not clipped, so the
    slot grid keeps its origin); ranges that do not overlap ``window`` are left out. This is
    what :func:`open_intervals` returns for the events of :func:`availability_events`.
    """
    zone = hours.zone
    first = window.start.astimezone(zone).date() - timedelta(days=1)
    last = window.end.astimezone(zone).date() + timedelta(days=1)
    result = []
    day = first
    while day <= last:
        for start, end in hours.ranges_on(day):
            interval = from_wall_clock(day, start, end, zone)
            if interval is not None and interval.overlaps(window):
                result.append(interval)
        day += timedelta(days=1)
    return normalize(result)


# --------------------------------------------------------------------------- writing


def _uid_time(value: time, *, end: bool = False) -> str:
    if end and value == END_OF_DAY:
        return "2400"
    text = f"{value.hour:02d}{value.minute:02d}"
    return text + (f"{value.second:02d}" if value.second else "")


def _wall_datetime(day: date, value: time, zone: tzinfo, *, end: bool = False) -> datetime:
    if end and value == END_OF_DAY:
        day += timedelta(days=1)
    return datetime.combine(day, value, tzinfo=zone)


def _availability_event(uid: str, stamp: datetime, summary: str, kind: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", stamp)
    event.add("SUMMARY", summary)
    event.add("TRANSP", "TRANSPARENT")
    event.add(MARKER_PROPERTY, kind)
    return event


def _calendar_text(event: icalendar.Event, timezone: icalendar.Timezone | None) -> str:
    calendar = icalendar.Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    if timezone is not None:
        calendar.add_component(timezone)
    calendar.add_component(event)
    return calendar.to_ical().decode()


def availability_events(
    hours: WeeklyHours, *, anchor: date, stamp: datetime | None = None
) -> list[tuple[str, str]]:
    """Return ``(uid, ics_text)`` for each event of the Availability calendar.

    Assumes valid ``hours`` (from :func:`parse_weekly_hours`). Weekly events start in the
    week (Monday to Sunday) containing ``anchor``, which should not lie after the first day
    the hours apply (normally: today). UIDs depend only on the weekday or date and the times,
    and DTSTAMP defaults to ``anchor`` at 00:00Z, so writing the same hours again yields the
    same objects; the caller deletes stored availability events whose UID is not returned.
    Each text is a VCALENDAR with one VEVENT (and a VTIMEZONE where times carry a TZID).
    """
    zone = hours.zone
    stamp = (
        to_utc(stamp).replace(microsecond=0)
        if stamp
        else datetime.combine(anchor, time(0), tzinfo=UTC)
    )
    vtimezone = icalendar.Timezone.from_tzinfo(
        zone, first_date=date(anchor.year, 1, 1), last_date=date(anchor.year + 10, 1, 1)
    )
    monday = anchor - timedelta(days=anchor.weekday())
    result: list[tuple[str, str]] = []
    for index, day_name in enumerate(WEEKDAYS):
        day = monday + timedelta(days=index)
        for start, end in hours.weekly[day_name]:
            uid = f"availability-weekly-{day_name}-{_uid_time(start)}-{_uid_time(end, end=True)}"
            event = _availability_event(f"{uid}@consult", stamp, "Open hours", "weekly")
            event.add(
                "DESCRIPTION",
                "Open for bookings every week. Edit, move or delete "
                "occurrences here to change your hours.",
            )
            event.add("DTSTART", _wall_datetime(day, start, zone))
            event.add("DTEND", _wall_datetime(day, end, zone, end=True))
            event.add("RRULE", {"FREQ": "WEEKLY", "BYDAY": _ICAL_DAYS[index]})
            result.append((f"{uid}@consult", _calendar_text(event, vtimezone)))
    for day, ranges in sorted(hours.overrides.items()):
        uid = f"availability-closed-{day:%Y%m%d}@consult"
        marker = _availability_event(
            uid, stamp, "Different hours" if ranges else "Closed", "closed"
        )
        marker.add("DTSTART", day)
        marker.add("DTEND", day + timedelta(days=1))
        result.append((uid, _calendar_text(marker, None)))
        for start, end in ranges:
            uid = (
                f"availability-override-{day:%Y%m%d}-{_uid_time(start)}-"
                f"{_uid_time(end, end=True)}@consult"
            )
            event = _availability_event(uid, stamp, "Open hours", "override")
            event.add("DTSTART", _wall_datetime(day, start, zone))
            event.add("DTEND", _wall_datetime(day, end, zone, end=True))
            result.append((uid, _calendar_text(event, vtimezone)))
    return result


# --------------------------------------------------------------------------- reading


def _kind(component: icalendar.cal.Component) -> str:
    return str(component.get(MARKER_PROPERTY, "")).strip().lower()


def _cancelled(component: icalendar.cal.Component) -> bool:
    return str(component.get("STATUS", "")).upper() == "CANCELLED"


def _closed_dates(hits: Iterable[RawOccurrence], zone: tzinfo) -> set[date]:
    """Return the local dates covered by "closed" markers that are not cancelled."""
    closed: set[date] = set()
    for hit in hits:
        if _kind(hit.source) != "closed" or hit.cancelled:
            continue
        day = hit.start.astimezone(zone).date()
        last = max(day, (hit.end - timedelta(microseconds=1)).astimezone(zone).date())
        while day <= last:
            closed.add(day)
            day += timedelta(days=1)
    return closed


def open_intervals(
    calendars: Iterable[CalendarSource],
    window: Interval,
    zone: ZoneInfo,
    max_occurrences: int = 5000,
) -> list[Interval]:
    """Return the open time that the Availability calendar's events give, in UTC, merged.

    Reads any events (see the module docstring for the rules). Pieces of open time are cut
    at local midnights in ``zone``; those overlapping ``window`` are returned whole (not
    clipped, so the slot grid keeps its origin). Malformed events are logged and skipped; a
    series recurring more than ``max_occurrences`` times in the window is cut there, which
    can only make less time open.
    """
    hits, _ = expand_raw(load_calendars(calendars), window, zone, max_occurrences=max_occurrences)
    closed = _closed_dates(hits, zone)
    pieces: list[Interval] = []
    for hit in hits:
        if hit.cancelled or _kind(hit.source) == "closed":
            continue
        if hit.end <= hit.start:
            if _wall(hit.raw_end, zone) > _wall(hit.raw_start, zone):
                logger.warning(
                    "open hours %s on %s lie in a DST gap and cover no time",
                    hit.uid,
                    hit.start.astimezone(zone).date(),
                )
            continue
        for day, piece in split_by_local_day(Interval(hit.start, hit.end), zone):
            if hit.generated and day in closed:
                continue
            if piece.overlaps(window):
                pieces.append(piece)
    return normalize(pieces)


def _wall(value: date | datetime, zone: ZoneInfo) -> datetime:
    """Return the naive local wall-clock time of an iCalendar value in ``zone``.

    A value already written in ``zone`` keeps its wall-clock reading as written, even when
    that reading does not exist (a DST gap): it is what the professional typed.
    """
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0))
    if value.tzinfo is None:
        return value
    if getattr(value.tzinfo, "key", None) == zone.key:
        return value.replace(tzinfo=None)
    return value.astimezone(zone).replace(tzinfo=None)


def _wall_pieces(start: datetime, end: datetime) -> list[tuple[date, TimeRange]]:
    """Cut a naive wall-clock span at midnights into ``(date, (start, end))`` ranges."""
    pieces: list[tuple[date, TimeRange]] = []
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), time(0))
        piece_end = min(end, midnight)
        pieces.append((start.date(), (start.time(), piece_end.time())))
        start = piece_end
    return pieces


def _merge_overlapping(ranges: Iterable[TimeRange]) -> tuple[TimeRange, ...]:
    """Return ``ranges`` sorted, with overlapping ones merged; touching ones stay apart."""
    merged: list[TimeRange] = []
    for start, end in sorted(ranges, key=lambda r: (_seconds(r[0]), _seconds(r[1], end=True))):
        if merged and _seconds(start) < _seconds(merged[-1][1], end=True):
            if _seconds(end, end=True) > _seconds(merged[-1][1], end=True):
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _canonical(ranges: Iterable[TimeRange]) -> list[tuple[int, int]]:
    """Return ``ranges`` as merged (overlapping or touching) second offsets, for comparing."""
    result: list[tuple[int, int]] = []
    for start, end in sorted((_seconds(s), _seconds(e, end=True)) for s, e in ranges):
        if result and start <= result[-1][1]:
            result[-1] = (result[-1][0], max(result[-1][1], end))
        else:
            result.append((start, end))
    return result


def _weekly_days(
    rule: icalendar.vRecur, start: datetime, today: date, zone: ZoneInfo
) -> list[int] | None:
    """Return the weekdays (0 = Monday) a rule repeats on every week, or ``None``.

    Only rules that mean "these weekdays, every week, as of this week" qualify: FREQ=WEEKLY
    or DAILY, INTERVAL 1, no COUNT, starting (``start``, local) within the week from
    ``today``, no UNTIL before ``today``, no BY-part but BYDAY without ordinals. Anything else
    -- a rule that starts next month, a fortnightly one -- is read as individual dates
    (overrides), so ``weekly`` shows the hours in force now.
    """
    if start.date() > today + timedelta(days=6):
        return None
    freq = str(rule["FREQ"][0]).upper()
    if set(rule) - {"FREQ", "INTERVAL", "BYDAY", "WKST", "UNTIL"}:
        return None
    if int(rule.get("INTERVAL", [1])[0]) != 1:
        return None
    until = rule.get("UNTIL")
    if until:
        last = to_instant(until[0], zone).astimezone(zone).replace(tzinfo=None)
        if last < datetime.combine(today, start.time()):  # no occurrence from today on
            return None
    byday = [str(value).upper() for value in rule.get("BYDAY", [])]
    if any(value not in _ICAL_DAYS for value in byday):
        return None
    days = sorted({_ICAL_DAYS.index(value) for value in byday})
    if freq == "WEEKLY":
        return days or [start.weekday()]
    if freq == "DAILY":
        return days or list(range(7))
    return None


def _event_end(event: icalendar.cal.Component) -> date | datetime:
    start = date_value(event, "DTSTART")
    if "DTEND" in event:
        return date_value(event, "DTEND")
    if "DURATION" in event:
        duration = event.decoded("DURATION")
        if isinstance(duration, timedelta):
            return start + duration
    return start + timedelta(days=1) if not isinstance(start, datetime) else start


def _weekly_pattern(
    calendars: Sequence[icalendar.Calendar], zone: ZoneInfo, today: date
) -> dict[str, tuple[TimeRange, ...]]:
    pattern: dict[str, list[TimeRange]] = {day: [] for day in WEEKDAYS}
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            if "RECURRENCE-ID" in event or _cancelled(event) or _kind(event) == "closed":
                continue
            try:
                rules = rrules_of(event)
                if len(rules) != 1 or "RDATE" in event:
                    continue
                start = _wall(date_value(event, "DTSTART"), zone)
                end = _wall(_event_end(event), zone)
                days = _weekly_days(rules[0], start, today, zone)
            except Exception as error:  # malformed data: the expansion will skip it too
                logger.warning("ignoring weekly hours of %s: %s", event.get("UID"), error)
                continue
            if days is None:
                continue
            for piece_day, time_range in _wall_pieces(start, end):
                offset = (piece_day - start.date()).days
                for weekday in days:
                    pattern[WEEKDAYS[(weekday + offset) % 7]].append(time_range)
    return {day: _merge_overlapping(ranges) for day, ranges in pattern.items()}


def read_weekly_hours(
    calendars: Iterable[CalendarSource],
    zone_name: str,
    *,
    today: date,
    look_ahead_days: int = LOOK_AHEAD_DAYS,
    max_occurrences: int = 5000,
) -> WeeklyHours:
    """Return the :class:`WeeklyHours` that the Availability calendar's events express.

    ``weekly`` comes from the rules that repeat every week and are in force this week
    (grouped by local weekday in ``zone_name``; ranges overlapping one another are merged;
    a series split "from this date on" shows its later part as overrides until it starts
    being in force). ``overrides`` holds each
    date from ``today`` (a local date) for ``look_ahead_days`` that carries a "closed" marker
    or whose hours differ from its weekday's: phone-added one-off events, moved or deleted
    occurrences. Malformed events are skipped. ``read_weekly_hours(availability_events(h),
    h.timezone, today=anchor) == h`` for valid ``h`` whose overrides lie in that range.
    Raises :class:`InvalidWeeklyHours` for an unknown ``zone_name``.
    """
    zone = _load_zone(zone_name)
    if zone is None:
        raise InvalidWeeklyHours({"timezone": f"unknown time zone {zone_name!r}"})
    loaded = load_calendars(calendars)
    weekly = _weekly_pattern(loaded, zone, today)
    last = today + timedelta(days=look_ahead_days)
    span = Interval(local_midnight(today, zone), local_midnight(last, zone))
    hits, _ = expand_raw(loaded, span, zone, max_occurrences=max_occurrences)
    closed = _closed_dates(hits, zone)
    per_day: dict[date, list[TimeRange]] = defaultdict(list)
    for hit in hits:
        if hit.cancelled or _kind(hit.source) == "closed":
            continue
        for day, time_range in _wall_pieces(_wall(hit.raw_start, zone), _wall(hit.raw_end, zone)):
            if today <= day < last and not (hit.generated and day in closed):
                per_day[day].append(time_range)
    overrides: dict[date, tuple[TimeRange, ...]] = {}
    for offset in range(look_ahead_days):
        day = today + timedelta(days=offset)
        actual = _merge_overlapping(per_day.get(day, ()))
        if day in closed or _canonical(actual) != _canonical(weekly[WEEKDAYS[day.weekday()]]):
            overrides[day] = actual
    return WeeklyHours(timezone=zone_name, weekly=weekly, overrides=overrides)
