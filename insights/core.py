"""How a practice is doing, computed from plain facts (no I/O): bookings per week,
revenue and refunds per currency, cancellation and no-show rates, the fill rate of
group classes, the busiest days and hours, where clients come from and how far
ahead they book. :mod:`insights.queries` gathers the facts; the pages and the API
show the result.

Every count is of sessions starting in the window, in the professional's zone:
a booking made in March for April belongs to April.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from insights.errors import InsightsRangeInvalid

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SOURCES = ("search", "direct", "embed", "api")
# How far ahead people book, as buckets (upper bound in hours, label).
LEAD_BUCKETS: Sequence[tuple[float, str]] = (
    (24, "Under a day"),
    (72, "1-3 days"),
    (168, "3-7 days"),
    (336, "1-2 weeks"),
    (672, "2-4 weeks"),
    (float("inf"), "Over 4 weeks"),
)


@dataclass(frozen=True)
class BookingFact:
    """One booking (a 1-1 session or a class seat) of the professional."""

    start: datetime
    created_at: datetime
    cancelled: bool
    no_show: bool
    source: str
    is_group: bool


@dataclass(frozen=True)
class MoneyFact:
    """A payment received (``refund`` False) or a refund sent, in minor units."""

    amount: int
    currency: str
    refund: bool


@dataclass(frozen=True)
class OccurrenceFact:
    """One group-class occurrence that took place or is planned in the window."""

    capacity: int
    seats_taken: int


@dataclass(frozen=True)
class WeekCount:
    week_start: date  # the Monday
    booked: int
    cancelled: int


@dataclass(frozen=True)
class Money:
    currency: str
    received: int
    refunded: int

    @property
    def net(self) -> int:
        return self.received - self.refunded


@dataclass(frozen=True)
class Insights:
    start: date
    end: date  # inclusive
    weeks: Sequence[WeekCount]
    money: Sequence[Money]
    bookings: int
    cancelled: int
    held: int  # sessions that took place (ended, not cancelled, not a no-show)
    no_shows: int
    cancellation_rate: float | None  # of all bookings in the window
    no_show_rate: float | None  # of the sessions that have ended and were not cancelled
    fill_rate: float | None  # seats taken / places, over the group occurrences
    occurrences: int
    by_weekday: Mapping[str, int]
    by_hour: Mapping[int, int]
    sources: Mapping[str, int]
    lead_times: Mapping[str, int]
    median_lead_hours: float | None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(
    bookings: Iterable[BookingFact],
    money: Iterable[MoneyFact],
    occurrences: Iterable[OccurrenceFact],
    *,
    start: date,
    end: date,
    zone: ZoneInfo,
    now: datetime,
) -> Insights:
    """The insights of the local dates ``start`` to ``end`` (inclusive) in ``zone``."""
    facts = list(bookings)
    first_monday = start - timedelta(days=start.weekday())
    weeks: dict[date, list[int]] = {}
    monday = first_monday
    while monday <= end:
        weeks[monday] = [0, 0]
        monday += timedelta(days=7)
    by_weekday: Counter[str] = Counter({day: 0 for day in WEEKDAYS})
    by_hour: Counter[int] = Counter({hour: 0 for hour in range(24)})
    sources: Counter[str] = Counter({source: 0 for source in SOURCES})
    leads: list[float] = []
    cancelled = no_shows = held = ended = 0
    for fact in facts:
        local = fact.start.astimezone(zone)
        week = weeks.setdefault(local.date() - timedelta(days=local.weekday()), [0, 0])
        if fact.cancelled:
            cancelled += 1
            week[1] += 1
            continue
        week[0] += 1
        by_weekday[WEEKDAYS[local.weekday()]] += 1
        by_hour[local.hour] += 1
        sources[fact.source if fact.source in SOURCES else "direct"] += 1
        leads.append(max((fact.start - fact.created_at).total_seconds() / 3600, 0.0))
        if fact.start <= now:
            ended += 1
            if fact.no_show:
                no_shows += 1
            else:
                held += 1
    lead_times = {label: 0 for _, label in LEAD_BUCKETS}
    for hours in leads:
        label = next(label for bound, label in LEAD_BUCKETS if hours < bound)
        lead_times[label] += 1
    totals: dict[str, list[int]] = {}
    for item in money:
        entry = totals.setdefault(item.currency, [0, 0])
        entry[1 if item.refund else 0] += item.amount
    classes = list(occurrences)
    places = sum(o.capacity for o in classes)
    return Insights(
        start=start,
        end=end,
        weeks=[WeekCount(week, b, c) for week, (b, c) in sorted(weeks.items())],
        money=[Money(cur, got, back) for cur, (got, back) in sorted(totals.items())],
        bookings=len(facts),
        cancelled=cancelled,
        held=held,
        no_shows=no_shows,
        cancellation_rate=_rate(cancelled, len(facts)),
        no_show_rate=_rate(no_shows, ended),
        fill_rate=_rate(sum(o.seats_taken for o in classes), places),
        occurrences=len(classes),
        by_weekday=dict(by_weekday),
        by_hour=dict(sorted(by_hour.items())),
        sources=dict(sources),
        lead_times=lead_times,
        median_lead_hours=round(statistics.median(leads), 1) if leads else None,
    )


DEFAULT_WEEKS = 12
MAX_RANGE_DAYS = 366


def parse_range(args: Mapping[str, str], today: date) -> tuple[date, date]:
    """``from`` and ``to`` (ISO dates, inclusive); by default the last twelve weeks up
    to ``today``. Raises :class:`InsightsRangeInvalid` naming each bad one."""
    errors: dict[str, str] = {}
    values: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        values[name] = None
        if raw:
            try:
                values[name] = date.fromisoformat(raw) if len(raw) == 10 else None
            except ValueError:
                values[name] = None
            if values[name] is None:
                errors[name] = "Use a date such as 2026-12-01."
    if errors:
        raise InsightsRangeInvalid(errors)
    end = values["to"] or today
    start = values["from"] or end - timedelta(weeks=DEFAULT_WEEKS) + timedelta(days=1)
    if end < start:
        raise InsightsRangeInvalid({"to": "The last day must not be before the first."})
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InsightsRangeInvalid({"to": f"Pick a range of at most {MAX_RANGE_DAYS} days."})
    return start, end
