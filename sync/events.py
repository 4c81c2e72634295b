"""Turning events from outside calendars into the events of a mirror calendar.

A mirror keeps only what blocks time: UID, DTSTART, DTEND or DURATION, RRULE,
RDATE, EXDATE, RECURRENCE-ID (with RANGE), TRANSP, STATUS, and SUMMARY when the
professional opted in to titles. Descriptions, locations, attendees and alarms
never leave the source. Every other decision is about reading time correctly:

- Time zones are resolved by :mod:`sync.timezones` (IANA, vendor
  prefixes, Windows names, custom VTIMEZONEs matched to IANA). A one-off event is
  stored in UTC, which is exact; a recurring one keeps its IANA zone (with a
  VTIMEZONE), so its occurrences follow daylight saving time.
- Floating times in a calendar that names a default zone (Google's
  ``X-WR-TIMEZONE``) are read in that zone.
- A TZID nobody knows becomes floating time, which the busy-time index reads in
  the professional's own zone, and the sync records a warning naming it. We prefer
  this to UTC: a calendar whose zone we cannot name is far more likely to be in its
  owner's zone than in UTC, and UTC would shift every event by the owner's offset.
- Absurd recurrences (FREQ=SECONDLY or MINUTELY) and events that cannot be read
  are skipped with a warning. Expanding them would either cost unbounded work or,
  because the busy-time index fails closed on a rule it had to cut, block the rest
  of the professional's calendar.
- One-off events that ended more than :data:`HISTORY` ago are not mirrored.

Pure functions on ``icalendar`` components; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from booking.core.ical.validate import parse_calendar
from booking.errors import InvalidCalendarData
from sync.timezones import match_zone, resolve_tzid

__all__ = [
    "HISTORY",
    "Findings",
    "Normalized",
    "ZoneReader",
    "mirror_calendar_text",
    "normalize_components",
    "normalize_event",
]

PRODID = "-//Consult Platform//Calendar sync//EN"
# One-off events that ended longer ago than this are not mirrored (the busy-time
# index looks back as far; older events block nothing anyone can book).
HISTORY = timedelta(days=35)
# A constant DTSTAMP: sources such as Google's ICS export stamp every event with the
# time of the download, which would make every event look changed on every sync.
_DTSTAMP = datetime(2000, 1, 1, tzinfo=UTC)
_ABSURD_FREQUENCIES = frozenset({"SECONDLY", "MINUTELY"})
_STATUSES = frozenset({"TENTATIVE", "CONFIRMED", "CANCELLED"})
_TRANSPARENCY = frozenset({"OPAQUE", "TRANSPARENT"})
MAX_TITLE = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TZID_START = re.compile(r"^DTSTART;TZID=([^:;\r\n]+):(\d{4})", re.MULTILINE)
_TZID_ANY = re.compile(r";TZID=([^:;\r\n]+)[:;]")


@dataclass
class Findings:
    """What one sync noticed about the source's data, for the warning shown to the
    professional: events skipped (by reason) and unknown time zones."""

    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    unknown_zones: Counter[str] = field(default_factory=Counter)
    approximate_zones: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str, example: str) -> None:
        """Count one event skipped for ``reason``; keep the first ``example`` label."""
        self.skipped[reason] += 1
        self.examples.setdefault(reason, example)

    def merge(self, other: Findings) -> None:
        """Add ``other``'s counts to these."""
        self.skipped.update(other.skipped)
        for reason, example in other.examples.items():
            self.examples.setdefault(reason, example)
        self.unknown_zones.update(other.unknown_zones)
        self.approximate_zones.update(other.approximate_zones)

    def summary(self, limit: int = 1000) -> str:
        """One paragraph for the professional; empty when there is nothing to report."""
        parts = []
        for reason, count in sorted(self.skipped.items()):
            noun = "event was" if count == 1 else "events were"
            parts.append(f"{count} {noun} skipped: {reason} (e.g. {self.examples[reason]}).")
        if self.unknown_zones:
            names = ", ".join(sorted(self.unknown_zones)[:5])
            count = sum(self.unknown_zones.values())
            parts.append(
                f"Unknown time zone {names} in {count} time value(s): read in your own time zone."
            )
        if self.approximate_zones:
            names = ", ".join(sorted(self.approximate_zones)[:5])
            parts.append(
                f"The custom time zone {names} matches no known zone: recurring events in it "
                "were read at their first offset and may be an hour off after a daylight "
                "saving change."
            )
        return " ".join(parts)[:limit]


class ZoneReader:
    """Resolves the zones of one source calendar, caching each answer.

    ``default_zone`` names the zone for floating times (``X-WR-TIMEZONE`` or the
    API calendar's zone; ``None`` keeps them floating). ``calendar`` supplies the
    VTIMEZONE definitions of custom TZIDs. ``own_zone`` (the professional's) is the
    preferred match for a custom definition.
    """

    def __init__(
        self,
        *,
        own_zone: ZoneInfo,
        default_zone: str | None = None,
        calendar: icalendar.Calendar | None = None,
        findings: Findings | None = None,
    ) -> None:
        self.findings = findings if findings is not None else Findings()
        self.default_zone: ZoneInfo | None = None
        if default_zone:
            self.default_zone = resolve_tzid(default_zone)
            if self.default_zone is None:
                self.findings.unknown_zones[default_zone[:64]] += 1
        self.preferred = tuple(z for z in (own_zone, self.default_zone) if z is not None)
        self._custom: dict[str, tzinfo] = {}
        self._resolved: dict[str, ZoneInfo | tzinfo | None] = {}
        if calendar is not None:
            self.learn(calendar)

    def learn(self, calendar: icalendar.Calendar) -> None:
        """Remember the custom VTIMEZONE definitions of ``calendar`` (the first
        definition of a TZID wins; IANA and Windows names never need one)."""
        for component in calendar.walk("VTIMEZONE"):
            tzid = str(component.get("TZID", ""))
            if not tzid or tzid in self._custom or resolve_tzid(tzid) is not None:
                continue
            try:
                definition: Any = component
                self._custom[tzid] = definition.to_tz(lookup_tzid=False)
            except Exception:  # a broken definition: the TZID stays unknown
                continue

    def zone(self, tzid: str, around: datetime) -> ZoneInfo | tzinfo | None:
        """The zone of ``tzid``: an IANA zone, a custom definition no IANA zone matches
        (times are then converted to UTC), or ``None`` when unknown."""
        if tzid in self._resolved:
            return self._resolved[tzid]
        zone: ZoneInfo | tzinfo | None = resolve_tzid(tzid)
        if zone is None and tzid in self._custom:
            zone = match_zone(self._custom[tzid], around, self.preferred) or self._custom[tzid]
        self._resolved[tzid] = zone
        return zone


class _Skip(Exception):
    """This event cannot be mirrored; the message is the reason shown to the professional."""


def _label(component: icalendar.cal.Component) -> str:
    """How a skipped event is named in warnings: its start, never its (private) title."""
    value = getattr(component.get("DTSTART"), "dt", None)
    if isinstance(value, datetime):
        return f"the event at {value.replace(tzinfo=None).isoformat(sep=' ', timespec='minutes')}"
    if isinstance(value, date):
        return f"the event on {value.isoformat()}"
    return "an event without a start"


def _utc_zone(zone: tzinfo) -> bool:
    return isinstance(zone, ZoneInfo) and zone.key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT")


class _Converter:
    """Converts the time values of one VEVENT (see the module docstring for the rules)."""

    def __init__(self, reader: ZoneReader, keep_zone: bool) -> None:
        self.reader = reader
        self.keep_zone = keep_zone

    def value(self, value: Any, tzid: str | None) -> Any:
        if isinstance(value, tuple):  # an RDATE period: (start, end or duration)
            return tuple(self.value(part, tzid) for part in value)
        if not isinstance(value, datetime):
            return value  # a date (all-day) or a duration
        wall = value.replace(tzinfo=None)
        zone: ZoneInfo | tzinfo | None
        if tzid:
            zone = self.reader.zone(tzid, wall)
            if zone is None:
                self.reader.findings.unknown_zones[tzid[:64]] += 1
                return wall
        elif value.tzinfo is not None:
            return value.astimezone(UTC)
        else:
            zone = self.reader.default_zone
            if zone is None:
                return wall
        aware = wall.replace(tzinfo=zone)
        if self.keep_zone and isinstance(zone, ZoneInfo) and not _utc_zone(zone):
            return aware
        if self.keep_zone and not isinstance(zone, ZoneInfo):
            self.reader.findings.approximate_zones[(tzid or "")[:64]] += 1
        return aware.astimezone(UTC)


def _prop(component: icalendar.cal.Component, name: str) -> Any:
    """A property's value object (icalendar types them as a wide union; every one used
    here is a date/time type with ``.dt``)."""
    return component[name]


def _tzid(prop: Any) -> str | None:
    params = getattr(prop, "params", None) or {}
    tzid = params.get("TZID")
    return str(tzid) if tzid else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _date_values(prop: Any) -> list[Any]:
    """The values of an EXDATE/RDATE property (a vDDDLists)."""
    return [item.dt for item in getattr(prop, "dts", [])]


def _rules(component: icalendar.cal.Component) -> list[icalendar.vRecur]:
    return [rule for rule in _as_list(component.get("RRULE")) if rule is not None]


def _frequency(rule: icalendar.vRecur) -> str:
    values = rule.get("FREQ") or [""]
    return str(values[0]).upper()


def _fix_until(rule: icalendar.vRecur, start: Any) -> icalendar.vRecur:
    """Make UNTIL agree with the converted DTSTART (RFC 5545: UTC when DTSTART has a
    zone, floating when it is floating, a date when it is a date)."""
    rule = icalendar.vRecur(dict(rule))
    untils = rule.get("UNTIL")
    if not untils:
        return rule
    until = untils[0]
    if isinstance(start, datetime) and start.tzinfo is not None:
        if isinstance(until, datetime) and until.tzinfo is None:
            until = until.replace(tzinfo=start.tzinfo).astimezone(UTC)
        elif isinstance(until, datetime):
            until = until.astimezone(UTC)
        elif isinstance(until, date):
            until = datetime.combine(until, datetime.max.time(), tzinfo=start.tzinfo)
            until = until.replace(microsecond=0).astimezone(UTC)
    elif isinstance(start, datetime):
        if isinstance(until, datetime) and until.tzinfo is not None:
            until = until.astimezone(UTC).replace(tzinfo=None)
        elif not isinstance(until, datetime):
            until = datetime.combine(until, datetime.max.time()).replace(microsecond=0)
    elif isinstance(until, datetime):
        until = until.date()
    rule["UNTIL"] = [until]
    return rule


def _normalize_event(
    component: icalendar.cal.Component,
    uid: str,
    reader: ZoneReader,
    show_titles: bool,
) -> icalendar.Event:
    if "DTSTART" not in component:
        raise _Skip("it has no start time")
    for rule in _rules(component):
        frequency = _frequency(rule)
        if frequency in _ABSURD_FREQUENCIES:
            raise _Skip(f"it repeats every {frequency[:-2].lower()} (FREQ={frequency})")
    keep_zone = any(name in component for name in ("RRULE", "RDATE", "RECURRENCE-ID"))
    convert = _Converter(reader, keep_zone)
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", _DTSTAMP)
    start_prop = _prop(component, "DTSTART")
    start = convert.value(start_prop.dt, _tzid(start_prop))
    event.add("DTSTART", start)
    if "DTEND" in component:
        end_prop = _prop(component, "DTEND")
        event.add("DTEND", convert.value(end_prop.dt, _tzid(end_prop)))
    elif "DURATION" in component:
        event.add("DURATION", _prop(component, "DURATION").dt)
    if "RECURRENCE-ID" in component:
        prop = _prop(component, "RECURRENCE-ID")
        event.add("RECURRENCE-ID", convert.value(prop.dt, _tzid(prop)))
        scope = (getattr(prop, "params", None) or {}).get("RANGE")
        if scope and str(scope).upper() == "THISANDFUTURE":
            _prop(event, "RECURRENCE-ID").params["RANGE"] = "THISANDFUTURE"
    for rule in _rules(component):
        event.add("RRULE", _fix_until(rule, start))
    for name in ("RDATE", "EXDATE"):
        for prop in _as_list(component.get(name)):
            values = [convert.value(value, _tzid(prop)) for value in _date_values(prop)]
            if values:
                event.add(name, values)
    status = str(component.get("STATUS", "")).upper()
    if status in _STATUSES:
        event.add("STATUS", status)
    transparency = str(component.get("TRANSP", "")).upper()
    if transparency in _TRANSPARENCY:
        event.add("TRANSP", transparency)
    if show_titles and component.get("SUMMARY"):
        title = _CONTROL.sub(" ", str(component["SUMMARY"])).strip()[:MAX_TITLE]
        if title:
            event.add("SUMMARY", title)
    return event


def _ends_before(event: icalendar.Event, cutoff: datetime) -> bool:
    """Whether a one-off event certainly ended before ``cutoff`` (floating read as UTC,
    which is close enough against a cutoff weeks in the past)."""
    if any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
        return False
    start: Any = _prop(event, "DTSTART").dt
    end: Any = _prop(event, "DTEND").dt if "DTEND" in event else None
    if end is None:
        duration = _prop(event, "DURATION").dt if "DURATION" in event else None
        if duration is None:
            duration = timedelta(days=1) if not isinstance(start, datetime) else timedelta(0)
        end = start + duration
    if not isinstance(end, datetime):
        end = datetime.combine(end, datetime.min.time())
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return end < cutoff


def _wrap(vevents: str) -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n{vevents}END:VCALENDAR\r\n"


@dataclass(frozen=True)
class Normalized:
    """A remote event as the mirror keeps it: ``text`` (VEVENT components, ``""`` for
    nothing to mirror) and, when its busy time does not depend on anyone's zone (one
    one-off event in UTC), ``blocks``: the UTC intervals it blocks, so the busy-time
    index need not parse it again (:func:`booking.busy_index.expect_blocks`)."""

    text: str
    blocks: tuple[tuple[datetime, datetime], ...] | None = None


def normalize_components(
    components: Iterable[icalendar.cal.Component],
    *,
    uid: str,
    reader: ZoneReader,
    show_titles: bool,
    now: datetime,
) -> str:
    """Return the mirror's VEVENT text for one remote event (see :func:`normalize_event`)."""
    return normalize_event(
        components, uid=uid, reader=reader, show_titles=show_titles, now=now
    ).text


def normalize_event(
    components: Iterable[icalendar.cal.Component],
    *,
    uid: str,
    reader: ZoneReader,
    show_titles: bool,
    now: datetime,
) -> Normalized:
    """Return the mirror's form of one remote event (a series: master and overrides)
    under ``uid``; its text is ``""`` when there is nothing to mirror.

    Non-VEVENT components are ignored. A series with any event that cannot be read
    or recurs absurdly is skipped whole and counted in ``reader.findings``; so is a
    result that fails :func:`booking.core.ical.validate.parse_calendar`.
    """
    vevents = [c for c in components if getattr(c, "name", "") == "VEVENT"]
    if not vevents:
        return Normalized("")
    try:
        events = [_normalize_event(c, uid, reader, show_titles) for c in vevents]
    except _Skip as skip:
        reader.findings.skip(str(skip), _label(vevents[0]))
        return Normalized("")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        # icalendar raises any of these for values it parsed leniently but cannot use.
        reader.findings.skip("its times cannot be read", _label(vevents[0]))
        return Normalized("")
    cutoff = now - HISTORY
    if all(_ends_before(event, cutoff) for event in events):
        return Normalized("")
    text = "".join(event.to_ical().decode() for event in events)
    try:
        parse_calendar(_wrap(text))
    except InvalidCalendarData:
        reader.findings.skip("it is not valid iCalendar", _label(vevents[0]))
        return Normalized("")
    return Normalized(text, _utc_blocks(events))


def _utc_blocks(events: Sequence[icalendar.Event]) -> tuple[tuple[datetime, datetime], ...] | None:
    """The busy time of a lone one-off event whose times are UTC, by the rules of
    :func:`booking.core.ical.expand.busy_intervals` (cancelled, transparent and
    zero-length events block nothing); ``None`` for anything else."""
    if len(events) != 1:
        return None
    event = events[0]
    if any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
        return None
    start: Any = _prop(event, "DTSTART").dt
    if not isinstance(start, datetime) or start.tzinfo is None:
        return None
    if "DTEND" in event:
        end: Any = _prop(event, "DTEND").dt
    elif "DURATION" in event:
        end = start + _prop(event, "DURATION").dt
    else:
        end = start
    if not isinstance(end, datetime) or end.tzinfo is None:
        return None
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if (
        str(event.get("STATUS", "")).upper() == "CANCELLED"
        or str(event.get("TRANSP", "")).upper() == "TRANSPARENT"
        or end <= start
    ):
        return ()
    return ((start, end),)


@lru_cache(maxsize=256)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> str:
    zone = resolve_tzid(tzid)
    if zone is None:
        return ""
    timezone = icalendar.Timezone.from_tzinfo(
        zone, tzid=tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 1, 1)
    )
    return str(timezone.to_ical().decode())


def mirror_calendar_text(vevents: Sequence[str], *, now: datetime) -> str:
    """Return the VCALENDAR of one mirror item: the members' VEVENT texts (all with
    the same UID) and a VTIMEZONE for every TZID they use.

    VTIMEZONE rules cover the first start's year to ten years on, and at least three
    years past ``now`` (calendar apps that know the TZID use their own data beyond).
    """
    body = "".join(vevents)
    first_years: dict[str, int] = {}
    for tzid, year in _TZID_START.findall(body):
        first_years[tzid] = min(first_years.get(tzid, 9999), int(year))
    for tzid in _TZID_ANY.findall(body):
        first_years.setdefault(tzid, now.year)
    zones = "".join(
        _vtimezone(tzid, max(first, 1971), max(first + 10, now.year + 3))
        for tzid, first in sorted(first_years.items())
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n{zones}{body}END:VCALENDAR\r\n"
