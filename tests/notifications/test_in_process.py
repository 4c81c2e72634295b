"""Without Redis, the app itself sends: a thread wakes on every commit that wrote
email and at each message's due time; at start it sends whatever an earlier run
left behind. Senders only ever see committed rows."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from accounts.services import Registration, register
from consult.db import utcnow
from notifications.dispatch import DISPATCHER, InProcessScheduler
from notifications.models import OutboxMessage
from runtime import create_app, create_platform, shutdown_app
from tests.factories import at, iso
from tests.helpers import TEST_PASSWORD
from tests.notifications.conftest import SENDER, notifier


@pytest.fixture
def settings_overrides(inbox: Any) -> dict[str, dict[str, Any]]:
    return {
        "smtp": {"host": "127.0.0.1", "port": str(inbox.port), "security": "none", "from": SENDER},
        "notifications": {"sweep_seconds": "1"},
    }


def context() -> dict[str, Any]:
    start = utcnow() + timedelta(days=2)
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


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_the_app_sends_booking_emails_and_timed_ones_by_itself(
    platform: Any, client: Any, database: Any, world: dict[str, Any], inbox: Any
) -> None:
    response = client.post(
        "/api/v1/bookings",
        json={"service_id": world["service"]["id"], "start": iso(at(world["day"], "09:00"))},
        headers=world["sam_headers"],
    )
    assert response.status_code == 201
    # No one calls a sender here: the app's own thread delivers.
    assert len(inbox.wait_for(2)) == 2

    due = utcnow() + timedelta(seconds=2)
    with database.session() as session:
        notifier(platform).notify(
            session,
            recipient_id=world["sam"].id,
            kind="booking_reminder",
            context=context(),
            idempotency_key="timed",
            send_after=due,
        )
    assert len(inbox.wait_for(3)) == 3
    # The server has it; the sender records "sent" a moment later.
    deadline = time.monotonic() + 30
    while True:
        with database.session() as session:
            timed = session.scalar(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == "timed")
            )
        if (timed is not None and timed.status == "sent") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert timed is not None and timed.status == "sent"
    assert timed.sent_at is not None and timed.sent_at >= due  # never before its time


def test_mail_left_pending_by_an_earlier_run_is_sent_when_the_app_starts(
    settings: Any, inbox: Any
) -> None:
    earlier = create_platform(settings, "command")  # a process that sends nothing itself
    with earlier.database.session() as session:
        sam = register(session, Registration("sam@example.org", TEST_PASSWORD, "Sam", "client"))
        session.flush()
        notifier(earlier).notify(
            session,
            recipient_id=sam.id,
            kind="booking_reminder",
            context=context(),
            idempotency_key="left-behind",
        )
    earlier.shutdown()
    time.sleep(0.5)
    assert inbox.received == []
    application = create_app(settings)  # the next start
    try:
        assert inbox.wait_for(1)[0].recipients == ["sam@example.org"]
    finally:
        shutdown_app(application)


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_mail_of_a_rolled_back_transaction_never_goes_out(
    platform: Any, database: Any, make_user: Any, inbox: Any
) -> None:
    """The sender hears of rows only after the outer commit (the mechanism itself is
    tested in tests/consult/test_handoff.py): a rolled-back notification is never
    sent, a committed one is."""
    sam = make_user(role="client")

    def note(session: Any, key: str) -> None:
        notifier(platform).notify(
            session,
            recipient_id=sam.id,
            kind="booking_reminder",
            context=context(),
            idempotency_key=key,
        )

    with pytest.raises(RuntimeError), database.session() as session:
        note(session, "rolled-back")
        raise RuntimeError
    with database.session() as session:
        try:
            with session.begin_nested():
                note(session, "savepoint-rolled-back")
                raise RuntimeError
        except RuntimeError:
            pass
        note(session, "kept")
    assert len(inbox.wait_for(1)) == 1
    time.sleep(1.5)  # a sweep later: still only the one
    assert len(inbox.received) == 1
    with database.session() as session:
        keys = set(session.scalars(select(OutboxMessage.idempotency_key)))
    assert keys == {"kept"}


def test_the_sender_thread_stops_with_the_app(settings: Any) -> None:
    application = create_app(settings)
    sender = application.extensions["consult.platform"].find(DISPATCHER)
    assert isinstance(sender, InProcessScheduler) and sender.loop.thread.is_alive()
    shutdown_app(application)
    sender.loop.thread.join(30)
    assert not sender.loop.thread.is_alive()
