"""No double booking, ever: real threads racing over HTTP against a running server,
on PostgreSQL and on SQLite."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from booking.models import Booking, GroupOccurrence
from tests.factories import WORKWEEK, at, bearer, group_class, iso, next_weekday, one_on_one
from tests.helpers import TEST_PASSWORD, LiveServer

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def _race(requests_to_send: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[int]:
    barrier = threading.Barrier(len(requests_to_send))

    def send(args: tuple[str, dict[str, Any], dict[str, str]]) -> int:
        url, body, headers = args
        barrier.wait()
        return requests.post(url, json=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def _professional(
    live_server: LiveServer, database: Any, make_user: Any, service: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    pro = make_user(role="professional", timezone="Europe/Berlin")
    headers = bearer(database, pro)
    hours = requests.put(
        f"{live_server.url}/api/v1/availability",
        json={"timezone": "Europe/Berlin", "weekly": WORKWEEK, "overrides": []},
        headers=headers,
        timeout=30,
    )
    assert hours.status_code == 200
    created = requests.post(
        f"{live_server.url}/api/v1/services", json=service, headers=headers, timeout=30
    )
    assert created.status_code == 201, created.text
    return pro, created.json()


def test_concurrent_requests_for_one_slot_exactly_one_wins(
    live_server: LiveServer, database: Any, make_user: Any
) -> None:
    _, service = _professional(live_server, database, make_user, one_on_one())
    start = iso(at(next_weekday(0, weeks_ahead=2), "09:00"))
    clients = [make_user(role="client") for _ in range(12)]
    statuses = _race(
        [
            (
                f"{live_server.url}/api/v1/bookings",
                {"service_id": service["id"], "start": start},
                bearer(database, c),
            )
            for c in clients
        ]
    )
    assert Counter(statuses) == {201: 1, 409: 11}
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Booking)) == 1


def test_overlapping_starts_cannot_both_win(
    live_server: LiveServer, database: Any, make_user: Any
) -> None:
    # A 30-minute step with 60-minute sessions: 09:00 and 09:30 overlap, so only one may succeed.
    _, service = _professional(
        live_server, database, make_user, one_on_one(duration_minutes=60, step_minutes=30)
    )
    day = next_weekday(0, weeks_ahead=2)
    clients = [make_user(role="client") for _ in range(8)]
    bodies = [
        {"service_id": service["id"], "start": iso(at(day, "09:00" if i % 2 else "09:30"))}
        for i in range(len(clients))
    ]
    statuses = _race(
        [
            (f"{live_server.url}/api/v1/bookings", body, bearer(database, c))
            for body, c in zip(bodies, clients, strict=True)
        ]
    )
    assert statuses.count(201) == 1


def test_concurrent_seat_requests_never_exceed_capacity(
    live_server: LiveServer, database: Any, make_user: Any
) -> None:
    pro, service = _professional(live_server, database, make_user, group_class(capacity=3))
    day = next_weekday(2, weeks_ahead=2)
    created = requests.post(
        f"{live_server.url}/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00"))},
        headers=bearer(database, pro),
        timeout=30,
    )
    assert created.status_code == 201
    clients = [make_user(role="client") for _ in range(10)]
    statuses = _race(
        [
            (
                f"{live_server.url}/api/v1/bookings",
                {"service_id": service["id"], "start": iso(at(day, "18:00"))},
                bearer(database, c),
            )
            for c in clients
        ]
    )
    assert Counter(statuses) == {201: 3, 409: 7}
    with database.session() as session:
        assert session.scalar(select(GroupOccurrence.seats_taken)) == 3


def test_an_event_the_professional_adds_from_their_phone_wins(
    live_server: LiveServer, database: Any, make_user: Any
) -> None:
    pro, service = _professional(live_server, database, make_user, one_on_one())
    day = next_weekday(0, weeks_ahead=2)
    event = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//phone//EN\nBEGIN:VEVENT\nUID:doctor\n"
        "DTSTAMP:20260101T000000Z\n"
        f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T090000\nDTEND;TZID=Europe/Berlin:{day:%Y%m%d}T093000\n"
        "SUMMARY:Doctor\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    put = requests.put(
        f"{live_server.url}/dav/{pro.principal}/bookings/doctor.ics",
        data=event,
        auth=(pro.email, TEST_PASSWORD),
        headers={"Content-Type": "text/calendar"},
        timeout=30,
    )
    assert put.status_code == 201
    response = requests.post(
        f"{live_server.url}/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "09:00"))},
        headers=bearer(database, make_user(role="client")),
        timeout=30,
    )
    assert response.status_code == 409
    later = requests.post(
        f"{live_server.url}/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day + timedelta(days=1), "09:00"))},
        headers=bearer(database, make_user(role="client")),
        timeout=30,
    )
    assert later.status_code == 201
