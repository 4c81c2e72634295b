"""Insights checked against a fixture of bookings: counts, rates, weeks, busiest days
and hours, sources, lead times and money per currency, over the API, the page and
the CSV; group-class fill rates from real class occurrences; where a booking came
from, recorded by the booking flows. PostgreSQL and SQLite."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking.models import CANCELLED, CONFIRMED, Booking
from consult.db import Database
from insights.core import OccurrenceFact, summarize
from payments.models import REFUND_SUCCEEDED, SUCCEEDED, Payment, Refund
from reviews.models import NoShow
from tests.factories import at, group_class, iso, next_weekday, setup_professional
from tests.helpers import bearer, login

BOTH_DATABASES = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BERLIN).astimezone(UTC)


def _booking(
    session: Any, pro: Any, client_id: int, service_id: int, start: datetime, **values: Any
) -> Booking:
    lead = values.pop("lead", timedelta(days=1))
    booking = Booking(
        service_id=service_id,
        professional_id=pro.id,
        client_id=client_id,
        start=start,
        end=start + timedelta(minutes=50),
        created_at=start - lead,
        event_uid=f"fixture-{pro.id}-{start.timestamp()}",
        event_href="fixture.ics",
        status=values.pop("status", CONFIRMED),
        source=values.pop("source", "direct"),
    )
    session.add(booking)
    session.flush()
    return booking


def _pay(session: Any, booking: Booking, amount: int, currency: str, refund: int = 0) -> None:
    payment = Payment(
        booking_id=booking.id,
        provider="stripe",
        intent_id=f"pi_{booking.id}",
        client_secret="secret",
        amount=amount,
        currency=currency,
        status=SUCCEEDED,
        hold_expires_at=booking.start,
    )
    session.add(payment)
    session.flush()
    if refund:
        session.add(
            Refund(
                payment_id=payment.id,
                booking_id=booking.id,
                idempotency_key=f"cancel:{booking.id}",
                reason="client_cancelled",
                tier="partial",
                percent=50,
                amount=refund,
                currency=currency,
                status=REFUND_SUCCEEDED,
            )
        )


@pytest.fixture
def practice(client: Any, database: Database, make_user: Any) -> dict[str, Any]:
    """Four bookings of 2-15 November 2026 (Berlin), one outside, one of someone else."""
    pro, headers, service = setup_professional(client, database, make_user)
    other, _, other_service = setup_professional(client, database, make_user)
    customer = make_user(role="client")
    with database.session() as session:
        b1 = _booking(
            session,
            pro,
            customer.id,
            service["id"],
            berlin(2, 10),
            source="search",
            lead=timedelta(hours=48),
        )
        b2 = _booking(
            session, pro, customer.id, service["id"], berlin(4, 10), lead=timedelta(days=10)
        )
        session.add(NoShow(booking_id=b2.id))
        b3 = _booking(
            session,
            pro,
            customer.id,
            service["id"],
            berlin(9, 14),
            status=CANCELLED,
            lead=timedelta(hours=1),
        )
        b4 = _booking(
            session,
            pro,
            customer.id,
            service["id"],
            berlin(9, 10),
            source="embed",
            lead=timedelta(days=30),
        )
        _booking(session, pro, customer.id, service["id"], berlin(20, 10, month=12))
        _booking(session, other, customer.id, other_service["id"], berlin(3, 10))
        _pay(session, b1, 4500, "EUR")
        _pay(session, b3, 4000, "EUR", refund=2000)
        _pay(session, b4, 3000, "USD")
    return {"pro": pro, "headers": headers, "client": customer}


EXPECTED_WEEKS = [
    {"week_start": "2026-11-02", "booked": 2, "cancelled": 0},
    {"week_start": "2026-11-09", "booked": 1, "cancelled": 1},
]


@BOTH_DATABASES
def test_the_api_answers_the_fixtures_numbers(client: Any, practice: dict[str, Any]) -> None:
    answer = client.get(
        "/api/v1/insights?from=2026-11-02&to=2026-11-15", headers=practice["headers"]
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["bookings"] == {"total": 4, "cancelled": 1, "held": 2, "no_shows": 1}
    assert body["rates"] == {"cancellation": 0.25, "no_show": 0.3333, "group_fill": None}
    assert body["weeks"] == EXPECTED_WEEKS
    assert body["revenue"] == [
        {"currency": "EUR", "received": 8500, "refunded": 2000, "net": 6500},
        {"currency": "USD", "received": 3000, "refunded": 0, "net": 3000},
    ]
    assert body["busiest"]["weekdays"] == {
        "Mon": 2,
        "Tue": 0,
        "Wed": 1,
        "Thu": 0,
        "Fri": 0,
        "Sat": 0,
        "Sun": 0,
    }
    assert body["busiest"]["hours"]["10"] == 3 and sum(body["busiest"]["hours"].values()) == 3
    assert body["sources"] == {"search": 1, "direct": 1, "embed": 1, "api": 0}
    assert body["lead_time"]["buckets"] == {
        "Under a day": 0,
        "1-3 days": 1,
        "3-7 days": 0,
        "1-2 weeks": 1,
        "2-4 weeks": 0,
        "Over 4 weeks": 1,
    }
    assert body["lead_time"]["median_hours"] == 240.0
    assert body["timezone"] == "Europe/Berlin"


@BOTH_DATABASES
def test_bad_ranges_and_wrong_people_are_refused(
    client: Any, practice: dict[str, Any], database: Database
) -> None:
    headers = practice["headers"]
    for query, field in (
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-11-10&to=2026-11-01", "to"),
        ("from=2025-01-01&to=2026-11-01", "to"),
        ("from=2026-11-01%00", "from"),
    ):
        answer = client.get(f"/api/v1/insights?{query}", headers=headers)
        assert answer.status_code == 400, query
        assert field in answer.get_json()["error"].get("fields", {field: ""}), query
    assert client.get("/api/v1/insights").status_code == 401
    as_client = client.get("/api/v1/insights", headers=bearer(database, practice["client"]))
    assert as_client.status_code == 403


@BOTH_DATABASES
def test_the_page_draws_each_chart_with_its_table_and_the_csv_has_every_number(
    client: Any, practice: dict[str, Any]
) -> None:
    login(client, practice["pro"])
    page = client.get("/pro/insights?from=2026-11-02&to=2026-11-15")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in ("weeks", "weekdays", "hours", "sources", "lead"):
        assert f'data-testid="chart-{key}"' in html
    assert html.count("<svg viewBox=") == 5 and html.count("<table>") == 5
    assert 'role="img" aria-labelledby="chart-weeks-title chart-weeks-desc"' in html
    assert '<p class="stat-value" data-testid="stat-cancellation">25%</p>' in html
    assert '<p class="stat-value" data-testid="stat-no-show">33%</p>' in html
    assert "€85.00" in html or "85,00" in html
    bad = client.get("/pro/insights?from=2026-11-31")
    assert bad.status_code == 400 and 'id="from-error"' in bad.get_data(as_text=True)

    exported = client.get("/pro/insights.csv?from=2026-11-02&to=2026-11-15")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["section", "key", "measure", "value"]
    assert ["weeks", "2026-11-09", "cancelled", "1"] in rows
    assert ["revenue", "EUR", "net_minor_units", "6500"] in rows
    assert ["rates", "no_show", "fraction", "0.3333"] in rows
    assert ["sources", "embed", "bookings", "1"] in rows


@BOTH_DATABASES
def test_group_fill_rate_counts_every_occurrence_of_the_range(
    client: Any, database: Database, make_user: Any
) -> None:
    pro = make_user(role="professional", timezone="Europe/Berlin")
    headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services", json=group_class(capacity=4), headers=headers
    ).get_json()
    day = next_weekday(3, weeks_ahead=1)
    created = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=2"},
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    for _ in range(2):
        seat = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(at(day, "18:00"))},
            headers=bearer(database, make_user(role="client")),
        )
        assert seat.status_code == 201
    span = f"from={day.isoformat()}&to={(day + timedelta(days=13)).isoformat()}"
    body = client.get(f"/api/v1/insights?{span}", headers=headers).get_json()
    assert body["group_occurrences"] == 2
    assert body["rates"]["group_fill"] == 0.25  # 2 of 8 places
    with database.session() as session:
        sources = set(
            session.scalars(select(Booking.source).where(Booking.professional_id == pro.id))
        )
    assert sources == {"api"}


def test_the_core_counts_a_range_with_nothing_in_it() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    empty = summarize([], [], [], start=now.date(), end=now.date(), zone=BERLIN, now=now)
    assert (empty.cancellation_rate, empty.no_show_rate, empty.fill_rate) == (None, None, None)
    assert empty.median_lead_hours is None and len(empty.weeks) == 1
    full = summarize(
        [],
        [],
        [OccurrenceFact(10, 10), OccurrenceFact(10, 0)],
        start=now.date(),
        end=now.date(),
        zone=BERLIN,
        now=now,
    )
    assert full.fill_rate == 0.5
