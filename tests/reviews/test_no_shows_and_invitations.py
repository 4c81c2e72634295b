"""No-shows (marked within 7 days of the end, undone, contested, told to the other
side) and the invitation to review (once, on a controllable clock, never for a
cancelled, missed or reviewed session). PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consult.db import Database, utcnow
from consult.platform import Platform
from notifications.models import OutboxMessage
from notifications.service import NOTIFIER
from reviews.models import NoShow
from reviews.services import client_history, send_invitations
from tests.factories import move_booking
from tests.helpers import bearer

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


def _emails(database: Database, booking_id: int, kind: str) -> list[OutboxMessage]:
    with database.session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.booking_id == booking_id, OutboxMessage.kind == kind
            )
        ).all()
        session.expunge_all()
        return list(rows)


def test_the_professional_marks_a_no_show_the_client_is_told_and_may_contest(
    client: Any, book_session: Any, database: Database
) -> None:
    meeting = book_session(ended=timedelta(hours=5), name="Maria Lopez")
    url = f"/api/v1/bookings/{meeting.booking_id}/no-show"
    marked = client.post(url, headers=meeting.pro_headers)
    assert marked.status_code == 201, marked.get_json()
    assert marked.get_json()["contested_at"] is None
    assert client.post(url, headers=meeting.pro_headers).status_code == 201  # idempotent
    told = _emails(database, meeting.booking_id, "no_show_marked")
    assert [m.recipient_id for m in told] == [meeting.client_user.id]
    assert "Marked as missed" in told[0].subject

    # A no-show excludes the booking from reviews.
    review = client.post(
        f"/api/v1/bookings/{meeting.booking_id}/review",
        json={"rating": 1},
        headers=meeting.client_headers,
    )
    assert review.status_code == 409 and "no-show" in review.get_json()["error"]["message"]

    contest_url = url + "/contest"
    assert (
        client.post(contest_url, json={"text": ""}, headers=meeting.client_headers).status_code
        == 422
    )
    assert (
        client.post(
            contest_url, json={"text": "I was there"}, headers=meeting.pro_headers
        ).status_code
        == 404
    )
    contested = client.post(
        contest_url,
        json={"text": "I was there, the link did not work."},
        headers=meeting.client_headers,
    )
    assert contested.status_code == 201
    assert contested.get_json()["contest_text"] == "I was there, the link did not work."
    again = client.post(contest_url, json={"text": "Again"}, headers=meeting.client_headers)
    assert again.status_code == 409
    to_pro = _emails(database, meeting.booking_id, "no_show_contested")
    assert [m.recipient_id for m in to_pro] == [meeting.professional.id]
    assert "the link did not work" in (to_pro[0].body_text or "")

    # Undone, the session can be reviewed again.
    assert client.delete(url, headers=meeting.pro_headers).status_code == 204
    assert client.delete(url, headers=meeting.pro_headers).status_code == 409
    again_review = client.post(
        f"/api/v1/bookings/{meeting.booking_id}/review",
        json={"rating": 4},
        headers=meeting.client_headers,
    )
    assert again_review.status_code == 201


def test_no_shows_only_after_the_end_within_7_days_and_only_by_the_professional(
    client: Any, book_session: Any, database: Database, make_user: Any
) -> None:
    upcoming = book_session(ended=None)
    early = client.post(
        f"/api/v1/bookings/{upcoming.booking_id}/no-show", headers=upcoming.pro_headers
    )
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "no_show_not_allowed"

    old = book_session(ended=timedelta(days=7, minutes=5))
    late = client.post(f"/api/v1/bookings/{old.booking_id}/no-show", headers=old.pro_headers)
    assert late.status_code == 409 and "within 7 days" in late.get_json()["error"]["message"]

    recent = book_session()
    url = f"/api/v1/bookings/{recent.booking_id}/no-show"
    other_pro = bearer(database, make_user(role="professional"))
    assert client.post(url, headers=other_pro).status_code == 404
    assert client.post(url, headers=recent.client_headers).status_code == 404
    assert (
        client.post("/api/v1/bookings/99999999/no-show", headers=recent.pro_headers).status_code
        == 404
    )
    with database.session() as session:
        assert session.get(NoShow, recent.booking_id) is None


def test_the_client_history_counts_sessions_and_no_shows(
    client: Any, book_session: Any, database: Database
) -> None:
    first = book_session(name="Maria Lopez")
    client.post(f"/api/v1/bookings/{first.booking_id}/no-show", headers=first.pro_headers)
    with database.session() as session:
        history = client_history(session, first.professional.id, first.client_user.id, utcnow())
    assert (history.sessions, history.no_shows, history.cancelled) == (0, 1, 0)


def test_the_invitation_to_review_goes_out_once_an_hour_after_the_end(
    book_session: Any, database: Database, platform: Platform, client: Any
) -> None:
    notifier = platform.find(NOTIFIER)
    invited = book_session(ended=timedelta(minutes=30), name="Ann Smith")
    reviewed = book_session(ended=timedelta(hours=3), name="Bob Jones")
    assert (
        client.post(
            f"/api/v1/bookings/{reviewed.booking_id}/review",
            json={"rating": 5},
            headers=reviewed.client_headers,
        ).status_code
        == 201
    )
    missed = book_session(ended=timedelta(hours=3), name="Cleo Park")
    client.post(f"/api/v1/bookings/{missed.booking_id}/no-show", headers=missed.pro_headers)
    stale = book_session(ended=timedelta(days=8), name="Dan Wu")

    now = utcnow()
    with database.session() as session:
        assert send_invitations(session, notifier, now) == 0  # 30 minutes after: not yet
    with database.session() as session:
        assert send_invitations(session, notifier, now + timedelta(minutes=31)) == 1
    with database.session() as session:
        assert send_invitations(session, notifier, now + timedelta(hours=2)) == 0  # once
    sent = _emails(database, invited.booking_id, "review_invitation")
    assert [m.recipient_id for m in sent] == [invited.client_user.id]
    assert sent[0].subject.startswith("How was")
    assert "/manage/" in (sent[0].body_text or "") and "#review" in (sent[0].body_text or "")
    for skipped in (reviewed, missed, stale):
        assert _emails(database, skipped.booking_id, "review_invitation") == []
    # The maintenance hook runs the same scan.
    move_booking(database, stale.booking_id, utcnow() - timedelta(hours=2))
    counts = platform.hooks.maintenance(now=utcnow())
    assert {"review invitations sent": 1} in counts
