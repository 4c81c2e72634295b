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

Jobs are handed the platform and ids, open their own sessions and are idempotent
(rq retries them). Mirror writes go through the platform's database, so they update
the busy-time index in a worker as in the app.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from consult.config import Settings
from consult.jobs import JobQueue
from consult.platform import Platform
from sync.errors import SourceError
from sync.models import AUTHORIZING, ExternalCalendar, ExternalCalendarPush
from sync.secrets import open_secret
from sync.sources import Credentials, SourceConfig
from sync.sources.adapters import source_for
from sync.syncing import SYNC_FLIGHTS, Observer, limits_for, run_sync
from sync.writeback import push_booking

__all__ = [
    "dispatch_due_job",
    "enqueue_push",
    "enqueue_revoke",
    "enqueue_sync",
    "push_booking_job",
    "revoke_grant_job",
    "schedule_dispatch",
    "sync_calendar_job",
]

log = logging.getLogger(__name__)

_BATCH = 200


def observe_runs(platform: Platform) -> Observer:
    """Count each finished sync on the platform's metrics (see ``sync.include``)."""
    syncs = platform.metrics.get("consult_calendar_syncs_total")
    return lambda kind, status: syncs.labels(kind or "unknown", status).inc()


def sync_calendar_job(platform: Platform, connection_id: int) -> str:
    """Sync one connection now; returns the outcome's status."""
    outcome = run_sync(
        platform.database.session,
        platform.settings,
        platform.find(SYNC_FLIGHTS),
        connection_id,
        observe=observe_runs(platform),
    )
    return outcome.status


def push_booking_job(platform: Platform, push_id: int) -> str:
    """Push one pending booking change; returns the outcome's status."""
    return push_booking(platform.database, platform.settings, push_id).status


def revoke_grant_job(platform: Platform, kind: str, sealed_secret: str) -> str:
    """Revoke the grant held by a removed connection (where the provider allows it).
    Failures are logged: the tokens are deleted here anyway."""
    settings = platform.settings
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


def enqueue_sync(queue: JobQueue, connection_id: int) -> None:
    """Run :func:`sync_calendar_job` for the connection as soon as a worker is free."""
    queue.enqueue(sync_calendar_job, connection_id=connection_id)


def enqueue_revoke(queue: JobQueue, kind: str, sealed_secret: str) -> None:
    """Run :func:`revoke_grant_job` for a removed connection's (still sealed) secret."""
    queue.enqueue(revoke_grant_job, kind=kind, sealed_secret=sealed_secret)


def enqueue_push(queue: JobQueue, push_id: int) -> None:
    """Run :func:`push_booking_job` for the push as soon as a worker is free."""
    queue.enqueue(push_booking_job, push_id=push_id)


def schedule_dispatch(
    queue: JobQueue, settings: Settings, now: datetime | None = None
) -> str | None:
    """Enqueue the dispatcher for the next tick (idempotent per tick); returns its job
    id, or ``None`` when periodic sync is off (``dispatch_seconds = 0``)."""
    tick = int(settings.sync.dispatch_seconds)
    if tick <= 0:
        return None
    now = now or datetime.now(UTC)
    slot = math.floor(now.timestamp() / tick) + 1
    at = datetime.fromtimestamp(slot * tick, UTC)
    job_id = f"calendar-sync-dispatch-{tick}-{slot}"
    queue.enqueue(dispatch_due_job, at=at, job_id=job_id)
    return job_id


def dispatch_due_job(platform: Platform) -> int:
    """Claim and enqueue what is due (see the module docstring); returns how many jobs
    were enqueued."""
    settings = platform.settings
    database = platform.database
    queue = platform.jobs
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
        enqueue_sync(queue, connection_id)
    for push_id in pushes:
        enqueue_push(queue, push_id)
    if connected:
        schedule_dispatch(queue, settings, now)
    else:
        log.info("no calendars connected: the sync dispatcher stops until one is")
    return len(claimed) + len(pushes)
