"""Delivery against a real SMTP server: idempotent recording, one sender per
message (the claim and its lease), retries with backoff on temporary errors,
permanent failures recorded and shown to the professional, and the ``.eml``
files of the embedded default."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from consult.db import utcnow
from notifications import service
from notifications.delivery import SENDER as SENDER_PORT
from notifications.delivery import (
    Outcome,
    claim,
    deliver_message,
)
from notifications.errors import PermanentMailError, TransientMailError, UnknownRecipient
from notifications.mailer import (
    FileMailer,
    OutgoingEmail,
    SMTPMailer,
    build_message,
)
from notifications.models import DeliveryAttempt, Notification, OutboxMessage
from runtime.platform import create_platform
from tests.factories import at, iso
from tests.helpers import csrf_token, free_port, make_settings
from tests.notifications.conftest import SENDER, notifier, send_due

CONTEXT = {"to_name": "Sam", "to_address": "sam@example.org", "subject": "Hello", "error": "-"}


def record_one(platform: Any, user: Any, key: str = "test:1", **changes: Any) -> int:
    """One outbox email through the platform's notifier; returns its id."""
    database = platform.database
    with platform.database.session() as session:
        notifier(platform).notify(
            session,
            recipient_id=user.id,
            kind=changes.pop("kind", "booking_reminder"),
            context=changes.pop("context", None) or reminder_context(),
            idempotency_key=key,
            **changes,
        )
    with database.session() as session:
        row_id = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
        )
    assert row_id is not None
    return int(row_id)


def reminder_context() -> dict[str, Any]:
    start = utcnow() + timedelta(days=3)
    return {
        "role": "client",
        "service_title": "Therapy session",
        "start": start,
        "end": start + timedelta(minutes=50),
        "other_name": "Maya",
        "booking_url": "http://127.0.0.1:8000/bookings/1",
        "join_url": "http://127.0.0.1:8000/bookings/1/session",
        "manage_url": None,
    }


def row(database: Any, row_id: int) -> OutboxMessage:
    with database.session() as session:
        found = session.get(OutboxMessage, row_id)
        assert found is not None
        session.expunge(found)
        return found


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_notify_is_idempotent_per_key_and_rolls_back_with_the_caller(
    platform: Any, app: Any, database: Any, make_user: Any
) -> None:
    sam = make_user(role="client")
    first = record_one(platform, sam, "same-key")
    assert (
        record_one(platform, sam, "same-key", context={**reminder_context(), "other_name": "X"})
        == first
    )
    with database.session() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 1
        assert session.scalar(select(func.count(Notification.id))) == 1
        assert "X" not in session.get(OutboxMessage, first).body_text  # the first call's content
    # Written in the caller's transaction: a rollback leaves nothing behind.
    with pytest.raises(RuntimeError), database.session() as session:
        notifier(platform).notify(
            session,
            recipient_id=sam.id,
            kind="booking_reminder",
            context=reminder_context(),
            idempotency_key="rolled-back",
        )
        raise RuntimeError("the caller's transaction fails")
    with database.session() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 1
        with pytest.raises(UnknownRecipient):
            notifier(platform).notify(
                session, recipient_id=999999, kind="x", context={}, idempotency_key="k"
            )
        with pytest.raises(ValueError):
            notifier(platform).notify(
                session, recipient_id=sam.id, kind="x", context={}, idempotency_key=""
            )


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_two_senders_never_send_the_same_message(
    platform: Any, app: Any, database: Any, settings: Any, make_user: Any, inbox: Any
) -> None:
    sam = make_user(role="client")
    row_id = record_one(platform, sam)
    sender = platform.find(SENDER_PORT)
    barrier = threading.Barrier(4)
    outcomes: list[Outcome] = []

    def race() -> None:
        barrier.wait()
        outcomes.append(deliver_message(sender, row_id).outcome)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(o.value for o in outcomes) == ["sent", "skipped", "skipped", "skipped"]
    assert len(inbox.wait_for(1)) == 1
    assert deliver_message(sender, row_id).outcome is Outcome.SKIPPED
    assert len(inbox.received) == 1


def test_a_dead_senders_lease_expires_and_the_message_goes_out_once(
    platform: Any, app: Any, database: Any, settings: Any, make_user: Any, inbox: Any
) -> None:
    """A worker claimed the row and died before sending: nobody sends it while the
    lease holds; after it, the next sender does, exactly once."""
    sam = make_user(role="client")
    row_id = record_one(platform, sam)
    now = utcnow()
    with database.session() as session:
        assert claim(session, row_id, "dead-worker", now, timedelta(minutes=5)) == 1
    assert send_due(platform, now=now + timedelta(minutes=4))[Outcome.SENT] == 0
    assert send_due(platform, now=now + timedelta(minutes=6))[Outcome.SENT] == 1
    assert len(inbox.wait_for(1)) == 1
    assert row(database, row_id).attempts == 2 and row(database, row_id).status == "sent"


def test_temporary_errors_back_off_then_succeed(
    platform: Any, app: Any, database: Any, settings: Any, make_user: Any, inbox: Any
) -> None:
    sam = make_user(role="client")
    row_id = record_one(platform, sam)
    inbox.reply = "451 4.3.0 Mailbox temporarily unavailable"
    now = utcnow()
    assert send_due(platform, now=now)[Outcome.RETRY] == 1
    first = row(database, row_id)
    policy = platform.find(SENDER_PORT).policy
    assert first.status == "pending" and first.attempts == 1 and "451" in first.last_error
    assert first.next_attempt_at == now + policy.backoff(1, row_id)
    assert timedelta(seconds=60) <= policy.backoff(1, row_id) < timedelta(seconds=67)
    # Not before the backoff; the second failure waits twice as long.
    assert send_due(platform, now=now + timedelta(seconds=30))[Outcome.RETRY] == 0
    assert send_due(platform, now=first.next_attempt_at)[Outcome.RETRY] == 1
    second = row(database, row_id)
    assert second.next_attempt_at - first.next_attempt_at == policy.backoff(2, row_id)
    assert policy.backoff(2, row_id) == 2 * policy.backoff(1, row_id)
    inbox.reply = None
    assert send_due(platform, now=second.next_attempt_at)[Outcome.SENT] == 1
    assert len(inbox.wait_for(1)) == 1
    with database.session() as session:
        outcomes = list(
            session.scalars(
                select(DeliveryAttempt.outcome)
                .where(DeliveryAttempt.message_id == row_id)
                .order_by(DeliveryAttempt.id)
            )
        )
        codes = list(
            session.scalars(select(DeliveryAttempt.smtp_code).order_by(DeliveryAttempt.id))
        )
    assert outcomes == ["retry", "retry", "sent"] and codes == [451, 451, None]
    assert policy.backoff(30, row_id) < policy.retry_max * 1.11  # capped


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_permanent_failures_are_recorded_and_shown_to_the_professional(
    auth: Any,
    platform: Any,
    client: Any,
    database: Any,
    settings: Any,
    world: dict[str, Any],
    inbox: Any,
) -> None:
    sam = world["sam"]
    inbox.reply = "550 5.1.1 No such mailbox"
    booking = client.post(
        "/api/v1/bookings",
        json={"service_id": world["service"]["id"], "start": iso(at(world["day"], "09:00"))},
        headers=world["sam_headers"],
    ).get_json()
    result = send_due(platform)
    assert result[Outcome.FAILED] == 2  # one 5xx and it is over: no retries
    with database.session() as session:
        failures = service.failures_for(session, world["pro"].id)
        assert {f.to_address for f in failures} == {sam.email, world["pro"].email}
        assert all(f.attempts == 1 and "550" in f.last_error for f in failures)
        alerts = service.list_notifications(session, world["pro"].id, state="unread")
    assert sum(1 for note in alerts if note.kind == "delivery_failed") == 2
    assert any(sam.email in note.body for note in alerts if note.kind == "delivery_failed")

    # The professional sees them on the settings page and can send one again.
    auth.login(world["pro"])
    page = client.get("/notifications/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "550 5.1.1 No such mailbox" in html and sam.email in html
    sam_failure = next(f for f in failures if f.to_address == sam.email)
    token = csrf_token(client, "/notifications/settings")
    again = client.post(
        f"/notifications/failures/{sam_failure.id}/retry", data={"csrf_token": token}
    )
    assert again.status_code == 302
    inbox.reply = None
    assert send_due(platform)[Outcome.SENT] == 1
    assert inbox.wait_for(1)[0].recipients == [sam.email]
    # A failure that is not theirs (or no longer failed) is 404, not a 500.
    assert (
        client.post(
            f"/notifications/failures/{sam_failure.id}/retry", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post("/notifications/failures/999999/retry", data={"csrf_token": token}).status_code
        == 404
    )
    assert booking["id"]


def test_too_many_attempts_is_a_permanent_failure(
    platform: Any, app: Any, database: Any, settings: Any, make_user: Any
) -> None:
    sam = make_user(role="client")
    row_id = record_one(platform, sam)
    # Nothing listens on this port: every attempt is "connection refused".
    mailer = SMTPMailer("127.0.0.1", free_port(), security="none", timeout=5)
    configured = platform.find(SENDER_PORT)
    sender = replace(configured, mailer=mailer, policy=replace(configured.policy, max_attempts=3))
    now = utcnow()
    outcomes = []
    for _ in range(3):
        result = deliver_message(sender, row_id, now=now)
        outcomes.append(result.outcome)
        now = result.next_attempt_at or now
    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.FAILED]
    failed = row(database, row_id)
    assert failed.status == "failed" and failed.attempts == 3
    assert "cannot connect" in failed.last_error


def test_smtp_errors_are_classified(inbox: Any) -> None:
    message = build_message(
        OutgoingEmail("k", "sam@example.org", "Sam", "Hi", "text", "<p>html</p>", utcnow()),
        SENDER,
    )
    mailer = SMTPMailer("127.0.0.1", inbox.port, security="none", timeout=10)
    inbox.reply = "452 4.2.2 Mailbox full"
    with pytest.raises(TransientMailError) as temporary:
        mailer.send(message)
    assert temporary.value.code == 452
    inbox.reply = "554 5.7.1 Rejected"
    with pytest.raises(PermanentMailError) as permanent:
        mailer.send(message)
    assert permanent.value.code == 554
    # STARTTLS against a server that does not offer it is a (configuration) retry.
    with pytest.raises(TransientMailError):
        SMTPMailer("127.0.0.1", inbox.port, security="starttls", timeout=10).send(message)
    inbox.reply = None
    mailer.send(message)
    assert inbox.wait_for(1)[0].message["Subject"] == "Hi"


def test_without_smtp_host_messages_are_eml_files(
    tmp_path: Path, database_url: str, make_user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, database_url, notifications={"sweep_seconds": "0"})
    own = create_platform(settings)
    database = own.database
    mailer = own.find(SENDER_PORT).mailer
    assert isinstance(mailer, FileMailer) and mailer.folder == settings.data_dir / "outbox"
    sam = make_user(role="client", name="Sam Client")
    row_id = record_one(own, sam)
    with caplog.at_level(logging.INFO, logger="notifications.mailer"):
        assert send_due(own)[Outcome.SENT] == 1
    files = sorted((settings.data_dir / "outbox").glob("*.eml"))
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["To"] == f"Sam Client <{sam.email}>"
    assert parsed["Subject"].startswith("Reminder: Therapy session")
    assert any(str(files[0]) in record.getMessage() for record in caplog.records)
    # Writing the same message again replaces its file instead of adding one.
    message = build_message(
        OutgoingEmail(
            row(database, row_id).idempotency_key,
            sam.email,
            sam.name,
            "again",
            "t",
            "<p>h</p>",
            row(database, row_id).send_after,
        ),
        SENDER,
    )
    mailer.send(message)
    assert sorted((settings.data_dir / "outbox").glob("*.eml")) == files
    own.shutdown()
