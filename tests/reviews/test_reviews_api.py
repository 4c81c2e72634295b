"""Reviews over the API: who may write one and when, editing for 14 days, the
professional's one reply and report, and what the public list shows. PostgreSQL and
SQLite."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from consult.db import Database, utcnow
from reviews.models import Review
from tests.factories import at, group_class, iso, move_booking, next_weekday
from tests.helpers import bearer

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def _review(client: Any, meeting: Any, **body: Any) -> Any:
    return client.post(
        f"/api/v1/bookings/{meeting.booking_id}/review", json=body, headers=meeting.client_headers
    )


def test_the_client_reviews_a_session_that_took_place_once(client: Any, book_session: Any) -> None:
    meeting = book_session()
    answer = _review(client, meeting, rating=5, text="Clear and kind.\nWould book again.")
    assert answer.status_code == 201, answer.get_json()
    review = answer.get_json()
    assert (review["rating"], review["text"]) == (5, "Clear and kind.\nWould book again.")
    assert review["reply"] is None
    again = _review(client, meeting, rating=4)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_reviewed"
    read = client.get(f"/api/v1/bookings/{meeting.booking_id}/review", headers=meeting.pro_headers)
    assert read.get_json()["rating"] == 5 and read.get_json()["reported"] is False


def test_no_review_before_the_end_of_a_cancelled_session_or_of_someone_elses(
    client: Any, book_session: Any, database: Database, make_user: Any
) -> None:
    upcoming = book_session(ended=None)
    early = _review(client, upcoming, rating=5)
    assert early.status_code == 409
    assert early.get_json()["error"]["code"] == "review_not_open"
    assert "once it has ended" in early.get_json()["error"]["message"]

    past = book_session()
    stranger = bearer(database, make_user(role="client"))
    foreign = client.post(
        f"/api/v1/bookings/{past.booking_id}/review", json={"rating": 5}, headers=stranger
    )
    assert foreign.status_code == 404
    own = client.post(
        f"/api/v1/bookings/{past.booking_id}/review", json={"rating": 5}, headers=past.pro_headers
    )
    assert own.status_code == 404  # the professional is not the booking's client
    assert client.post("/api/v1/bookings/99999/review", json={"rating": 5}).status_code == 401

    cancelled = book_session(ended=None)
    response = client.post(
        f"/api/v1/bookings/{cancelled.booking_id}/cancel", json={}, headers=cancelled.client_headers
    )
    assert response.status_code == 200, response.get_json()
    move_booking(database, cancelled.booking_id, utcnow() - timedelta(hours=3))
    refused = _review(client, cancelled, rating=3)
    assert refused.status_code == 409
    assert "cancelled" in refused.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "5"}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({}, "rating"),
        ({"rating": 4, "text": "x" * 2001}, "text"),
        ({"rating": 4, "text": "bell\x07"}, "text"),
        ({"rating": 4, "text": 12}, "text"),
    ],
)
def test_bad_ratings_and_texts_are_422_beside_the_field(
    client: Any, book_session: Any, body: dict[str, Any], field: str
) -> None:
    meeting = book_session()
    answer = _review(client, meeting, **body)
    assert answer.status_code == 422
    assert field in answer.get_json()["error"]["fields"]


def test_a_review_can_be_changed_for_14_days_then_it_is_final(
    client: Any, book_session: Any, database: Database
) -> None:
    meeting = book_session()
    assert _review(client, meeting, rating=3, text="Fine").status_code == 201
    url = f"/api/v1/bookings/{meeting.booking_id}/review"
    edited = client.patch(url, json={"rating": 4}, headers=meeting.client_headers)
    assert edited.status_code == 200
    assert (edited.get_json()["rating"], edited.get_json()["text"]) == (4, "Fine")
    with database.session() as session:
        session.execute(
            update(Review)
            .where(Review.booking_id == meeting.booking_id)
            .values(created_at=utcnow() - timedelta(days=14, minutes=1))
        )
    late = client.patch(url, json={"text": "Changed my mind"}, headers=meeting.client_headers)
    assert late.status_code == 409
    assert late.get_json()["error"]["code"] == "review_locked"
    assert client.get(url, headers=meeting.client_headers).get_json()["text"] == "Fine"


def test_the_professional_replies_once_and_reports_but_cannot_edit(
    client: Any, book_session: Any, database: Database, make_user: Any
) -> None:
    meeting = book_session()
    review_id = _review(client, meeting, rating=2, text="Late start").get_json()["id"]
    reply_url = f"/api/v1/reviews/{review_id}/reply"
    other_pro = bearer(database, make_user(role="professional"))
    assert client.post(reply_url, json={"text": "Hi"}, headers=other_pro).status_code == 404
    assert (
        client.post(reply_url, json={"text": "Hi"}, headers=meeting.client_headers).status_code
        == 404
    )
    assert client.post(reply_url, json={"text": ""}, headers=meeting.pro_headers).status_code == 422
    replied = client.post(
        reply_url, json={"text": "Sorry, a train was late."}, headers=meeting.pro_headers
    )
    assert replied.status_code == 201
    assert replied.get_json()["reply"]["text"] == "Sorry, a train was late."
    again = client.post(reply_url, json={"text": "Again"}, headers=meeting.pro_headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_replied"
    reported = client.post(
        f"/api/v1/reviews/{review_id}/report",
        json={"reason": "Not true"},
        headers=meeting.pro_headers,
    )
    assert reported.status_code == 202 and reported.get_json()["reported"] is True
    # There is no way to change or delete someone's review: only its author edits it.
    edit = client.patch(
        f"/api/v1/bookings/{meeting.booking_id}/review",
        json={"rating": 5},
        headers=meeting.pro_headers,
    )
    assert edit.status_code == 404
    assert client.delete(f"/api/v1/bookings/{meeting.booking_id}/review").status_code == 405


def test_the_public_list_shows_first_names_newest_first_with_the_summary(
    client: Any, book_session: Any, database: Database
) -> None:
    ratings = [("Ann Smith", 5, "Great"), ("Bob Jones", 4, ""), ("Cleo", 4, "<b>bold</b>")]
    for days, (name, rating, text) in enumerate(ratings):
        meeting = book_session(name=name)
        assert _review(client, meeting, rating=rating, text=text).status_code == 201
        with database.session() as session:
            session.execute(
                update(Review)
                .where(Review.booking_id == meeting.booking_id)
                .values(created_at=utcnow() - timedelta(days=10 - days))
            )
    principal = meeting.professional.principal
    listing = client.get(f"/api/v1/professionals/{principal}/reviews").get_json()
    assert listing["count"] == 3
    assert listing["average"] == 4.3
    assert listing["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 2, "5": 1}
    assert [r["reviewer"] for r in listing["reviews"]] == ["Cleo", "Bob J.", "Ann S."]
    assert listing["reviews"][0]["text"] == "<b>bold</b>"  # JSON carries text as written
    assert listing["reviews"][0]["service"] == meeting.service["title"]
    assert (listing["page"], listing["pages"]) == (1, 1)
    assert client.get(f"/api/v1/professionals/{principal}/reviews?page=x").status_code == 400
    assert client.get("/api/v1/professionals/nobody/reviews").status_code == 404
    created = [r["created_at"] for r in listing["reviews"]]
    assert created == sorted(created, reverse=True)
    assert all(r["created_at"].endswith("+00:00") for r in listing["reviews"])
    assert UTC  # reviews are stored and answered in UTC


def test_each_seat_holder_reviews_the_class_occurrence_they_attended(
    client: Any, database: Database, make_user: Any
) -> None:
    pro = make_user(role="professional", timezone="Europe/Berlin")
    pro_headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services", json=group_class(capacity=3), headers=pro_headers
    ).get_json()
    day = next_weekday(2, weeks_ahead=2)
    created = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(day, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=2"},
        headers=pro_headers,
    )
    assert created.status_code == 201, created.get_json()
    seats = []
    for name in ("Ann Smith", "Bob Jones"):
        headers = bearer(database, make_user(role="client", name=name))
        seat = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(at(day, "18:00"))},
            headers=headers,
        )
        assert seat.status_code == 201, seat.get_json()
        seats.append((seat.get_json()["id"], headers))
    for booking_id, _ in seats:
        move_booking(database, booking_id, utcnow() - timedelta(hours=1))
    for (booking_id, headers), rating in zip(seats, (5, 3), strict=True):
        answer = client.post(
            f"/api/v1/bookings/{booking_id}/review", json={"rating": rating}, headers=headers
        )
        assert answer.status_code == 201
    # One seat holder cannot review another's seat.
    other = client.post(
        f"/api/v1/bookings/{seats[0][0]}/review", json={"rating": 1}, headers=seats[1][1]
    )
    assert other.status_code == 404
    listing = client.get(f"/api/v1/professionals/{pro.principal}/reviews").get_json()
    assert (listing["count"], listing["average"]) == (2, 4.0)
    assert {r["service"] for r in listing["reviews"]} == {service["title"]}
