"""Configured size limits on /dav: a clear 4xx and nothing stored; a hostile object
refused on its raw bytes, before Radicale parses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from radicale import item as radicale_item

from caldav_server.errors import TooManyListedDates
from caldav_server.store import CalendarStore
from consult.db import Database
from tests.caldav_server.conftest import DavUser, ics_time, make_event

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    return {"dav": {"max_resource_size": "4000", "max_content_length": "20000"}}


def _count(database: Database, user: DavUser) -> int:
    with database.session() as session:
        return CalendarStore(session).count_items(f"{user.principal}/bookings")


def test_an_object_over_the_resource_limit_is_refused(
    dav_user: DavUser, database: Database
) -> None:
    assert dav_user.put("small.ics", make_event("small")).status_code == 201
    response = dav_user.put("big.ics", make_event("big", summary="x" * 6000))
    assert response.status_code == 412  # Radicale's answer for max_resource_size
    assert _count(database, dav_user) == 1


def test_a_body_over_the_request_limit_is_refused(dav_user: DavUser, database: Database) -> None:
    response = dav_user.put("huge.ics", make_event("huge", summary="x" * 30000))
    # Radicale checks max_content_length only in its own server; mounted under WSGI
    # the resource limit answers first. Either way: a 4xx and nothing stored.
    assert response.status_code in (412, 413)
    assert _count(database, dav_user) == 0


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Radicale's parses of PUT bodies (the live server runs in this process)."""
    calls: list[int] = []
    original = radicale_item.read_components

    def counting(text: str) -> Any:
        calls.append(len(text))
        return original(text)

    monkeypatch.setattr(radicale_item, "read_components", counting)
    return calls


def test_an_oversized_body_is_refused_before_it_is_parsed(
    dav_user: DavUser, database: Database, parses: list[int]
) -> None:
    exdates = [datetime(2030, 1, 8, 9, tzinfo=UTC) + timedelta(days=n) for n in range(300)]
    response = dav_user.put("big.ics", make_event("big", rrule="FREQ=DAILY", exdates=exdates))
    assert response.status_code == 412
    assert "the limit is 4000 (max-resource-size)" in response.text
    assert parses == []
    assert _count(database, dav_user) == 0


def _listing(count: int, *, rdates: int = 0) -> str:
    """A daily event excluding ``count`` days on one comma-separated EXDATE line, which
    the line folding spreads over many physical lines, plus ``rdates`` RDATEs."""
    days = [datetime(2030, 1, 8, 9, tzinfo=UTC) + timedelta(days=n) for n in range(count)]
    extra = "EXDATE:" + ",".join(ics_time(day) for day in days)
    folded = "\r\n ".join(extra[i : i + 70] for i in range(0, len(extra), 70))
    for n in range(rdates):
        folded += f"\r\nRDATE:{ics_time(datetime(2031, 1, 1, 9, tzinfo=UTC) + timedelta(days=n))}"
    return make_event("listing", rrule="FREQ=DAILY;COUNT=3000", extra=folded)


@pytest.mark.parametrize("settings_overrides", [{}])
def test_too_many_listed_dates_are_refused_before_parsing(
    dav_user: DavUser, database: Database, parses: list[int]
) -> None:
    response = dav_user.put("many.ics", _listing(900, rdates=101))
    assert response.status_code == 400
    assert "more than 1000 EXDATE and RDATE dates" in response.text
    assert parses == []
    assert _count(database, dav_user) == 0
    # At the bound the object is stored as usual.
    assert dav_user.put("bound.ics", _listing(900, rdates=100)).status_code == 201
    assert _count(database, dav_user) == 1


@pytest.mark.parametrize("settings_overrides", [{}])
def test_the_platform_path_bounds_listed_dates_too(store: CalendarStore, dav_user: DavUser) -> None:
    with pytest.raises(TooManyListedDates, match="more than 1000"):
        store.put_item(f"{dav_user.principal}/bookings", _listing(1001))
