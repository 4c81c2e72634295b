"""Search: free text, filters, sorting, pagination, and availability that is true
(computed by the scheduling core, refreshed when calendars change)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from accounts.models import User
from booking import catalog
from caldav_server.store import CalendarStore
from consult.db import utcnow
from directory import search as directory
from directory.errors import SearchParamError
from tests.factories import at, bearer, iso, next_weekday, one_on_one
from tests.web.pages.helpers import WEEKEND, make_professional


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, dict[str, Any]]:
    # Jobs queue in this test's Redis database instead of running in threads that could
    # outlive the test (see tests/web/pages/conftest.py).
    return {"redis": {"url": redis_url}}


def search(database: Any, **params: str) -> directory.SearchResult:
    now = utcnow()
    query = directory.parse_search(params, now=now)
    with database.session() as session:
        return directory.search(session, query, now)


def names(result: directory.SearchResult) -> list[str]:
    return [hit.name for hit in result.hits]


@pytest.fixture
def world(client: Any, database: Any, make_user: Any) -> dict[str, Any]:
    """Maya (therapy, weekdays), Ken (languages, weekdays, two cheap lessons),
    Ana (yoga, weekends only), and Lee who offers nothing published."""
    maya = make_professional(
        client,
        database,
        make_user,
        name="Maya Lindqvist",
        headline="Therapist for anxiety and burnout",
        bio="Calm sessions in English and Swedish.",
        categories=("therapy", "wellbeing"),
        languages=("en", "sv"),
        services=[one_on_one(title="Therapy session", price={"amount": 9000, "currency": "EUR"})],
    )
    ken = make_professional(
        client,
        database,
        make_user,
        name="Ken Watanabe",
        headline="Japanese tutor",
        bio="Conversation first; mindfulness breaks.",
        categories=("languages",),
        languages=("ja", "en"),
        services=[
            one_on_one(
                title="Japanese lesson",
                duration_minutes=30,
                price={"amount": 2500, "currency": "USD"},
            ),
            one_on_one(
                title="Long lesson", duration_minutes=60, price={"amount": 4500, "currency": "USD"}
            ),
        ],
    )
    ana = make_professional(
        client,
        database,
        make_user,
        name="Ana Souza",
        weekly=WEEKEND,
        headline="Yoga teacher",
        bio="Gentle flow.",
        categories=("yoga",),
        languages=("pt", "en"),
        services=[
            one_on_one(
                title="Private yoga", duration_minutes=60, price={"amount": 6000, "currency": "EUR"}
            )
        ],
    )
    lee = make_professional(
        client,
        database,
        make_user,
        name="Lee Hidden",
        headline="Therapist",
        services=[one_on_one(title="Therapy session", is_published=False)],
    )
    return {"maya": maya, "ken": ken, "ana": ana, "lee": lee}


def test_free_text_matches_name_headline_services_and_bio_by_prefix(
    database: Any, world: dict[str, Any]
) -> None:
    assert names(search(database, q="therap")) == ["Maya Lindqvist"]  # not unpublished Lee
    assert names(search(database, q="maya")) == ["Maya Lindqvist"]
    assert names(search(database, q="LESSON")) == ["Ken Watanabe"]  # a service title
    assert names(search(database, q="gentle")) == ["Ana Souza"]  # the bio
    assert names(search(database, q="japanese tutor")) == ["Ken Watanabe"]  # every word
    assert names(search(database, q="japanese yoga")) == []
    assert names(search(database, q="yoga!!")) == ["Ana Souza"]  # punctuation is not syntax
    assert names(search(database, q="ken's")) == ["Ken Watanabe"]
    assert names(search(database)) == ["Ana Souza", "Ken Watanabe", "Maya Lindqvist"]


def test_name_and_headline_rank_above_the_bio(
    client: Any, database: Any, make_user: Any, world: dict[str, Any]
) -> None:
    make_professional(
        client,
        database,
        make_user,
        name="Bo Mindful",
        headline="Mindfulness coach",
        bio="Breathing.",
    )
    result = search(database, q="mindful")
    assert names(result) == ["Bo Mindful", "Ken Watanabe"]  # Ken only mentions it in his bio
    assert result.hits[0].rank > result.hits[1].rank > 0


def test_category_language_and_price_filters(database: Any, world: dict[str, Any]) -> None:
    assert names(search(database, category="yoga")) == ["Ana Souza"]
    assert names(search(database, language="sv")) == ["Maya Lindqvist"]
    assert names(search(database, language="en", category="languages")) == ["Ken Watanabe"]
    assert names(search(database, min_price="50")) == ["Ana Souza", "Maya Lindqvist"]
    assert names(search(database, max_price="30")) == ["Ken Watanabe"]
    between = search(database, min_price="40", max_price="70")
    assert names(between) == ["Ana Souza", "Ken Watanabe"]
    # Only the services inside the range count for the professional.
    ken = next(hit for hit in between.hits if hit.name == "Ken Watanabe")
    assert [service.title for service in ken.services] == ["Long lesson"]


def test_sort_by_price_uses_the_lowest_matching_price(database: Any, world: dict[str, Any]) -> None:
    result = search(database, sort="price")
    assert names(result) == ["Ken Watanabe", "Ana Souza", "Maya Lindqvist"]
    lowest = [
        (hit.lowest_price.price_amount, hit.lowest_price.price_currency) for hit in result.hits
    ]
    assert lowest == [(2500, "USD"), (6000, "EUR"), (9000, "EUR")]


def test_pages_and_their_counts(
    database: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "PER_PAGE", 2)
    first, second = search(database), search(database, page="2")
    assert (first.total, first.pages, first.has_next, first.has_prev) == (3, 2, True, False)
    assert (second.total, second.has_next, second.has_prev) == (3, False, True)
    assert names(first) + names(second) == ["Ana Souza", "Ken Watanabe", "Maya Lindqvist"]
    assert search(database, page="3").hits == []
    # The same with a date filter, paginated after the availability check.
    monday = next_weekday(0, weeks_ahead=2)
    dated = [search(database, available_from=monday.isoformat(), page=str(page)) for page in (1, 2)]
    assert dated[0].total == 2 and names(dated[0]) == ["Ken Watanabe", "Maya Lindqvist"]
    assert dated[1].hits == [] and not dated[0].has_next


def test_available_on_lists_only_professionals_with_a_free_slot_then(
    client: Any, database: Any, make_user: Any, world: dict[str, Any]
) -> None:
    saturday = next_weekday(5, weeks_ahead=2)
    monday = next_weekday(0, weeks_ahead=2)
    assert names(search(database, available_from=saturday.isoformat())) == ["Ana Souza"]
    assert names(search(database, available_from=monday.isoformat())) == [
        "Ken Watanabe",
        "Maya Lindqvist",
    ]
    weekend_and_monday = search(
        database,
        available_from=saturday.isoformat(),
        available_to=(saturday + timedelta(2)).isoformat(),
    )
    assert names(weekend_and_monday) == ["Ana Souza", "Ken Watanabe", "Maya Lindqvist"]

    # Sam books Ana's only free hour on a Saturday: she is no longer free that day, at
    # once (her Bookings calendar's ctag changed, so the cached answer is not used).
    ana, ana_headers, _ = world["ana"]
    # Sam books a free taster: one-on-one bookings block the hour for every service.
    taster = client.post(
        "/api/v1/services",
        json=one_on_one(title="Taster", duration_minutes=60),
        headers=ana_headers,
    )
    assert taster.status_code == 201
    only_hour = {"date": saturday.isoformat(), "intervals": [["10:00", "11:00"]]}
    client.put(
        "/api/v1/availability",
        json={"timezone": "Europe/Berlin", "weekly": WEEKEND, "overrides": [only_hour]},
        headers=ana_headers,
    )
    assert names(search(database, available_from=saturday.isoformat())) == ["Ana Souza"]
    sam = make_user(role="client")
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": taster.get_json()["id"], "start": iso(at(saturday, "10:00"))},
        headers=bearer(database, sam),
    )
    assert booked.status_code == 201, booked.get_json()
    assert names(search(database, available_from=saturday.isoformat())) == []
    # Cancelling frees the hour again.
    cancelled = client.post(
        f"/api/v1/bookings/{booked.get_json()['id']}/cancel", json={}, headers=bearer(database, sam)
    )
    assert cancelled.status_code == 200
    assert names(search(database, available_from=saturday.isoformat())) == ["Ana Souza"]


def test_busy_time_from_the_calendar_and_the_price_range_decide_availability(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    monday = next_weekday(0, weeks_ahead=2)
    # Ken is open 09:00-10:30 that Monday and adds a dentist appointment 09:00-09:45 in a
    # calendar of his own: a 30-minute lesson still fits at 10:00, an hour does not.
    ken, headers, _ = world["ken"]
    closed = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    client.put(
        "/api/v1/availability",
        json={
            "timezone": "Europe/Berlin",
            "weekly": closed,
            "overrides": [{"date": monday.isoformat(), "intervals": [["09:00", "10:30"]]}],
        },
        headers=headers,
    )
    start = at(monday, "09:00").astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    dentist = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:dentist@test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\n"
        "DURATION:PT45M\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with database.session() as session:
        store = CalendarStore(session)
        store.create_calendar(f"{ken.principal}/personal", {"D:displayname": "Personal"})
        store.put_item(f"{ken.principal}/personal", dentist, actor=f"dav:{ken.principal}")
    day = monday.isoformat()
    assert "Ken Watanabe" in names(search(database, available_from=day, max_price="30"))
    assert "Ken Watanabe" not in names(search(database, available_from=day, min_price="40"))


def test_sort_by_next_free_slot_is_the_true_first_slot(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    result = search(database, sort="next_free")
    assert len(result.hits) == 3
    today = utcnow().date()
    window = {
        "start": today.isoformat(),
        "end": (today + timedelta(days=20)).isoformat(),
        "tz": "UTC",
    }
    for hit in result.hits:
        firsts = []
        for service in hit.services:
            slots = client.get(f"/api/v1/services/{service.id}/slots", query_string=window)
            if slots.get_json():
                firsts.append(datetime.fromisoformat(slots.get_json()[0]["start"]))
        assert hit.next_free == min(firsts), hit.name
    starts = [hit.next_free for hit in result.hits]
    assert starts == sorted(starts)


def test_answers_are_cached_until_a_calendar_changes(
    client: Any, database: Any, world: dict[str, Any]
) -> None:
    search(database, sort="next_free")
    with database.session() as session:
        before = directory.cache_stats(session)
    search(database, sort="next_free")
    with database.session() as session:
        after = directory.cache_stats(session)
    assert after["hits"] - before["hits"] == 3 and after["misses"] == before["misses"]
    maya, _, services = world["maya"]
    with database.session() as session:  # Maya asks for three days' notice from now on
        account = session.get(User, maya.id)
        notice = catalog.parse_service_input({"min_notice_minutes": 60 * 24 * 3}, partial=True)
        catalog.update_service(session, account, services[0]["id"], notice)
    search(database, sort="next_free")
    with database.session() as session:
        assert directory.cache_stats(session)["misses"] == after["misses"] + 1  # only Maya again


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_sqlite_path_matches_filters_and_availability_too(
    database: Any, world: dict[str, Any]
) -> None:
    assert names(search(database, q="therap")) == ["Maya Lindqvist"]
    assert names(search(database, q="lesson japanese")) == ["Ken Watanabe"]
    assert names(search(database, q="gentle", category="yoga", language="pt")) == ["Ana Souza"]
    saturday = next_weekday(5, weeks_ahead=2)
    assert names(search(database, available_from=saturday.isoformat())) == ["Ana Souza"]
    assert names(search(database, sort="price", max_price="70")) == ["Ken Watanabe", "Ana Souza"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"sort": "stars"}, "sort"),
        ({"min_price": "cheap"}, "min_price"),
        ({"min_price": "-1"}, "min_price"),
        ({"min_price": "NaN"}, "min_price"),
        ({"min_price": "50", "max_price": "10"}, "max_price"),
        ({"category": "astrology"}, "category"),
        ({"language": "klingon"}, "language"),
        ({"available_from": "2026-02-30"}, "available_from"),
        ({"available_from": "2026-12-10", "available_to": "2026-12-01"}, "available_to"),
        ({"available_from": "2000-01-01"}, "available_to"),
        ({"available_to": "2099-12-31"}, "available_to"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(SearchParamError) as raised:
        directory.parse_search(params, now=utcnow())
    assert field in raised.value.fields
