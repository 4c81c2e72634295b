"""Without Redis, the app itself sends: a thread wakes on every commit that wrote
email and at each message's due time; at start it sends whatever an earlier run
left behind. Senders only ever see committed rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consult.db import utcnow
from notifications import dispatch, notify
from notifications.models import OutboxMessage
from tests.factories import at, iso
from tests.notifications.conftest import SENDER


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
    client: Any, database: Any, world: dict[str, Any], inbox: Any
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
        notify(
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
    app: Any, database: Any, settings: Any, make_user: Any, inbox: Any
) -> None:
    from web import create_app

    dispatch.set_dispatcher(None)  # the first app "stops"
    sam = make_user(role="client")
    with database.session() as session:
        notify(
            session,
            recipient_id=sam.id,
            kind="booking_reminder",
            context=context(),
            idempotency_key="left-behind",
        )
    assert inbox.received == []
    create_app(settings)  # the next start
    assert inbox.wait_for(1)[0].recipients == [sam.email]


class Recorder:
    backend = "recorder"

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, datetime]]] = []

    def dispatch(self, items: Sequence[tuple[int, datetime]]) -> None:
        self.calls.append(list(items))


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_senders_hear_of_rows_only_when_the_outer_transaction_commits(
    app: Any, database: Any, make_user: Any
) -> None:
    sam = make_user(role="client")
    recorder = Recorder()
    dispatch.set_dispatcher(recorder)

    def note(session: Any, key: str) -> None:
        notify(
            session,
            recipient_id=sam.id,
            kind="booking_reminder",
            context=context(),
            idempotency_key=key,
        )

    with database.session() as session:
        note(session, "one")
        with session.begin_nested():  # a SAVEPOINT released is not a commit
            note(session, "two")
        try:
            with session.begin_nested():
                note(session, "three")
                raise RuntimeError
        except RuntimeError:
            pass
        assert recorder.calls == []
    assert len(recorder.calls) == 1
    ids = {outbox_id for outbox_id, _ in recorder.calls[0]}
    with database.session() as session:
        committed = set(session.scalars(select(OutboxMessage.id)))
    # "three" was rolled back with its savepoint: its id names no row, which a
    # sender treats as nothing to do.
    assert committed <= ids and len(committed) == 2

    with pytest.raises(RuntimeError), database.session() as session:
        note(session, "four")
        raise RuntimeError
    assert len(recorder.calls) == 1  # a rolled-back transaction is never dispatched


def test_the_sender_thread_stops_with_the_app(settings: Any) -> None:
    from web import create_app, shutdown_app

    application = create_app(settings)
    sender = dispatch.get_dispatcher()
    assert isinstance(sender, dispatch.InProcessScheduler) and sender.thread.is_alive()
    shutdown_app(application)
    sender.thread.join(30)
    assert not sender.thread.is_alive()
    assert dispatch.get_dispatcher() is None
