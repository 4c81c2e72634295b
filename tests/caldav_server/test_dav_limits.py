"""Configured size limits on /dav: a clear 4xx and nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from caldav_server.store import CalendarStore
from consult.db import Database
from tests.caldav_server.conftest import DavUser, make_event

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
