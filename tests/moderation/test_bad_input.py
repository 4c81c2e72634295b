"""Bad input to the operators' API and pages is a 4xx that says what is wrong, never
a 500, and changes nothing. PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from consult.db import Database
from moderation.models import MAX_REASON, OperatorAction
from tests.helpers import bearer, csrf_token, login

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def review_id(client: Any, book_session: Any) -> int:
    meeting = book_session()
    written = client.post(
        f"/api/v1/bookings/{meeting.booking_id}/review",
        json={"rating": 2},
        headers=meeting.client_headers,
    )
    return int(written.get_json()["id"])


def test_bad_api_input_is_a_4xx_with_a_reason(
    client: Any, database: Database, make_operator: Any, make_user: Any, review_id: int
) -> None:
    headers = bearer(database, make_operator())
    target = make_user(role="professional")
    cases: list[tuple[str, Any, int, str]] = [
        (f"reviews/{review_id}/hide", {}, 422, "Give a reason."),
        (f"reviews/{review_id}/hide", {"reason": "   "}, 422, "This field is required."),
        (f"reviews/{review_id}/hide", {"reason": "x" * (MAX_REASON + 1)}, 422, "at most 1000"),
        (f"reviews/{review_id}/hide", {"reason": 42}, 422, "Must be a string."),
        (f"reviews/{review_id}/hide", {"reason": "a\x00b"}, 400, "NUL byte"),
        (f"reviews/{review_id}/hide", {"reason": "a\x07b"}, 422, "control characters"),
        (f"reviews/{review_id}/hide", [1], 400, "JSON object"),
        ("reviews/424242/hide", {"reason": "Spam."}, 404, "No such review."),
        ("reviews/99999999999/hide", {"reason": "Spam."}, 404, ""),
        ("reviews/424242/restore", None, 404, "No such review."),
        ("no-shows/424242/handle", None, 404, "No such contested no-show."),
        (f"users/{target.id}/suspend", {}, 422, "Give a reason."),
        (f"users/{target.id}/suspend", {"reason": "x", "confirm": "yes"}, 422, "true or false"),
        (f"users/{target.id}/suspend", {"reason": "\x00", "confirm": True}, 400, "NUL byte"),
        ("users/424242/suspend", {"reason": "Spam.", "confirm": True}, 404, "No such account."),
        ("users/424242/unsuspend", None, 404, "No such account."),
        (f"users/{target.id}/unsuspend", {"reason": "y" * 1001}, 422, "at most 1000"),
    ]
    for path, body, status, message in cases:
        answer = client.post(f"/api/v1/operator/{path}", json=body, headers=headers)
        assert answer.status_code == status, (path, body, answer.get_json())
        error = answer.get_json()["error"]
        assert message in (error["message"] + " ".join(error.get("fields", {}).values()))
    not_json = client.post(
        f"/api/v1/operator/reviews/{review_id}/hide", data="reason=x", headers=headers
    )
    assert not_json.status_code == 400
    for query, status in (("page=0", 400), ("page=abc", 400), ("page=%00", 400), ("page=9", 200)):
        assert (
            client.get(f"/api/v1/operator/actions?{query}", headers=headers).status_code == status
        )
    assert client.get("/api/v1/operator/users?email=%00", headers=headers).status_code == 400
    assert client.get("/api/v1/operator/users?email=%25_", headers=headers).get_json() == {
        "users": []
    }
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(OperatorAction)) == 0


def test_bad_page_input_is_a_4xx_with_a_reason(
    client: Any, database: Database, make_operator: Any, make_user: Any, review_id: int
) -> None:
    login(client, make_operator())
    target = make_user(role="professional")
    token = csrf_token(client, "/operator/")
    too_long = client.post(
        f"/operator/reviews/{review_id}/hide",
        data={"csrf_token": token, "reason": "x" * (MAX_REASON + 1)},
    )
    assert too_long.status_code == 422
    assert "Use at most 1000 characters" in too_long.get_data(as_text=True)
    nul = client.post(
        f"/operator/accounts/{target.id}/suspend", data={"csrf_token": token, "reason": "a\x00"}
    )
    assert nul.status_code == 400
    missing = client.post(f"/operator/accounts/{target.id}/suspend", data={"csrf_token": token})
    assert missing.status_code == 422 and "Give a reason." in missing.get_data(as_text=True)
    not_suspended = client.post(
        f"/operator/accounts/{target.id}/unsuspend", data={"csrf_token": token}
    )
    assert not_suspended.status_code == 409
    assert "not suspended" in not_suspended.get_data(as_text=True)
    for path in ("/operator/accounts/424242/suspend", "/operator/reviews/424242/restore"):
        assert client.post(path, data={"csrf_token": token, "reason": "x"}).status_code == 404
    assert client.get("/operator/log?page=99999999999").status_code == 200
    assert client.get("/operator/accounts?email=" + "a" * 5000).status_code == 200
    assert client.get("/operator/nowhere").status_code == 404
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(OperatorAction)) == 0
