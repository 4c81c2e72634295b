"""Small factories for tests: API tokens, services, open hours, dates to book, and
sessions booked through the API (moved into the past where a test needs that)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from booking.models import Booking
from consult.db import Database, utcnow
from tests.helpers import bearer

WORKWEEK = {
    "mon": [["09:00", "17:00"]],
    "tue": [["09:00", "17:00"]],
    "wed": [["09:00", "17:00"]],
    "thu": [["09:00", "17:00"]],
    "fri": [["09:00", "17:00"]],
    "sat": [],
    "sun": [],
}


def next_weekday(weekday: int, *, zone: str = "Europe/Berlin", weeks_ahead: int = 1) -> date:
    """A date on ``weekday`` (0 = Monday) at least ``weeks_ahead`` weeks from today."""
    today = datetime.now(ZoneInfo(zone)).date()
    days = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=days + 7 * (weeks_ahead - 1))


def at(day: date, clock: str, zone: str = "Europe/Berlin") -> datetime:
    """``day`` at local ``clock`` (HH:MM) in ``zone``, as an aware datetime."""
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def next_dst_change(zone: str, after: date | None = None) -> date:
    """The first local date after ``after`` (default today) whose UTC offset differs
    from the day before: the day a DST change happened overnight."""
    tz = ZoneInfo(zone)
    day = after or datetime.now(tz).date()
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
    offset = noon.utcoffset()
    for _ in range(400):
        day += timedelta(days=1)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
        if noon.utcoffset() != offset:
            return day
    raise AssertionError(f"no DST change in {zone} within 400 days")


def one_on_one(**changes: Any) -> dict[str, Any]:
    """A one-on-one service payload (50 minutes, no buffers, one year ahead)."""
    return {
        "kind": "one_on_one",
        "title": "Therapy session",
        "description": "A 50-minute session.",
        "duration_minutes": 50,
        "price": {"amount": 0, "currency": "EUR"},
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "min_notice_minutes": 0,
        "horizon_days": 365,
        **changes,
    }


def group_class(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "group",
        "title": "Conversation group",
        "description": "Practise speaking.",
        "duration_minutes": 60,
        "price": {"amount": 0, "currency": "EUR"},
        "capacity": 6,
        "horizon_days": 365,
        **changes,
    }


def setup_professional(
    client: Any,
    database: Database,
    make_user: Any,
    *,
    zone: str = "Europe/Berlin",
    weekly: dict[str, Any] | None = None,
    **service: Any,
) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """A professional with open hours and one one-on-one service, through the API.
    Returns (user, headers, service JSON)."""
    pro = make_user(role="professional", timezone=zone)
    headers = bearer(database, pro)
    response = client.put(
        "/api/v1/availability",
        json={"timezone": zone, "weekly": weekly or WORKWEEK, "overrides": []},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    created = client.post("/api/v1/services", json=one_on_one(**service), headers=headers)
    assert created.status_code == 201, created.get_json()
    return pro, headers, created.get_json()


def move_booking(database: Database, booking_id: int, end: datetime) -> None:
    """Move a booking's times so that it ends at ``end`` (an hour long), in the
    database only: how tests get sessions that took place, since nobody can book the
    past."""
    with database.session() as session:
        session.execute(
            update(Booking)
            .where(Booking.id == booking_id)
            .values(start=end - timedelta(hours=1), end=end)
        )


@dataclass
class Meeting:
    professional: Any
    pro_headers: dict[str, str]
    client_user: Any
    client_headers: dict[str, str]
    service: dict[str, Any]
    booking_id: int


def session_booker(client: Any, database: Database, make_user: Any) -> Callable[..., Meeting]:
    """A professional with one one-on-one service, and ``book(ended=timedelta(hours=2),
    name="Maria Lopez")`` → a Meeting: a new client's booking of it, made through the
    API, that ended that long ago (``None``: left in the future)."""
    pro, pro_headers, service = setup_professional(client, database, make_user)
    # 09:00 is on the service's grid every working day (later hours depend on its length).
    starts = iter(
        at(next_weekday(weekday, weeks_ahead=week), "09:00")
        for week in range(1, 9)
        for weekday in range(5)
    )

    def book(ended: timedelta | None = timedelta(hours=2), name: str = "Maria Lopez") -> Meeting:
        customer = make_user(role="client", name=name)
        headers = bearer(database, customer)
        start = next(starts)
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(start)},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
        booking_id = response.get_json()["id"]
        if ended is not None:
            move_booking(database, booking_id, utcnow() - ended)
        return Meeting(pro, pro_headers, customer, headers, service, booking_id)

    return book
