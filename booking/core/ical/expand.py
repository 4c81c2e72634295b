"""Expanding VEVENTs into occurrences in aware UTC datetimes, with ``recurring_ical_events``
(RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, RANGE=THISANDFUTURE): all-day dates become
whole local days in the professional's zone and floating times are read in that zone.

Work is bounded. Each recurring series is expanded lazily with two budgets: at most
``max_occurrences`` occurrences inside the window, and at most ``_MAX_SKIPPED`` rule instances
before it (a FREQ=SECONDLY rule that started years ago). A series that exceeds a budget is cut
there and logged; :func:`busy_intervals` then treats the rest of the window as busy (failing
closed: an unknowable calendar must not let anyone double-book)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
from recurring_ical_events.selection.name import ComponentsWithName
from recurring_ical_events.series import Series
from recurring_ical_events.util import compare_greater, convert_to_datetime

from booking.core.ical.validate import (
    CalendarSource,
    date_value,
    impossible_rule,
    load_calendars,
    rrules_of,
)
from booking.core.intervals import Interval, normalize

logger = logging.getLogger(__name__)

# Rule instances a series may generate before the window starts. Enough for a daily event
# that started in 1890 or an hourly one from five years ago; a FREQ=SECONDLY rule from last
# week stops here after about a tenth of a second.
_MAX_SKIPPED = 50_000

# --------------------------------------------------------------------------- data types


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
                    if (reason := impossible_rule(rule))
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
