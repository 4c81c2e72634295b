"""Emails per second an rq worker sends to a local SMTP server.

Sets up a scratch PostgreSQL database and a Redis database, records ``--emails``
messages in the outbox through ``notify()`` (each with its own recipient, as for
booking confirmations), lets the dispatcher enqueue one delivery job per message,
then times an rq worker in burst mode until the queue is empty and every message
is marked sent. The SMTP server is aiosmtpd in this process, accepting everything.

Two workers are measured, several runs each, and the median printed:

- the forking worker: what ``consult worker`` runs in production (a process per job);
- the in-process worker: the same jobs without the fork, to show what the fork costs.

The load generator, PostgreSQL, Redis and the SMTP server share the same 2-core
machine, so the figures are a floor. Prints, asserts nothing.

    .venv/bin/python bench/email_delivery.py [--emails 300] [--runs 5] [--redis-db 14]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and this file is
# named like the standard library's ``email`` package: take the folder off.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402

from accounts.models import User  # noqa: E402
from consult.config import load_settings  # noqa: E402
from consult.db import utcnow  # noqa: E402
from consult.jobs import RQQueue  # noqa: E402
from notifications.delivery import BATCH_SIZE  # noqa: E402
from notifications.models import OutboxMessage  # noqa: E402
from notifications.service import NOTIFIER  # noqa: E402
from runtime.migrate import upgrade  # noqa: E402
from runtime.platform import create_platform  # noqa: E402
from runtime.worker import prepare_forked_jobs  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "CONSULT_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_BASE_URL = os.environ.get("CONSULT_BENCH_REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Counter:
    """SMTP handler that accepts and counts."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 2.0.0 OK"


def context() -> dict[str, Any]:
    start = utcnow() + timedelta(days=2)
    return {
        "role": "client",
        "is_group": False,
        "client_name": "Client",
        "service_title": "Therapy session",
        "start": start,
        "end": start + timedelta(minutes=50),
        "other_name": "Maya Example",
        "booking_url": "http://127.0.0.1:8000/bookings/1",
        "join_url": "http://127.0.0.1:8000/bookings/1/session",
        "manage_url": "http://127.0.0.1:8000/manage/token",
    }


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.name = f"consult_bench_email_{os.getpid()}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.name
        self.redis_url = f"{REDIS_BASE_URL}/{args.redis_db}"
        self.smtp = Counter()
        self.controller = Controller(self.smtp, hostname="127.0.0.1", port=free_port())
        self.data_dir = Path(tempfile.mkdtemp(prefix="consult-bench-email-"))

    def __enter__(self) -> Bench:
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        engine = sa.create_engine(self.url)
        upgrade(engine)
        engine.dispose()
        self.controller.start()
        self.settings = load_settings(
            config_file=os.devnull,
            environ={},
            overrides={
                "app": {"data_dir": str(self.data_dir), "secret_key": "bench-" + "x" * 32},
                "database": {"url": self.url},
                "redis": {"url": self.redis_url},
                "smtp": {
                    "host": "127.0.0.1",
                    "port": str(self.controller.port),
                    "security": "none",
                    "from": "Consult <bench@consult.test>",
                },
                "notifications": {"sweep_seconds": "0"},
            },
        )
        # What `consult worker` does at start: its platform (jobs to rq), and an engine
        # that forked job processes inherit ready to use.
        self.platform = create_platform(self.settings, "worker")
        prepare_forked_jobs(self.platform)
        self.redis = Redis.from_url(self.redis_url)
        self.redis.flushdb()
        database = self.platform.database
        with database.session() as session:
            users = [
                User(
                    email=f"client{n}@example.org",
                    email_normalized=f"client{n}@example.org",
                    name=f"Client {n}",
                    password_hash="-",
                    timezone="Europe/Berlin",
                    is_client=True,
                )
                for n in range(self.args.emails)
            ]
            session.add_all(users)
            session.flush()
            self.user_ids = [user.id for user in users]
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
        self.redis.flushdb()
        self.platform.shutdown()
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))

    def record(self, run: str) -> float:
        """Record one message per user in one transaction; the commit enqueues the jobs.
        Returns the seconds that took (rendering, inserts, enqueueing)."""
        notifier = self.platform.find(NOTIFIER)
        started = time.perf_counter()
        with self.platform.database.session() as session:
            for user_id in self.user_ids:
                notifier.notify(
                    session,
                    recipient_id=user_id,
                    # A confirmation: its content is final when recorded (a reminder is
                    # rendered again when it goes out, one by one).
                    kind="booking_confirmed",
                    context=context(),
                    idempotency_key=f"bench:{run}:{user_id}",
                    in_app=False,
                )
        return time.perf_counter() - started

    def sent(self, run: str) -> int:
        with self.platform.database.session() as session:
            return int(
                session.scalar(
                    sa.select(sa.func.count(OutboxMessage.id)).where(
                        OutboxMessage.idempotency_key.like(f"bench:{run}:%"),
                        OutboxMessage.status == "sent",
                    )
                )
                or 0
            )

    def run(self, forking: bool, run: str) -> tuple[float, float]:
        recorded = self.record(run)
        queue = Queue("default", connection=self.redis)
        # What is due at once is queued in batches (one job, one SMTP connection each).
        assert queue.count == -(-self.args.emails // BATCH_SIZE), queue.count
        before = self.smtp.count
        started = time.perf_counter()
        jobs = self.platform.jobs
        assert isinstance(jobs, RQQueue)
        jobs.worker(("default",), self.platform, forking=forking).work(
            burst=True, logging_level="WARNING"
        )
        elapsed = time.perf_counter() - started
        arrived = self.smtp.count - before
        marked = self.sent(run)
        if arrived != self.args.emails or marked != self.args.emails:
            print(f"  run {run}: {arrived} arrived, {marked} marked sent of {self.args.emails}")
        return self.args.emails / elapsed, self.args.emails / recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=300, help="messages per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per worker class")
    parser.add_argument("--redis-db", type=int, default=14, help="Redis database to use (flushed)")
    args = parser.parse_args()
    with Bench(args) as bench:
        print(f"{args.emails} emails per run, {args.runs} runs, SMTP: aiosmtpd on 127.0.0.1")
        recording: list[float] = []
        for forking, label in ((True, "forking worker (a process per job, as consult worker)"),
                               (False, "in-process worker (no fork)")):  # fmt: skip
            rates = []
            for index in range(args.runs):
                rate, recorded = bench.run(forking, f"{forking}-{index}")
                rates.append(rate)
                recording.append(recorded)
            print(
                f"{label}: median {statistics.median(rates):.1f} emails/s "
                f"(runs: {', '.join(f'{r:.1f}' for r in rates)})"
            )
        print(
            f"recording in the outbox (render, insert, enqueue): median "
            f"{statistics.median(recording):.0f} emails/s"
        )


if __name__ == "__main__":
    main()
