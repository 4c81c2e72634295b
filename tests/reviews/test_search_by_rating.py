"""Search shows each professional's rating and sorts by a Bayesian average, so one
5-star review does not outrank eighty at 4.8; min_rating filters by the shown
average. The reviews are written directly (the rules of writing them are tested
through the API elsewhere). PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from accounts.models import User
from booking.models import CONFIRMED, Booking
from consult.db import Database, utcnow
from reviews.models import Review
from reviews.services import bayesian_average
from tests.factories import setup_professional

BOTH_DATABASES = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def _reviews(
    database: Database, professional: Any, client_id: int, service_id: int, ratings: list[int]
) -> None:
    """Past bookings of one client, each with its review (no calendar event needed)."""
    end = utcnow() - timedelta(days=2)
    with database.session() as session:
        for rating in ratings:
            booking = Booking(
                service_id=service_id,
                professional_id=professional.id,
                client_id=client_id,
                start=end - timedelta(hours=1),
                end=end,
                status=CONFIRMED,
                event_uid=f"review-fixture-{professional.id}-{end.timestamp()}",
                event_href="x.ics",
            )
            session.add(booking)
            session.flush()
            session.add(
                Review(
                    booking_id=booking.id,
                    professional_id=professional.id,
                    client_id=client_id,
                    service_id=service_id,
                    rating=rating,
                )
            )
            end -= timedelta(hours=2)


@BOTH_DATABASES
def test_the_bayesian_order_and_the_minimum_rating(
    client: Any, database: Database, make_user: Any
) -> None:
    customer = make_user(role="client")
    fixture = {
        "One Five": [5],
        "Eighty Near Five": [5] * 64 + [4] * 16,  # 4.8
        "Ten Fours": [4] * 10,
        "Three Twos": [2, 2, 3],
        "No Reviews": [],
    }
    for name, ratings in fixture.items():
        pro, _, service = setup_professional(client, database, make_user)
        with database.session() as session:
            account = session.get(User, pro.id)
            assert account is not None
            account.name = name
        _reviews(database, pro, customer.id, service["id"], ratings)

    hits = client.get("/api/v1/professionals?sort=rating").get_json()["results"]
    assert [hit["name"] for hit in hits] == [
        "Eighty Near Five",
        "One Five",
        "Ten Fours",
        "Three Twos",
        "No Reviews",  # unrated last, though the mean would put it above ten fours
    ]
    by_name = {hit["name"]: hit["rating"] for hit in hits}
    assert by_name["Eighty Near Five"] == {"average": 4.8, "count": 80}
    assert by_name["No Reviews"] == {"average": None, "count": 0}

    page = client.get("/?sort=rating&min_rating=4.5").get_data(as_text=True)
    assert page.index("Eighty Near Five") < page.index("One Five")
    assert "Ten Fours" not in page
    assert '4.8<span class="visually-hidden"> out of 5</span> · 80 reviews' in page

    four_up = client.get("/api/v1/professionals?min_rating=4").get_json()["results"]
    assert sorted(hit["name"] for hit in four_up) == ["Eighty Near Five", "One Five", "Ten Fours"]
    for bad in ("0", "6", "x", "nan", "inf"):
        answer = client.get(f"/api/v1/professionals?min_rating={bad}")
        assert answer.status_code == 400
        assert "min_rating" in answer.get_json()["error"]["fields"]


def test_the_bayesian_average_pulls_few_reviews_to_the_mean() -> None:
    assert bayesian_average(5.0, 1, 4.0) < bayesian_average(4.8, 80, 4.0)
    assert bayesian_average(None, 0, 4.3) == pytest.approx(4.3)
