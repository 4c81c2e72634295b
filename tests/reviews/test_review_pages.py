"""Reviews and no-shows on the booking pages: the client reviews from the signed
link of the invitation (no sign-in) or from the booking page, a bad form answers 422
with the error beside its field, the professional replies, reports, marks and undoes
a no-show and sees the client's history; every form needs its CSRF token.
PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest

from booking.links import manage_token
from booking.models import Booking
from consult.db import Database
from reviews.models import NoShow, Review
from tests.factories import at, iso, next_weekday
from tests.helpers import TEST_SECRET_KEY, csrf_token, login

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def _manage_path(database: Database, booking_id: int) -> str:
    with database.session() as session:
        booking = session.get(Booking, booking_id)
        assert booking is not None
        return f"/manage/{manage_token(booking, TEST_SECRET_KEY)}"


def _post(client: Any, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf_token": csrf_token(client, path), **form})


def _review(database: Database, booking_id: int) -> Review | None:
    with database.session() as session:
        review = session.query(Review).filter_by(booking_id=booking_id).one_or_none()
        if review is not None:
            session.expunge(review)
        return review


def test_the_client_reviews_from_the_signed_link_without_signing_in(
    client: Any, book_session: Any, database: Database
) -> None:
    meeting = book_session(name="Ann Smith")
    path = _manage_path(database, meeting.booking_id)
    page = client.get(path).get_data(as_text=True)
    assert "How was it?" in page and 'data-testid="review-form"' in page

    missing = _post(client, path, action="review", text="No stars")
    assert missing.status_code == 422
    body = missing.get_data(as_text=True)
    assert 'id="rating-error"' in body and "from 1 to 5" in body
    assert "No stars" in body  # what was typed stays
    assert _review(database, meeting.booking_id) is None

    done = _post(client, path, action="review", rating="5", text="Patient and clear.")
    assert done.status_code == 302 and done.headers["Location"].endswith("#review")
    review = _review(database, meeting.booking_id)
    assert review is not None and (review.rating, review.text) == (5, "Patient and clear.")
    page = client.get(path).get_data(as_text=True)
    assert "Your review" in page and "Update review" in page

    updated = _post(client, path, action="review", rating="4", text="Patient and clear.")
    assert updated.status_code == 302
    assert _review(database, meeting.booking_id).rating == 4  # type: ignore[union-attr]

    forged = client.post(path, data={"action": "review", "rating": "1"})
    assert forged.status_code == 400
    assert _review(database, meeting.booking_id).rating == 4  # type: ignore[union-attr]


def test_an_upcoming_session_shows_no_review_form(
    client: Any, book_session: Any, database: Database
) -> None:
    meeting = book_session(ended=None)
    path = _manage_path(database, meeting.booking_id)
    assert 'data-testid="review-form"' not in client.get(path).get_data(as_text=True)
    early = _post(client, path, action="review", rating="5")
    assert early.status_code == 302
    assert "once it has ended" in client.get(path).get_data(as_text=True)
    assert _review(database, meeting.booking_id) is None


def test_the_professional_replies_reports_and_marks_a_no_show_on_the_booking_page(
    client: Any, book_session: Any, database: Database, make_user: Any
) -> None:
    meeting = book_session(ended=timedelta(hours=3), name="Bob Jones")
    manage = _manage_path(database, meeting.booking_id)
    assert (
        _post(client, manage, action="review", rating="2", text="Started late").status_code == 302
    )

    login(client, meeting.professional)
    path = f"/bookings/{meeting.booking_id}"
    page = client.get(path).get_data(as_text=True)
    assert "The client's review" in page and "Started late" in page
    assert "1 session · 0 no-shows · 0 cancelled" in page

    empty = _post(client, path, action="reply", text="  ")
    assert empty.status_code == 422 and 'id="text-error"' in empty.get_data(as_text=True)
    assert _post(client, path, action="reply", text="Sorry, a train.").status_code == 302
    assert _post(client, path, action="report", reason="Not what happened").status_code == 302
    review = _review(database, meeting.booking_id)
    assert review is not None and review.reply_text == "Sorry, a train." and review.reported_at

    marked = _post(client, path, action="no_show")
    assert marked.status_code == 302 and marked.headers["Location"].endswith("#no-show")
    with database.session() as session:
        assert session.get(NoShow, meeting.booking_id) is not None
    page = client.get(path).get_data(as_text=True)
    assert "Undo the no-show" in page and "0 sessions · 1 no-show" in page
    assert _post(client, path, action="undo_no_show").status_code == 302
    with database.session() as session:
        assert session.get(NoShow, meeting.booking_id) is None

    # Another professional cannot reach the page at all.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/bookings")})
    stranger = make_user(role="professional")
    login(client, stranger)
    assert client.get(path).status_code == 404


def test_the_client_contests_a_no_show_from_the_signed_link(
    client: Any, book_session: Any, database: Database
) -> None:
    meeting = book_session(ended=timedelta(hours=3), name="Cleo Park")
    answer = client.post(
        f"/api/v1/bookings/{meeting.booking_id}/no-show", headers=meeting.pro_headers
    )
    assert answer.status_code == 201
    path = _manage_path(database, meeting.booking_id)
    page = client.get(path).get_data(as_text=True)
    assert "Marked as missed" in page and 'data-testid="review-form"' not in page
    blank = _post(client, path, action="contest", text="")
    assert blank.status_code == 422 and 'id="text-error"' in blank.get_data(as_text=True)
    token = csrf_token(client, path)
    assert _post(client, path, action="contest", text="I waited in the room.").status_code == 302
    assert "You contested it" in client.get(path).get_data(as_text=True)
    # A client cannot mark or undo no-shows, even by posting the action.
    client.post(path, data={"csrf_token": token, "action": "undo_no_show"})
    with database.session() as session:
        assert session.get(NoShow, meeting.booking_id) is not None


def test_a_services_no_show_policy_is_validated_and_shown_when_booking(
    client: Any, book_session: Any, database: Database
) -> None:
    meeting = book_session(ended=None)
    url = f"/api/v1/services/{meeting.service['id']}"
    too_long = client.patch(url, json={"no_show_policy": "x" * 501}, headers=meeting.pro_headers)
    assert too_long.status_code == 422
    assert "no_show_policy" in too_long.get_json()["error"]["fields"]
    bell = client.patch(url, json={"no_show_policy": "ring\x07"}, headers=meeting.pro_headers)
    assert bell.status_code == 422
    policy = "Missed sessions are charged in full.\nRebook any time."
    saved = client.patch(url, json={"no_show_policy": policy}, headers=meeting.pro_headers)
    assert saved.status_code == 200 and saved.get_json()["no_show_policy"] == policy

    free = iso(at(next_weekday(0, weeks_ahead=10), "09:00").astimezone(UTC)).replace("+", "%2B")
    principal = meeting.professional.principal
    book_page = client.get(
        f"/p/{principal}/book?service={meeting.service['id']}&start={free}&tz=Europe/Berlin"
    ).get_data(as_text=True)
    assert "<strong>If you do not come:</strong> Missed sessions are charged in full." in book_page
    path = _manage_path(database, meeting.booking_id)
    page = client.get(path).get_data(as_text=True)
    assert 'data-testid="no-show-policy">Missed sessions are charged in full.' in page
