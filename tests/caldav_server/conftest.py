"""Helpers for the CalDAV storage tests: calendar objects, a signed-in DAV client
for a professional, and raw WebDAV requests where the ``caldav`` library would hide
what the server answered. The shared fixtures (databases, ``live_server``,
``make_user``) come from ``tests/conftest.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import caldav
import pytest
import requests

from caldav_server.store import CalendarStore
from consult.db import Database

# Principal and calendars as provisioned by make_user(role="professional").
BOOKINGS = "bookings"


def ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def make_event(
    uid: str | None = None,
    start: datetime = datetime(2030, 1, 7, 9, tzinfo=UTC),
    end: datetime | None = None,
    *,
    summary: str = "Session",
    rrule: str | None = None,
    exdates: Sequence[datetime] = (),
    overrides: Sequence[tuple[datetime, datetime, datetime]] = (),
    extra: str = "",
) -> str:
    """An iCalendar object with one VEVENT; ``overrides`` are (recurrence-id, start,
    end) triples for moved occurrences (RECURRENCE-ID components)."""
    uid = uid or uuid.uuid4().hex
    end = end if end is not None else start + timedelta(hours=1)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//consult tests//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20240101T000000Z",
        f"DTSTART:{ics_time(start)}",
        f"DTEND:{ics_time(end)}",
        f"SUMMARY:{summary}",
    ]
    if rrule:
        lines.append(f"RRULE:{rrule}")
    for exdate in exdates:
        lines.append(f"EXDATE:{ics_time(exdate)}")
    if extra:
        lines.append(extra)
    lines.append("END:VEVENT")
    for recurrence_id, moved_start, moved_end in overrides:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20240101T000000Z",
            f"RECURRENCE-ID:{ics_time(recurrence_id)}",
            f"DTSTART:{ics_time(moved_start)}",
            f"DTEND:{ics_time(moved_end)}",
            f"SUMMARY:{summary} (moved)",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


@dataclass
class DavUser:
    """A professional with calendars, and ways to talk to the DAV server as them."""

    base_url: str  # http://127.0.0.1:PORT/dav
    principal: str
    email: str
    password: str

    @property
    def home(self) -> str:
        return f"{self.base_url}/{self.principal}/"

    def calendar_url(self, name: str = BOOKINGS) -> str:
        return f"{self.home}{name}/"

    def client(self) -> caldav.DAVClient:
        return caldav.DAVClient(
            url=self.base_url + "/", username=self.email, password=self.password
        )

    def calendar(self, name: str = BOOKINGS) -> Any:
        return self.client().calendar(url=self.calendar_url(name))

    def request(
        self, method: str, url: str, body: str | bytes | None = None, **headers: str
    ) -> requests.Response:
        """A raw request, for status codes and bodies the client library hides."""
        if isinstance(body, str):
            body = body.encode()
        return requests.request(
            method,
            url,
            data=body,
            headers={key.replace("_", "-"): value for key, value in headers.items()},
            auth=(self.email, self.password),
            timeout=60,
        )

    def put(
        self, href: str, text: str, calendar: str = BOOKINGS, **headers: str
    ) -> requests.Response:
        return self.request(
            "PUT",
            self.calendar_url(calendar) + href,
            text,
            Content_Type="text/calendar; charset=utf-8",
            **headers,
        )


@pytest.fixture
def dav_user(live_server: Any, make_user: Any) -> DavUser:
    user = make_user(role="professional")
    return DavUser(live_server.url + "/dav", user.principal, user.email, user.test_password)


@pytest.fixture
def store_session(database: Database) -> Iterator[Any]:
    """A session for direct store use; committed at the end of the test."""
    with database.session() as session:
        yield session


@pytest.fixture
def store(store_session: Any) -> CalendarStore:
    return CalendarStore(store_session)
