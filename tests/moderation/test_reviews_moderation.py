"""Hiding and restoring reported reviews, and contested no-shows in the queue: the
reason both sides see, the public list, and one log row per action. PostgreSQL and
SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from consult.db import Database, utcnow
from moderation import services as moderation
from moderation.errors import ActionNotAllowed, ModerationNotFound
from moderation.models import HIDE_REVIEW, RESTORE_REVIEW, OperatorAction
from reviews.models import Review
from tests.helpers import bearer, csrf_token, login

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def reported_review(client: Any, book_session: Any, text: str = "Awful, a fraud.") -> Any:
    meeting = book_session()
    written = client.post(
        f"/api/v1/bookings/{meeting.booking_id}/review",
        json={"rating": 1, "text": text},
        headers=meeting.client_headers,
    )
    assert written.status_code == 201
    meeting.review_id = written.get_json()["id"]
    reported = client.post(
        f"/api/v1/reviews/{meeting.review_id}/report",
        json={"reason": "Insults, and not what happened."},
        headers=meeting.pro_headers,
    )
    assert reported.status_code == 202
    return meeting


def log_rows(database: Database) -> list[OperatorAction]:
    with database.session() as session:
        rows = list(session.scalars(select(OperatorAction).order_by(OperatorAction.id)))
        session.expunge_all()
    return rows


def public_review_ids(client: Any, principal: str) -> list[int]:
    listed = client.get(f"/api/v1/professionals/{principal}/reviews")
    assert listed.status_code == 200
    return [review["id"] for review in listed.get_json()["reviews"]]


def test_hiding_a_reported_review_removes_it_publicly_and_both_sides_see_why(
    client: Any, database: Database, book_session: Any, make_operator: Any
) -> None:
    meeting = reported_review(client, book_session)
    principal = meeting.professional.principal
    assert public_review_ids(client, principal) == [meeting.review_id]
    operator = make_operator()
    headers = bearer(database, operator)
    queue = client.get("/api/v1/operator/reports", headers=headers).get_json()
    assert [item["id"] for item in queue["reviews"]] == [meeting.review_id]
    waiting = queue["reviews"][0]
    assert waiting["report_reason"] == "Insults, and not what happened."
    assert waiting["professional"]["id"] == meeting.professional.id

    hidden = client.post(
        f"/api/v1/operator/reviews/{meeting.review_id}/hide",
        json={"reason": "Personal insults break the review rules."},
        headers=headers,
    )
    assert hidden.status_code == 200, hidden.get_json()
    assert hidden.get_json()["hidden"] is True

    assert public_review_ids(client, principal) == []
    for side in (meeting.client_headers, meeting.pro_headers):
        seen = client.get(f"/api/v1/bookings/{meeting.booking_id}/review", headers=side).get_json()
        assert seen["hidden"] is True
        assert seen["hidden_reason"] == "Personal insults break the review rules."
    assert client.get("/api/v1/operator/reports", headers=headers).get_json()["reviews"] == []

    (row,) = log_rows(database)
    assert (row.operator_id, row.action, row.target_type, row.target_id) == (
        operator.id,
        HIDE_REVIEW,
        "review",
        meeting.review_id,
    )
    assert row.reason == "Personal insults break the review rules."
    again = client.post(
        f"/api/v1/operator/reviews/{meeting.review_id}/hide", json={"reason": "x"}, headers=headers
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "action_not_allowed"


def test_restoring_clears_the_report_and_keeps_the_review_shown(
    client: Any, database: Database, book_session: Any, make_operator: Any
) -> None:
    meeting = reported_review(client, book_session, text="Honest but harsh.")
    operator = make_operator()
    headers = bearer(database, operator)
    restored = client.post(
        f"/api/v1/operator/reviews/{meeting.review_id}/restore",
        json={"reason": "Harsh is allowed."},
        headers=headers,
    )
    assert restored.status_code == 200, restored.get_json()
    body = restored.get_json()
    assert (body["hidden"], body["reported_at"], body["report_reason"]) == (False, None, "")
    assert public_review_ids(client, meeting.professional.principal) == [meeting.review_id]
    seen = client.get(
        f"/api/v1/bookings/{meeting.booking_id}/review", headers=meeting.pro_headers
    ).get_json()
    assert seen["reported"] is False and "hidden_reason" not in seen
    assert client.get("/api/v1/operator/reports", headers=headers).get_json()["reviews"] == []
    (row,) = log_rows(database)
    assert (row.action, row.target_id, row.reason) == (
        RESTORE_REVIEW,
        meeting.review_id,
        "Harsh is allowed.",
    )
    nothing = client.post(f"/api/v1/operator/reviews/{meeting.review_id}/restore", headers=headers)
    assert nothing.status_code == 409


def test_the_queue_page_hides_and_restores_with_a_reason_and_lists_the_log(
    client: Any, database: Database, book_session: Any, make_operator: Any
) -> None:
    first = reported_review(client, book_session)
    second = reported_review(client, book_session, text="Meh.")
    operator = make_operator()
    login(client, operator)
    page = client.get("/operator/").get_data(as_text=True)
    assert f'id="review-{first.review_id}"' in page and f'id="review-{second.review_id}"' in page
    assert "Insults, and not what happened." in page

    token = csrf_token(client, "/operator/")
    missing = client.post(f"/operator/reviews/{first.review_id}/hide", data={"csrf_token": token})
    assert missing.status_code == 422
    assert "Reason: Give a reason." in missing.get_data(as_text=True)
    hidden = client.post(
        f"/operator/reviews/{first.review_id}/hide",
        data={"csrf_token": token, "reason": "Insults."},
        follow_redirects=True,
    )
    assert hidden.status_code == 200
    assert "The review is hidden" in hidden.get_data(as_text=True)
    restored = client.post(
        f"/operator/reviews/{second.review_id}/restore",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "No reported review is waiting." in restored.get_data(as_text=True)
    with database.session() as session:
        review = session.get(Review, first.review_id)
        assert review is not None and review.hidden_reason == "Insults."

    log = client.get("/operator/log").get_data(as_text=True)
    assert log.index("restore review") < log.index("hide review")  # newest first
    assert operator.email in log and "Insults." in log
    actions = client.get("/api/v1/operator/actions", headers=bearer(database, operator)).get_json()
    assert [item["action"] for item in actions["actions"]] == [RESTORE_REVIEW, HIDE_REVIEW]


def test_a_contested_no_show_waits_until_an_operator_marks_it_handled(
    client: Any, database: Database, book_session: Any, make_operator: Any
) -> None:
    meeting = book_session()
    client.post(f"/api/v1/bookings/{meeting.booking_id}/no-show", headers=meeting.pro_headers)
    client.post(
        f"/api/v1/bookings/{meeting.booking_id}/no-show/contest",
        json={"text": "I waited in the room for 20 minutes."},
        headers=meeting.client_headers,
    )
    operator = make_operator()
    login(client, operator)
    page = client.get("/operator/").get_data(as_text=True)
    assert "I waited in the room for 20 minutes." in page
    handled = client.post(
        f"/operator/no-shows/{meeting.booking_id}/handle",
        data={"csrf_token": csrf_token(client, "/operator/")},
        follow_redirects=True,
    )
    assert "No contested no-show is waiting." in handled.get_data(as_text=True)
    (row,) = log_rows(database)
    assert (row.action, row.target_type, row.target_id) == (
        "handle_no_show",
        "no_show",
        meeting.booking_id,
    )


def test_the_services_refuse_non_operators_and_unknown_targets(
    database: Database, make_user: Any, make_operator: Any
) -> None:
    someone, operator = make_user(role="client"), make_operator()
    with database.session() as session:
        with pytest.raises(ModerationNotFound):
            moderation.queue(session, session.get(type(someone), someone.id))  # type: ignore[arg-type]
        acting = session.get(type(operator), operator.id)
        with pytest.raises(ModerationNotFound):
            moderation.hide_review(session, acting, 424242, "Spam.", utcnow())
        with pytest.raises(ModerationNotFound):
            moderation.handle_no_show(session, acting, 424242, None, utcnow())
        with pytest.raises(ActionNotAllowed):
            moderation.suspend(session, acting, operator.id, "Me.", utcnow(), confirm=True)
    assert log_rows(database) == []
