"""Emails about new messages: someone who is not in the room gets one email per
booking and ten-minute window through the notification outbox (never the message
text), delivered after the delay; someone in the room gets none."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

from sqlalchemy import select

from consult.db import Database, utcnow
from notifications.delivery import SENDER, deliver_due
from notifications.models import OutboxMessage
from video.services import VIDEO
from video.signalling import presence_key


def outbox(database: Database, recipient_id: int) -> list[OutboxMessage]:
    with database.session(readonly=True) as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.recipient_id == recipient_id, OutboxMessage.kind == "new_messages"
            )
        ).all()
        session.expunge_all()
        return list(rows)


def test_absent_recipients_get_one_batched_email_and_present_ones_none(
    platform: Any, app: Any, client: Any, database: Database, settings: Any, make_room: Any
) -> None:
    room = make_room(starts_in=timedelta(days=1))
    before = utcnow()
    for text in ["My knee hurts again", "Since Monday", "Is that normal?"]:
        response = client.post(
            f"/api/v1/bookings/{room.booking_id}/messages",
            json={"body": text},
            headers=room.client_headers,
        )
        assert response.status_code == 201

    rows = outbox(database, room.pro.id)
    assert len(rows) == 1, "three messages in one window make one email"
    email = rows[0]
    assert email.subject == "New message from Sam Client"
    assert f"/bookings/{room.booking_id}/messages" in email.body_text
    assert "knee" not in email.body_text + email.body_html + email.subject
    assert before + timedelta(minutes=10) <= email.next_attempt_at
    assert email.next_attempt_at <= utcnow() + timedelta(minutes=10)

    # Nothing goes out before the delay; after it, the outbox sends it.
    sender = platform.find(SENDER)
    assert sum(deliver_due(sender, now=utcnow()).values()) == 0
    deliver_due(sender, now=utcnow() + timedelta(minutes=11))
    sent = sorted((settings.data_dir / "outbox").glob("*.eml"))
    assert len(sent) == 1
    message = message_from_bytes(sent[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "New message from Sam Client"
    assert message["To"].addresses[0].addr_spec == room.pro.email

    # The client is in the room (their WebSocket keeps this mark fresh): no email.
    platform.find(VIDEO).bus.mark_present(
        presence_key(room.booking_id, room.client.id), "conn-1", 60
    )
    response = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages",
        json={"body": "Let's look at it together."},
        headers=room.pro_headers,
    )
    assert response.status_code == 201
    assert outbox(database, room.client.id) == []
