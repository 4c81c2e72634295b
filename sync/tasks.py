"""Background jobs of calendar sync (rq with Redis, the in-process queue without).

- :func:`sync_calendar_job` syncs one connection (on demand, or when due);
- :func:`dispatch_due_job` runs every ``[sync] dispatch_seconds``: it claims the
  connections whose ``next_sync_at`` has come (moving it one interval on, a lease:
  a worker that dies mid-sync only delays the next attempt) and the write-back
  pushes whose retry time has come, enqueues a job for each, and enqueues itself
  for the next tick;
- :func:`push_booking_job` pushes one booking change to a write-back calendar;
- :func:`revoke_grant_job` revokes a removed connection's OAuth grant.

The dispatcher keeps exactly one chain alive without any lock: each tick is
enqueued under a job id naming its time slot, so two chains (two app processes
started, a worker restarted) enqueue the same id and rq keeps one. It stops when no
calendar is connected and starts again with the next connection or app start.

Jobs take ids, open their own sessions and are idempotent (rq retries them). Each
first installs the booking layer's store listeners, so mirror writes made in an rq
worker update the busy-time index as writes made in the app do.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from consult.jobs import JobQueue, create_job_queue
from runtime.worker import job_database, job_settings
from sync.models import AUTHORIZING, ExternalCalendar, ExternalCalendarPush

__all__ = [
    "dispatch_due_job",
    "enqueue_push",
    "enqueue_revoke",
    "enqueue_sync",
    "push_booking_job",
    "revoke_grant_job",
    "schedule_dispatch",
    "set_job_queue",
    "sync_calendar_job",
]

log = logging.getLogger(__name__)

_BATCH = 200
_queue: JobQueue | None = None
_queue_lock = threading.Lock()


def set_job_queue(queue: JobQueue | None) -> None:
    """Use ``queue`` for the jobs this package enqueues (the app's; ``None``: make one
    from the process settings, as in an rq worker)."""
    global _queue
    with _queue_lock:
        _queue = queue


def job_queue() -> JobQueue:
    """The queue jobs are enqueued on in this process."""
    global _queue
    with _queue_lock:
        if _queue is None:
            _queue = create_job_queue(job_settings().redis.url)
        return _queue


def _install() -> None:
    import booking

    booking.install()


def sync_calendar_job(connection_id: int) -> str:
    """Sync one connection now; returns the outcome's status."""
    from sync.syncing import run_sync

    _install()
    database = job_database()
    outcome = run_sync(database.session, job_settings(), connection_id)
    return outcome.status


def push_booking_job(push_id: int) -> str:
    """Push one pending booking change; returns the outcome's status."""
    from sync.writeback import push_booking

    _install()
    return push_booking(job_database(), job_settings(), push_id).status


def revoke_grant_job(kind: str, sealed_secret: str) -> str:
    """Revoke the grant held by a removed connection (where the provider allows it).
    Failures are logged: the tokens are deleted here anyway."""
    from sync.errors import SourceError
    from sync.secrets import open_secret
    from sync.sources import Credentials, SourceConfig, source_for
    from sync.syncing import limits_for

    settings = job_settings()
    try:
        credentials = Credentials(open_secret(settings.app.secret_key, sealed_secret))
        config = SourceConfig(
            connection_id=0,
            kind=kind,
            url="",
            username="",
            credentials=credentials,
            own_zone=ZoneInfo("UTC"),
        )
        source_for(kind, settings).revoke(config, limits_for(settings))
    except SourceError as error:
        log.warning("revoking a removed %s calendar's access failed: %s", kind, error.message)
        return "failed"
    return "revoked"


def enqueue_sync(connection_id: int, queue: JobQueue | None = None) -> None:
    """Run :func:`sync_calendar_job` for the connection as soon as a worker is free."""
    # Ids go as keywords, which read clearly in rq's job listings.
    (queue or job_queue()).enqueue(sync_calendar_job, connection_id=connection_id)


def enqueue_revoke(kind: str, sealed_secret: str, queue: JobQueue | None = None) -> None:
    """Run :func:`revoke_grant_job` for a removed connection's (still sealed) secret."""
    (queue or job_queue()).enqueue(revoke_grant_job, kind=kind, sealed_secret=sealed_secret)


def enqueue_push(push_id: int, queue: JobQueue | None = None) -> None:
    """Run :func:`push_booking_job` for the push as soon as a worker is free."""
    (queue or job_queue()).enqueue(push_booking_job, push_id=push_id)


def schedule_dispatch(queue: JobQueue | None = None, now: datetime | None = None) -> str | None:
    """Enqueue the dispatcher for the next tick (idempotent per tick); returns its job
    id, or ``None`` when periodic sync is off (``dispatch_seconds = 0``)."""
    tick = int(job_settings().sync.dispatch_seconds)
    if tick <= 0:
        return None
    now = now or datetime.now(UTC)
    slot = math.floor(now.timestamp() / tick) + 1
    at = datetime.fromtimestamp(slot * tick, UTC)
    job_id = f"calendar-sync-dispatch-{tick}-{slot}"
    (queue or job_queue()).enqueue(dispatch_due_job, at=at, job_id=job_id)
    return job_id


def dispatch_due_job() -> int:
    """Claim and enqueue what is due (see the module docstring); returns how many jobs
    were enqueued."""
    _install()
    settings = job_settings()
    database = job_database()
    queue = job_queue()
    now = datetime.now(UTC)
    lease = timedelta(minutes=int(settings.sync.interval_minutes))
    claimed: list[int] = []
    pushes: list[int] = []
    with database.session() as session:
        due = session.execute(
            select(ExternalCalendar.id, ExternalCalendar.next_sync_at)
            .where(
                ExternalCalendar.status != AUTHORIZING,
                ExternalCalendar.next_sync_at <= now,
            )
            .order_by(ExternalCalendar.next_sync_at)
            .limit(_BATCH)
        ).all()
        for connection_id, due_at in due:
            result = session.execute(
                update(ExternalCalendar)
                .where(
                    ExternalCalendar.id == connection_id, ExternalCalendar.next_sync_at == due_at
                )
                .values(next_sync_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(connection_id)
        waiting = session.execute(
            select(ExternalCalendarPush.id, ExternalCalendarPush.next_attempt_at)
            .where(
                ExternalCalendarPush.pending.is_not(None),
                ExternalCalendarPush.next_attempt_at <= now,
            )
            .limit(_BATCH)
        ).all()
        for push_id, due_at in waiting:
            result = session.execute(
                update(ExternalCalendarPush)
                .where(
                    ExternalCalendarPush.id == push_id,
                    ExternalCalendarPush.next_attempt_at == due_at,
                )
                .values(next_attempt_at=now + lease)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                pushes.append(push_id)
        connected = session.scalar(select(func.count()).select_from(ExternalCalendar))
    for connection_id in claimed:
        enqueue_sync(connection_id, queue)
    for push_id in pushes:
        enqueue_push(push_id, queue)
    if connected:
        schedule_dispatch(queue, now)
    else:
        log.info("no calendars connected: the sync dispatcher stops until one is")
    return len(claimed) + len(pushes)
