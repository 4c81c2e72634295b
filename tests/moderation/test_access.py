"""Only operators reach the operators' area: every page and API URL is a 404 to
anyone else (401 on the API without a token), an operator gets 200, and every
operator form needs its CSRF token. PostgreSQL and SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from consult.db import Database
from tests.helpers import bearer, csrf_token, login

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@dataclass
class Targets:
    review_id: int
    no_show_booking_id: int
    user_id: int
    user_email: str


def make_targets(client: Any, book_session: Any, make_user: Any) -> Targets:
    """A reported review, a contested no-show and an account to suspend."""
    reviewed = book_session(name="Rita Review")
    written = client.post(
        f"/api/v1/bookings/{reviewed.booking_id}/review",
        json={"rating": 1, "text": "Rude."},
        headers=reviewed.client_headers,
    )
    review_id = written.get_json()["id"]
    reported = client.post(
        f"/api/v1/reviews/{review_id}/report",
        json={"reason": "Not true."},
        headers=reviewed.pro_headers,
    )
    assert reported.status_code == 202
    missed = book_session(name="Nina Noshow")
    marked = client.post(
        f"/api/v1/bookings/{missed.booking_id}/no-show", headers=missed.pro_headers
    )
    assert marked.status_code == 201
    contested = client.post(
        f"/api/v1/bookings/{missed.booking_id}/no-show/contest",
        json={"text": "I was there."},
        headers=missed.client_headers,
    )
    assert contested.status_code == 201
    target = make_user(role="professional")
    return Targets(review_id, missed.booking_id, target.id, target.email)


@pytest.fixture
def targets(client: Any, book_session: Any, make_user: Any) -> Targets:
    return make_targets(client, book_session, make_user)


def pages(t: Targets) -> list[tuple[str, str, dict[str, str]]]:
    """Every operator page: (method, path, form fields besides the CSRF token)."""
    return [
        ("GET", "/operator/", {}),
        ("GET", f"/operator/accounts?email={t.user_email}", {}),
        ("GET", "/operator/log", {}),
        ("POST", f"/operator/reviews/{t.review_id}/hide", {"reason": "Abusive."}),
        ("POST", f"/operator/reviews/{t.review_id}/restore", {}),
        ("POST", f"/operator/no-shows/{t.no_show_booking_id}/handle", {}),
        ("POST", f"/operator/accounts/{t.user_id}/suspend", {"reason": "Fraud.", "confirm": "1"}),
        ("POST", f"/operator/accounts/{t.user_id}/unsuspend", {}),
    ]


def api_urls(t: Targets) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every operator API URL: (method, path, JSON body)."""
    return [
        ("GET", "/api/v1/operator/reports", None),
        ("GET", f"/api/v1/operator/users?email={t.user_email}", None),
        ("GET", "/api/v1/operator/actions", None),
        ("POST", f"/api/v1/operator/reviews/{t.review_id}/hide", {"reason": "Abusive."}),
        ("POST", f"/api/v1/operator/reviews/{t.review_id}/restore", {}),
        ("POST", f"/api/v1/operator/no-shows/{t.no_show_booking_id}/handle", {}),
        ("POST", f"/api/v1/operator/users/{t.user_id}/suspend", {"reason": "x", "confirm": True}),
        ("POST", f"/api/v1/operator/users/{t.user_id}/unsuspend", {}),
    ]


def test_every_operator_page_and_api_url_is_a_404_to_everyone_else(
    app: Any, database: Database, make_user: Any, targets: Targets
) -> None:
    visitors: dict[str, Any] = {
        "anonymous": None,
        "client": make_user(role="client"),
        "professional": make_user(role="professional"),
    }
    for who, user in visitors.items():
        browser = app.test_client()
        if user is not None:
            login(browser, user)
        token = csrf_token(browser, "/login")
        for method, path, form in pages(targets):
            # With a valid CSRF token, and without one: a 404 either way.
            for data in ({**form, "csrf_token": token}, form):
                answer = browser.open(path, method=method, data=data if method == "POST" else None)
                assert answer.status_code == 404, (who, method, path, answer.status_code)
        headers = bearer(database, user) if user is not None else {}
        for method, path, body in api_urls(targets):
            answer = browser.open(path, method=method, json=body, headers=headers)
            expected = 401 if user is None else 404
            assert answer.status_code == expected, (who, method, path, answer.status_code)
            assert "error" in answer.get_json()


def test_an_operator_gets_200_from_every_page_and_api_url(
    app: Any,
    client: Any,
    database: Database,
    make_operator: Any,
    make_user: Any,
    book_session: Any,
    targets: Targets,
) -> None:
    operator = make_operator()
    browser = app.test_client()
    login(browser, operator)
    for method, path, form in pages(targets):
        data = (
            {**form, "csrf_token": csrf_token(browser, "/operator/")} if method == "POST" else None
        )
        answer = browser.open(path, method=method, data=data, follow_redirects=True)
        assert answer.status_code == 200, (method, path, answer.get_data(as_text=True)[:500])
    headers = bearer(database, operator)
    # Fresh targets: the pages handled the first ones already.
    for method, path, body in api_urls(make_targets(client, book_session, make_user)):
        answer = browser.open(path, method=method, json=body, headers=headers)
        assert answer.status_code == 200, (method, path, answer.get_json())
    navigation = browser.get("/").get_data(as_text=True)
    assert 'href="/operator/"' in navigation


def test_no_operator_link_for_anyone_else(client: Any, make_user: Any) -> None:
    login(client, make_user(role="professional"))
    assert "/operator/" not in client.get("/").get_data(as_text=True)


def test_an_operator_form_without_its_csrf_token_is_refused(
    client: Any, make_operator: Any, targets: Targets, database: Database
) -> None:
    login(client, make_operator())
    refused = client.post(f"/operator/reviews/{targets.review_id}/hide", data={"reason": "Spam."})
    assert refused.status_code == 400
    assert "This form has expired" in refused.get_data(as_text=True)
    wrong = client.post(
        f"/operator/accounts/{targets.user_id}/suspend",
        data={"reason": "Fraud.", "confirm": "1", "csrf_token": "not-the-token"},
    )
    assert wrong.status_code == 400
    # Nothing happened: the review is still waiting and nothing is logged.
    queue = client.get("/api/v1/operator/reports")  # no token: the API says 401
    assert queue.status_code == 401
    page = client.get("/operator/").get_data(as_text=True)
    assert f'id="review-{targets.review_id}"' in page
    assert "No operator action yet." in client.get("/operator/log").get_data(as_text=True)
