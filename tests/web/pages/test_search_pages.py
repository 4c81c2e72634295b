"""The home page search (a plain GET form) and ``GET /api/v1/professionals``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from directory import photos, profiles
from directory import search as directory
from tests.factories import next_weekday, one_on_one
from tests.web.pages.helpers import WEEKEND, make_professional, png_bytes


@pytest.fixture
def world(client: Any, database: Any, make_user: Any) -> dict[str, Any]:
    maya = make_professional(
        client,
        database,
        make_user,
        name="Maya Lindqvist",
        headline="Therapist for anxiety",
        categories=("therapy",),
        languages=("en", "sv"),
        services=[one_on_one(title="Therapy session", price={"amount": 9000, "currency": "EUR"})],
    )
    ana = make_professional(
        client,
        database,
        make_user,
        name="Ana Souza",
        weekly=WEEKEND,
        headline="Yoga teacher",
        categories=("yoga",),
        languages=("pt",),
        services=[
            one_on_one(
                title="Private yoga", duration_minutes=60, price={"amount": 6000, "currency": "EUR"}
            )
        ],
    )
    return {"maya": maya, "ana": ana}


def test_home_page_searches_without_javascript(client: Any, world: dict[str, Any]) -> None:
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<form method="get" action="/" role="search"' in html
    for control in (
        "q",
        "category",
        "language",
        "sort",
        "tz",
        "min_price",
        "max_price",
        "available_from",
        "available_to",
    ):
        assert f'<label class="label" for="{control}">' in html, control
    assert "Maya Lindqvist" in html and "Ana Souza" in html

    found = client.get("/?q=anxiety").get_data(as_text=True)
    assert "1 professional found" in found and "Maya Lindqvist" in found
    assert "Ana Souza" not in found
    assert "€90.00" in found and "50 min" in found
    # Every time on the page says its zone.
    assert re.search(r"Next free: \w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d \(UTC\)", found)
    # The search box keeps what was typed.
    assert 'value="anxiety"' in found


def test_the_visitor_zone_from_the_cookie_is_used(client: Any, world: dict[str, Any]) -> None:
    client.set_cookie("tz", "America/New_York")
    html = client.get("/?q=therapist").get_data(as_text=True)
    assert "(America/New York)" in html and "Times in America/New York" in html
    assert '<option value="America/New_York" selected>' in html


def test_date_filter_on_the_page(client: Any, world: dict[str, Any]) -> None:
    saturday = next_weekday(5, weeks_ahead=2).isoformat()
    html = client.get(f"/?available_from={saturday}").get_data(as_text=True)
    assert "Ana Souza" in html and "Maya Lindqvist" not in html
    assert f'value="{saturday}"' in html and '<details class="filters-more" open>' in html


def test_pagination_links_keep_the_query(
    client: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "PER_PAGE", 1)
    html = client.get("/?category=&sort=price").get_data(as_text=True)
    assert "Page 1 of 2" in html and "Ana Souza" in html and "Maya Lindqvist" not in html
    link = re.search(r'href="([^"]+)" rel="next"', html)
    assert link and "sort=price" in link.group(1) and "page=2" in link.group(1)
    second = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Maya Lindqvist" in second and "Page 2 of 2" in second
    beyond = client.get("/?page=9")
    assert beyond.status_code == 200 and "There is no page 9" in beyond.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("min_price=cheap", "Enter an amount such as 40 or 39.50."),
        ("sort=stars", "Sort by relevance, price, next_free or rating."),
        ("available_from=2026-13-01", "Use a date like 2026-12-01."),
        ("category=astrology", "Choose a category from the list."),
        ("page=-1", "Use a page number from 1 to 1000."),
    ],
)
def test_bad_search_input_is_shown_next_to_the_field(
    client: Any, world: dict[str, Any], query: str, message: str
) -> None:
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "Please correct the search fields" in html
    field = query.split("=")[0]
    if field != "page":
        assert f'aria-describedby="{field}-error"' in html


def test_an_unknown_zone_is_explained_not_an_error(client: Any, world: dict[str, Any]) -> None:
    response = client.get("/?tz=Mars/Olympus")
    assert response.status_code == 200
    assert "We do not know the time zone “Mars/Olympus”" in response.get_data(as_text=True)


def test_api_search_answers_with_results_and_pagination(
    client: Any, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(directory, "PER_PAGE", 1)
    body = client.get("/api/v1/professionals?sort=price").get_json()
    assert body["pagination"] == {
        "page": 1,
        "per_page": 1,
        "total": 2,
        "pages": 2,
        "next": "http://localhost/api/v1/professionals?sort=price&page=2",
        "prev": None,
    }
    [ana] = body["results"]
    assert ana["name"] == "Ana Souza" and ana["categories"] == ["yoga"]
    assert ana["url"].startswith("http://localhost/p/")
    assert ana["lowest_price"] == {"amount": 6000, "currency": "EUR"}
    assert ana["services"][0]["duration_minutes"] == 60 and ana["photo_url"] is None
    assert datetime.fromisoformat(ana["next_free_slot"]).weekday() in (5, 6)
    assert body["truncated"] is False
    second = client.get(body["pagination"]["next"]).get_json()
    assert [r["name"] for r in second["results"]] == ["Maya Lindqvist"]
    assert second["pagination"]["prev"].endswith("page=1") and second["pagination"]["next"] is None


def test_api_search_filters(client: Any, world: dict[str, Any]) -> None:
    saturday = next_weekday(5, weeks_ahead=2).isoformat()

    def found(query: str) -> list[str]:
        response = client.get(f"/api/v1/professionals?{query}")
        assert response.status_code == 200, response.get_json()
        return [result["name"] for result in response.get_json()["results"]]

    assert found("q=therap") == ["Maya Lindqvist"]
    assert found("language=pt") == ["Ana Souza"]
    assert found("max_price=70") == ["Ana Souza"]
    assert found(f"available_from={saturday}&available_to={saturday}&tz=Asia/Tokyo") == [
        "Ana Souza"
    ]
    assert found("sort=next_free&category=therapy") == ["Maya Lindqvist"]


def test_api_bad_parameters_are_400_with_a_reason(client: Any) -> None:
    response = client.get("/api/v1/professionals?page=x&min_price=-3&tz=Nowhere/City")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert set(error["fields"]) == {"page", "min_price", "tz"}
    assert "Unknown time zone" in error["fields"]["tz"]


def test_search_results_show_the_small_photo_and_the_profile_page_the_large(
    client: Any, database: Any, world: dict[str, Any], settings: Any
) -> None:
    user = world["maya"][0]
    name = photos.store_photo(settings.data_dir, user.id, photos.prepare_photo(png_bytes(800, 600)))
    with database.session() as session:
        profile = profiles.get_profile(session, user.id)
        assert profile is not None
        profiles.set_photo(session, profile, name)
        session.commit()
    small = photos.small_name(name)
    assert small != name

    results = client.get("/?q=anxiety").get_data(as_text=True)
    assert f'src="/photos/{small}"' in results and f'src="/photos/{name}"' not in results
    page = client.get(f"/p/{user.principal}").get_data(as_text=True)
    assert f'src="/photos/{name}"' in page
    assert client.get(f"/photos/{small}").status_code == 200
