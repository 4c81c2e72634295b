"""What the insights page, its CSV and the API show of :class:`insights.core.Insights`:
one JSON shape, one list of CSV rows, and the bars of the page's charts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from insights.core import Insights


def insights_json(found: Insights, zone: str) -> dict[str, Any]:
    return {
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
        "timezone": zone,
        "bookings": {
            "total": found.bookings,
            "cancelled": found.cancelled,
            "held": found.held,
            "no_shows": found.no_shows,
        },
        "rates": {
            "cancellation": found.cancellation_rate,
            "no_show": found.no_show_rate,
            "group_fill": found.fill_rate,
        },
        "group_occurrences": found.occurrences,
        "weeks": [
            {"week_start": w.week_start.isoformat(), "booked": w.booked, "cancelled": w.cancelled}
            for w in found.weeks
        ],
        "revenue": [
            {"currency": m.currency, "received": m.received, "refunded": m.refunded, "net": m.net}
            for m in found.money
        ],
        "busiest": {
            "weekdays": dict(found.by_weekday),
            "hours": {str(hour): n for hour, n in found.by_hour.items()},
        },
        "sources": dict(found.sources),
        "lead_time": {
            "buckets": dict(found.lead_times),
            "median_hours": found.median_lead_hours,
        },
    }


def csv_rows(found: Insights) -> Iterator[tuple[str, str, str, str]]:
    """(section, key, measure, value) rows: every number the page shows."""
    yield ("range", "from", "date", found.start.isoformat())
    yield ("range", "to", "date", found.end.isoformat())
    for name, value in (
        ("total", found.bookings),
        ("cancelled", found.cancelled),
        ("held", found.held),
        ("no_shows", found.no_shows),
        ("group_occurrences", found.occurrences),
    ):
        yield ("bookings", name, "count", str(value))
    for name, rate in (
        ("cancellation", found.cancellation_rate),
        ("no_show", found.no_show_rate),
        ("group_fill", found.fill_rate),
    ):
        yield ("rates", name, "fraction", "" if rate is None else f"{rate:.4f}")
    for week in found.weeks:
        yield ("weeks", week.week_start.isoformat(), "booked", str(week.booked))
        yield ("weeks", week.week_start.isoformat(), "cancelled", str(week.cancelled))
    for money in found.money:
        yield ("revenue", money.currency, "received_minor_units", str(money.received))
        yield ("revenue", money.currency, "refunded_minor_units", str(money.refunded))
        yield ("revenue", money.currency, "net_minor_units", str(money.net))
    for day, count in found.by_weekday.items():
        yield ("weekdays", day, "sessions", str(count))
    for hour, count in found.by_hour.items():
        yield ("hours", f"{hour:02d}:00", "sessions", str(count))
    for source, count in found.sources.items():
        yield ("sources", source, "bookings", str(count))
    for bucket, count in found.lead_times.items():
        yield ("lead_time", bucket, "bookings", str(count))
    median = found.median_lead_hours
    yield ("lead_time", "median", "hours", "" if median is None else f"{median:.1f}")


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    share: float  # of the largest bar, 0..1


@dataclass(frozen=True)
class Chart:
    """A bar chart the page draws as SVG, with the same numbers in a table."""

    key: str
    title: str
    unit: str
    bars: list[Bar]

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)


def _chart(key: str, title: str, unit: str, values: Mapping[str, int]) -> Chart:
    top = max(values.values(), default=0) or 1
    return Chart(key, title, unit, [Bar(label, n, n / top) for label, n in values.items()])


SOURCE_LABELS: Mapping[str, str] = MappingProxyType(
    {"search": "Search", "direct": "Your link", "embed": "Embed", "api": "Apps (API)"}
)


def charts(found: Insights) -> list[Chart]:
    return [
        _chart(
            "weeks",
            "Bookings per week",
            "bookings",
            {f"{w.week_start:%d %b}": w.booked for w in found.weeks},
        ),
        _chart("weekdays", "Busiest days", "sessions", dict(found.by_weekday)),
        _chart(
            "hours",
            "Busiest hours",
            "sessions",
            {f"{hour:02d}": n for hour, n in found.by_hour.items() if 6 <= hour <= 22 or n},
        ),
        _chart(
            "sources",
            "Where clients come from",
            "bookings",
            {SOURCE_LABELS.get(key, key): n for key, n in found.sources.items()},
        ),
        _chart("lead", "How far ahead people book", "bookings", dict(found.lead_times)),
    ]
