"""Suspending an account: the confirm step's count, the professional's future
bookings cancelled (their clients told), gone from search and their page, no sign-in
and no old token; unsuspending restores sign-in and listing, not the bookings.
PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from booking.models import CANCELLED, CONFIRMED, Booking
from consult.db import Database, utcnow
from moderation.models import SUSPEND_USER, UNSUSPEND_USER, OperatorAction
from moderation.services import SUSPENSION_CANCEL_REASON
from notifications.bookings import BOOKING_CHANGE
from notifications.models import OutboxMessage
from tests.factories import iso
from tests.helpers import TEST_PASSWORD, bearer, csrf_token, login

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def listed_ids(client: Any) -> list[int]:
    found = client.get("/api/v1/professionals")
    assert found.status_code == 200, found.get_json()
    return [hit["id"] for hit in found.get_json()["results"]]


def sign_in_over_api(client: Any, user: Any) -> Any:
    return client.post("/api/v1/auth/token", json={"email": user.email, "password": TEST_PASSWORD})


def test_suspending_a_professional_cancels_their_future_bookings_and_unlists_them(
    app: Any, client: Any, database: Database, book_session: Any, make_operator: Any
) -> None:
    past = book_session(ended=timedelta(days=1), name="Paula Past")
    upcoming = [book_session(ended=None, name=name) for name in ("Fay Future", "Finn Future")]
    pro = past.professional
    page = f"/p/{pro.principal}"
    assert client.get(page).status_code == 200
    assert pro.id in listed_ids(client)
    old_token = past.pro_headers
    pro_browser = app.test_client()
    login(pro_browser, pro)
    assert pro_browser.get("/account").status_code == 200

    operator = make_operator()
    headers = bearer(database, operator)
    asked = client.post(
        f"/api/v1/operator/users/{pro.id}/suspend",
        json={"reason": "Fraud reports."},
        headers=headers,
    )
    assert asked.status_code == 409
    assert asked.get_json()["error"]["code"] == "confirmation_required"
    assert asked.get_json()["future_bookings"] == 2

    # The page's confirm step says the same and changes nothing until confirmed.
    operator_browser = app.test_client()
    login(operator_browser, operator)
    found = operator_browser.get(f"/operator/accounts?email={pro.email}").get_data(as_text=True)
    assert f'id="account-{pro.id}"' in found and "2 future bookings" in found
    token = csrf_token(operator_browser, f"/operator/accounts?email={pro.email}")
    confirm = operator_browser.post(
        f"/operator/accounts/{pro.id}/suspend",
        data={"csrf_token": token, "reason": "Fraud reports."},
    )
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "This cancels <strong>2</strong> future bookings" in text
    assert 'name="confirm" type="hidden" value="1"' in text
    assert client.get(page).status_code == 200

    done = operator_browser.post(
        f"/operator/accounts/{pro.id}/suspend",
        data={"csrf_token": token, "reason": "Fraud reports.", "confirm": "1"},
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "2 future bookings cancelled" in done.get_data(as_text=True)

    with database.session() as session:
        bookings = {b.id: b for b in session.scalars(select(Booking))}
        for meeting in upcoming:
            booking = bookings[meeting.booking_id]
            assert (booking.status, booking.cancelled_by) == (CANCELLED, "system")
            assert booking.cancel_reason == SUSPENSION_CANCEL_REASON
            # The client's outbox row for the cancellation (a sender expands it into
            # the email with the iTIP CANCEL), in the suspension's transaction.
            (told,) = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.booking_id == meeting.booking_id,
                    OutboxMessage.kind == BOOKING_CHANGE,
                    OutboxMessage.subject.endswith("cancelled"),
                )
            ).all()
            assert told.recipient_id == meeting.client_user.id
            assert told.payload is not None
            assert (told.payload["change"], told.payload["actor"]) == ("cancelled", "system")
        assert bookings[past.booking_id].status == CONFIRMED  # the past stays as it was
        (row,) = session.scalars(select(OperatorAction)).all()
        assert (row.operator_id, row.action, row.target_type, row.target_id, row.reason) == (
            operator.id,
            SUSPEND_USER,
            "user",
            pro.id,
            "Fraud reports.",
        )

    assert client.get(page).status_code == 404
    assert pro.id not in listed_ids(client)
    assert client.get(f"/api/v1/professionals/{pro.principal}/reviews").status_code == 404
    service_id = past.service["id"]
    assert client.get(f"/api/v1/services/{service_id}/slots?start=2030-01-07").status_code == 404
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service_id, "start": iso(utcnow() + timedelta(days=9))},
        headers=upcoming[0].client_headers,
    )
    assert booked.status_code == 404

    refused = sign_in_over_api(client, pro)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "account_suspended"
    assert "suspended" in refused.get_json()["error"]["message"]
    page_login = login(app.test_client(), pro, expect_ok=False)
    assert page_login.status_code == 403
    assert "This account is suspended" in page_login.get_data(as_text=True)
    assert client.get("/api/v1/me", headers=old_token).status_code == 401
    assert pro_browser.get("/account").status_code == 302  # its session ended

    again = client.post(
        f"/api/v1/operator/users/{pro.id}/suspend",
        json={"reason": "Twice.", "confirm": True},
        headers=headers,
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "action_not_allowed"

    lifted = client.post(
        f"/api/v1/operator/users/{pro.id}/unsuspend",
        json={"reason": "Cleared after review."},
        headers=headers,
    )
    assert lifted.status_code == 200, lifted.get_json()
    assert lifted.get_json()["suspended"] is False
    assert sign_in_over_api(client, pro).status_code == 200
    assert client.get(page).status_code == 200
    assert pro.id in listed_ids(client)
    with database.session() as session:
        for meeting in upcoming:
            booking = session.get(Booking, meeting.booking_id)
            assert booking is not None and booking.status == CANCELLED
        actions = session.scalars(select(OperatorAction.action).order_by(OperatorAction.id)).all()
        assert actions == [SUSPEND_USER, UNSUSPEND_USER]
    log = client.get("/api/v1/operator/actions", headers=headers).get_json()["actions"]
    assert [item["action"] for item in log] == [UNSUSPEND_USER, SUSPEND_USER]
    assert log[1]["reason"] == "Fraud reports." and log[1]["operator"]["id"] == operator.id


def test_suspending_over_the_api_with_confirm_reports_what_it_cancelled(
    client: Any, database: Database, book_session: Any, make_operator: Any, make_user: Any
) -> None:
    meeting = book_session(ended=None)
    headers = bearer(database, make_operator())
    suspended = client.post(
        f"/api/v1/operator/users/{meeting.professional.id}/suspend",
        json={"reason": "Spam.", "confirm": True},
        headers=headers,
    )
    assert suspended.status_code == 200, suspended.get_json()
    body = suspended.get_json()
    assert body["suspended"] is True and body["suspension_reason"] == "Spam."
    assert body["cancelled_bookings"] == [meeting.booking_id]
    # A client can be suspended too: nothing to cancel, no sign-in.
    customer = make_user(role="client")
    asked = client.post(
        f"/api/v1/operator/users/{customer.id}/suspend", json={"reason": "Abuse."}, headers=headers
    )
    assert asked.get_json()["future_bookings"] == 0
    client.post(
        f"/api/v1/operator/users/{customer.id}/suspend",
        json={"reason": "Abuse.", "confirm": True},
        headers=headers,
    )
    assert sign_in_over_api(client, customer).status_code == 403
    # Unsuspending one who is not suspended is refused, and logs nothing.
    other = make_user(role="client")
    refused = client.post(f"/api/v1/operator/users/{other.id}/unsuspend", headers=headers)
    assert refused.status_code == 409
    with database.session() as session:
        assert len(session.scalars(select(OperatorAction)).all()) == 2
