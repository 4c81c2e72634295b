"""Delivery through real Redis and rq workers: the normal path, Redis unreachable
while booking, and a worker killed in the middle of sending."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from consult.db import utcnow
from notifications.bookings import BOOKING_CHANGE
from notifications.delivery import SENDER as SENDER_PORT
from notifications.delivery import Outcome, sweep
from notifications.models import DeliveryAttempt, OutboxMessage
from runtime import create_app, create_platform, shutdown_app
from tests.factories import at, bearer, iso, next_weekday, setup_professional
from tests.helpers import TEST_SECRET_KEY, free_port, make_settings
from tests.notifications.conftest import SENDER, notifier

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings_overrides(inbox: Any, redis_url: str) -> dict[str, dict[str, Any]]:
    return {
        "smtp": {"host": "127.0.0.1", "port": str(inbox.port), "security": "none", "from": SENDER},
        "notifications": {"sweep_seconds": "0"},
        "redis": {"url": redis_url},
    }


def run_burst(platform: Any) -> None:
    """A real rq worker in this process (no fork), handing jobs ``platform``, until
    the queue is empty."""
    platform.jobs.worker(("default",), platform, forking=False).work(burst=True)


def book(client: Any, world: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/bookings",
        json={"service_id": world["service"]["id"], "start": iso(at(world["day"], "09:00"))},
        headers=world["sam_headers"],
    )
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def statuses(database: Any, kind: str = "booking_confirmed") -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == kind)))


def test_booking_emails_go_through_rq_and_reminders_wait_in_its_scheduler(
    platform: Any, client: Any, database: Any, world: dict[str, Any], inbox: Any, redis_url: str
) -> None:
    book(client, world)
    connection = Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    # Other packages may enqueue their own jobs for a booking: count ours. What is due
    # now goes in batches (one job, one mail connection); later messages one job each.
    batch, ours = "notifications.delivery.deliver_many", "notifications.delivery.deliver"
    # One job for the booking's change: a worker expands it into its messages, off
    # the booking's request, and queues those in turn.
    assert [job.func_name for job in queue.get_jobs()].count(batch) == 1
    assert statuses(database, BOOKING_CHANGE) == ["pending"]
    run_burst(platform)  # the change, then the two invitations it queued
    assert len(inbox.wait_for(2)) == 2
    assert statuses(database, BOOKING_CHANGE) == ["sent"]
    scheduled = ScheduledJobRegistry(queue=queue)
    waiting = [queue.fetch_job(job_id) for job_id in scheduled.get_job_ids()]
    # Four reminders (24 h and 1 h, client and professional) wait for their time.
    assert [job.func_name for job in waiting if job is not None].count(ours) == 4
    assert statuses(database) == ["sent", "sent"]


def test_booking_succeeds_with_redis_unreachable_and_the_sweep_delivers(
    platform: Any,
    tmp_path: Path,
    database_url: str,
    database: Any,
    inbox: Any,
    redis_url: str,
    make_user: Any,
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(
        tmp_path,
        database_url,
        smtp={"host": "127.0.0.1", "port": str(inbox.port), "security": "none"},
        notifications={"sweep_seconds": "0"},
        redis={"url": closed},
    )
    app = create_app(settings)
    client = app.test_client()
    pro, _, service = setup_professional(client, database, make_user)
    sender = app.extensions["consult.platform"].find(SENDER_PORT)
    sam = make_user(role="client")
    response = client.post(
        "/api/v1/bookings",
        json={
            "service_id": service["id"],
            "start": iso(at(next_weekday(2, weeks_ahead=2), "09:00")),
        },
        headers=bearer(database, sam),
    )
    assert response.status_code == 201, response.get_json()
    assert statuses(database, BOOKING_CHANGE) == ["pending"]

    # A worker runs (Redis may or may not be back: its sweep needs none). The
    # sweep leaves rows alone while their job may just be slow, then sends them.
    assert sweep(sender)[Outcome.SENT] == 0
    later = utcnow() + sender.policy.redispatch_after + timedelta(seconds=1)
    assert sweep(sender, now=later)[Outcome.SENT] == 2
    assert {r.recipients[0] for r in inbox.wait_for(2)} == {sam.email, pro.email}
    assert statuses(database) == ["sent", "sent"]
    # Nothing more to do: the emails went out once.
    assert sum(sweep(sender, now=later + timedelta(minutes=5)).values()) == 0
    assert len(inbox.received) == 2
    shutdown_app(app)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("crash", ["before the server accepted", "after the server accepted"])
def test_a_worker_killed_while_sending_loses_nothing(
    platform: Any,
    app: Any,
    client: Any,
    database: Any,
    database_url: str,
    settings: Any,
    world: dict[str, Any],
    inbox: Any,
    redis_url: str,
    tmp_path: Path,
    crash: str,
) -> None:
    """``consult worker`` (forking, as in production) is killed, with its job
    process, when the message data reaches the SMTP server. Killed before the
    server accepted: nothing arrived, and the message is sent once after the lease
    runs out. Killed after: the copy sent again carries the same Message-ID, so
    the recipient's mail system sees one message (the window explained in
    :mod:`notifications.delivery`)."""

    with database.session() as session:
        notifier(platform).notify(
            session,
            recipient_id=world["sam"].id,
            kind="booking_reminder",
            context=_context(),
            idempotency_key="crash-test",
        )
    env = {
        **os.environ,
        "CONSULT_CONFIG": os.devnull,
        "CONSULT_DATABASE_URL": database_url,
        "CONSULT_REDIS_URL": redis_url,
        "CONSULT_DATA_DIR": str(tmp_path / "worker"),
        "CONSULT_SECRET_KEY": TEST_SECRET_KEY,
        "CONSULT_APP_AUTO_MIGRATE": "false",
        "CONSULT_SMTP_HOST": "127.0.0.1",
        "CONSULT_SMTP_PORT": str(inbox.port),
        "CONSULT_SMTP_SECURITY": "none",
        "CONSULT_SMTP_FROM": SENDER,
        "CONSULT_NOTIFICATIONS_LEASE_SECONDS": "2",
        "CONSULT_NOTIFICATIONS_SWEEP_SECONDS": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", "--burst"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    killed: list[int] = []

    def kill_worker(_envelope: Any) -> None:
        if killed:
            return
        for pid in [*_children(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    inbox.on_data = kill_worker
    if crash == "before the server accepted":
        inbox.reply = "451 4.4.2 connection lost"
    try:
        worker.wait(timeout=120)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert killed, worker.stderr.read().decode()[-2000:] if worker.stderr else ""
    assert worker.returncode == -signal.SIGKILL
    # Only that delivery dies; the recovery below goes through.
    inbox.reply, inbox.on_data = None, None
    with database.session() as session:
        claimed = session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "crash-test")
        )
        assert claimed is not None and claimed.status == "pending" and claimed.attempts == 1
        assert claimed.claimed_until is not None
        row_id = claimed.id
    arrived_during_crash = len(inbox.received)
    assert arrived_during_crash == (0 if crash.startswith("before") else 1)

    # Recovery: the worker's sweep sends it once the lease has run out.
    sender = platform.find(SENDER_PORT)
    deadline = time.monotonic() + 90
    while sweep(sender, now=utcnow() + sender.policy.redispatch_after)[Outcome.SENT] == 0:
        assert time.monotonic() < deadline, "the message was never sent again"
        time.sleep(0.5)
    received = inbox.wait_for(arrived_during_crash + 1)
    with database.session() as session:
        sent = session.get(OutboxMessage, row_id)
        attempts = list(
            session.scalars(
                select(DeliveryAttempt.outcome).where(DeliveryAttempt.message_id == row_id)
            )
        )
    assert sent is not None and sent.attempts == 2 and attempts == ["sent"]
    # Whatever rq retries later finds the message sent and does nothing.
    run_burst(platform)
    assert len(inbox.received) == len(received)
    message_ids = {r.message["Message-ID"] for r in inbox.received}
    assert len(message_ids) == 1  # one message from the recipient's view
    assert len(inbox.received) == (1 if crash.startswith("before") else 2)


def _context() -> dict[str, Any]:
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


def test_consult_worker_sweeps_on_its_own(
    platform: Any,
    client: Any,
    database: Any,
    settings: Any,
    world: dict[str, Any],
    inbox: Any,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """What ``consult worker`` starts: a thread that sends the rows whose job was
    lost (here: Redis restarted empty), without any rq job."""
    book(client, world)
    Redis.from_url(redis_url).flushdb()  # Redis restarted empty: the jobs are gone
    worker_settings = make_settings(
        tmp_path,
        settings.database.url,
        smtp={"host": "127.0.0.1", "port": str(inbox.port), "security": "none"},
        redis={"url": redis_url},
        notifications={"sweep_seconds": "1", "redispatch_after_seconds": "1"},
    )
    worker = create_platform(worker_settings, "worker").start()
    try:
        assert len(inbox.wait_for(2)) == 2
    finally:
        worker.shutdown()
    # The expansion also queued jobs for its messages (Redis is back): they find
    # them sent, and send nothing twice.
    run_burst(platform)
    assert len(inbox.received) == 2
    deadline = time.monotonic() + 30
    while statuses(database) != ["sent", "sent"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
