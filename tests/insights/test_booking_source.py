"""Where a booking came from: a search result's link marks the visit as "search",
the professional's own link as "direct", the API as "api". PostgreSQL and SQLite."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from booking.models import Booking
from consult.db import Database
from tests.factories import at, iso, next_weekday, setup_professional
from tests.helpers import csrf_token, login

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def _book_on_the_page(client: Any, principal: str, service_id: int, start: Any) -> None:
    utc = iso(start).replace("+", "%2B")
    path = f"/p/{principal}/book?service={service_id}&start={utc}&tz=Europe/Berlin"
    answer = client.post(path, data={"csrf_token": csrf_token(client, path), "note": ""})
    assert answer.status_code in (302, 303), answer.get_data(as_text=True)[:500]


def test_search_links_and_direct_links_are_told_apart(
    app: Any, client: Any, database: Database, make_user: Any
) -> None:
    pro, _, service = setup_professional(client, database, make_user)
    home = client.get("/?q=").get_data(as_text=True)
    assert re.search(rf'href="/p/{pro.principal}\?ref=search"', home)

    searcher = make_user(role="client")
    login(client, searcher)
    client.get(f"/p/{pro.principal}?ref=search")
    _book_on_the_page(client, pro.principal, service["id"], at(next_weekday(0), "09:00"))
    # The source is used once: the same visitor's next booking from the plain link is direct.
    client.get(f"/p/{pro.principal}")
    _book_on_the_page(client, pro.principal, service["id"], at(next_weekday(2), "09:00"))

    direct = make_user(role="client")
    other_browser = app.test_client()
    login(other_browser, direct)
    other_browser.get(f"/p/{pro.principal}")
    _book_on_the_page(other_browser, pro.principal, service["id"], at(next_weekday(1), "09:00"))
    with database.session() as session:
        sources = [
            (booking.client_id, booking.source)
            for booking in session.scalars(
                select(Booking).where(Booking.professional_id == pro.id).order_by(Booking.id)
            )
        ]
    assert sources == [(searcher.id, "search"), (searcher.id, "direct"), (direct.id, "direct")]


def test_browsing_many_professionals_keeps_one_remembered_source(
    app: Any, database: Database, make_user: Any
) -> None:
    """The session cookie holds the last search visit only: it never grows with browsing."""
    setup = app.test_client()
    principals = [setup_professional(setup, database, make_user)[0].principal for _ in range(4)]
    browser = app.test_client()
    sizes = []
    for principal in principals:
        browser.get(f"/p/{principal}?ref=search")
        cookie = browser.get_cookie("session")
        assert cookie is not None
        sizes.append(len(cookie.value))
    # One entry, replaced on each visit (the first visit's cookie lacks the CSRF token
    # the page adds): the cookie is no larger after four professionals than after two.
    assert sizes[-1] <= sizes[1] + 4
