"""Batches: the messages due together go over one SMTP connection, each claimed,
sent and recorded on its own, so one refused message changes nothing for the others
and nothing is sent twice; a connection the server drops mid-batch is opened again
for the next message; the rq dispatcher queues what is due now as batch jobs."""

from __future__ import annotations

from typing import Any

import pytest
from aiosmtpd.controller import Controller
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from notifications.delivery import BATCH_SIZE, SENDER, Outcome, deliver_batch
from notifications.models import DeliveryAttempt, OutboxMessage
from tests.helpers import free_port
from tests.notifications.conftest import SENDER as FROM
from tests.notifications.conftest import Inbox, notifier
from tests.notifications.test_delivery import reminder_context

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


class SessionCountingInbox(Inbox):
    """Counts SMTP sessions (EHLOs), refuses recipients named ``refused...`` at RCPT,
    and ends a session after ``hang_up_after`` messages, answering the next MAIL with
    421 (as servers that limit messages per session do)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0
        self.hang_up_after: int | None = None
        self._in_session = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        self._in_session = 0
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.hang_up_after is not None and self._in_session >= self.hang_up_after:
            return "421 4.7.0 too many messages in this session"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("refused"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._in_session += 1
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def inbox() -> Any:
    handler = SessionCountingInbox()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def settings_overrides(inbox: Inbox, redis_url: str) -> dict[str, dict[str, Any]]:
    return {
        "smtp": {"host": "127.0.0.1", "port": str(inbox.port), "security": "none", "from": FROM},
        "notifications": {"sweep_seconds": "0"},
        "redis": {"url": redis_url},
    }


def _record(platform: Any, users: list[Any], tag: str) -> list[int]:
    """One reminder email per user, all in one transaction; their ids in order."""
    with platform.database.session() as session:
        for user in users:
            notifier(platform).notify(
                session,
                recipient_id=user.id,
                kind="booking_reminder",
                context=reminder_context(),
                idempotency_key=f"{tag}:{user.id}",
                in_app=False,
            )
    with platform.database.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.idempotency_key.like(f"{tag}:%"))
                .order_by(OutboxMessage.id)
            )
        )


def test_one_connection_for_a_batch_and_a_refused_message_stays_alone(
    platform: Any, make_user: Any, inbox: SessionCountingInbox
) -> None:
    users = [make_user(role="client") for _ in range(4)]
    users.insert(2, make_user(role="client", email="refused@example.org"))
    ids = _record(platform, users, "batch")
    sender = platform.find(SENDER)
    results = deliver_batch(sender, ids)
    assert [results[i].outcome for i in ids] == [
        Outcome.SENT,
        Outcome.SENT,
        Outcome.FAILED,
        Outcome.SENT,
        Outcome.SENT,
    ]
    assert len(inbox.wait_for(4)) == 4
    assert inbox.sessions == 1
    # Sent once: a second batch over the same rows finds nothing to claim.
    again = deliver_batch(sender, ids)
    assert {r.outcome for r in again.values()} == {Outcome.SKIPPED}
    assert len(inbox.received) == 4 and inbox.sessions == 1
    with platform.database.session() as session:
        statuses = [session.get(OutboxMessage, i).status for i in ids]  # type: ignore[union-attr]
        attempts = session.scalar(select(func.count()).select_from(DeliveryAttempt))
    assert statuses == ["sent", "sent", "failed", "sent", "sent"]
    assert attempts == 5


def test_a_session_the_server_ends_mid_batch_is_opened_again(
    platform: Any, make_user: Any, inbox: SessionCountingInbox
) -> None:
    inbox.hang_up_after = 2
    users = [make_user(role="client") for _ in range(5)]
    ids = _record(platform, users, "hangup")
    results = deliver_batch(platform.find(SENDER), ids)
    outcomes = [results[i].outcome for i in ids]
    # The message that meets the end of a session is retried later (never lost, never
    # doubled); the next one opens a new session.
    assert outcomes == [
        Outcome.SENT,
        Outcome.SENT,
        Outcome.RETRY,
        Outcome.SENT,
        Outcome.SENT,
    ]
    assert inbox.sessions == 2
    assert len(inbox.received) == 4


def test_the_rq_dispatcher_queues_what_is_due_now_in_batches(
    platform: Any, make_user: Any, inbox: SessionCountingInbox, redis_url: str
) -> None:
    users = [make_user(role="client") for _ in range(BATCH_SIZE + 7)]
    queue = Queue("default", connection=Redis.from_url(redis_url))
    before = [job.func_name for job in queue.get_jobs()]
    ids = _record(platform, users, "rq")
    added = [job.func_name for job in queue.get_jobs()][len(before) :]
    assert added == ["notifications.delivery.deliver_many"] * 2
    platform.jobs.worker(("default",), platform, forking=False).work(burst=True)
    assert len(inbox.wait_for(len(ids))) == len(ids)
    assert inbox.sessions == 2  # one per batch job
    with platform.database.session() as session:
        sent = session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "sent")
        )
    assert sent == len(ids)
