"""Starting notifications in a process: the app (``create_app``) or ``consult worker``.

- :func:`install` subscribes to booking changes and to session commits (idempotent).
- :func:`start_for_app` checks the settings, then picks the sender: with Redis,
  jobs go to rq (the worker sends and sweeps); without, a thread in the app sends
  what is due and sweeps.
- :func:`start_for_worker` is called by ``consult worker``: jobs from there go to
  rq too, and a thread re-dispatches lost messages every ``sweep_seconds``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from consult.config import Settings
from consult.db import Database
from consult.jobs import JobQueue
from notifications import dispatch
from notifications.delivery import DeliveryPolicy, Outcome, deliver_due, next_due, sweep
from notifications.mailer import Mailer, create_mailer
from notifications.reminders import check_default_offsets

log = logging.getLogger(__name__)

_installed = False


def install() -> None:
    """Subscribe to booking changes and session commits (idempotent)."""
    global _installed
    if _installed:
        return
    from booking import events
    from notifications import reminders
    from notifications.bookings import BOOKING_CHANGE, expand_change, on_booking_changed
    from notifications.delivery import register_handler

    events.subscribe(on_booking_changed)
    register_handler(BOOKING_CHANGE, expand_change)
    dispatch.listen()
    reminders.install()
    _installed = True


def check_settings(settings: Settings) -> Mailer:
    """The mailer for ``settings``; ConfigError for a bad sender or reminder offsets."""
    check_default_offsets(settings)
    return create_mailer(settings)


def send_due_now(
    database: Database, mailer: Mailer, policy: DeliveryPolicy, now: datetime
) -> datetime | None:
    """Send everything due at ``now`` in batches; return when the next row is due."""
    while True:
        counts = deliver_due(database, mailer, policy, now=now, limit=200)
        if sum(counts.values()) < 200 or counts[Outcome.SKIPPED] == 200:
            break
    return next_due(database)


def start_for_app(settings: Settings, database: Database, jobs: JobQueue) -> dispatch.Dispatcher:
    """Wire notifications into an app process; returns the dispatcher it uses."""
    install()
    mailer = check_settings(settings)
    policy = DeliveryPolicy.from_settings(settings)
    sender: dispatch.Dispatcher
    if jobs.backend == "rq":
        sender = dispatch.RQDispatcher(jobs)
    else:
        scheduler = dispatch.InProcessScheduler(
            lambda now: send_due_now(database, mailer, policy, now),
            settings.notifications.sweep_seconds,
        )
        if settings.notifications.sweep_seconds > 0:
            scheduler.start()
        sender = scheduler
    dispatch.set_dispatcher(sender)
    log.info("notifications: mail via %s, sent by %s", mailer.backend, sender.backend)
    return sender


def _prepare_forked_jobs(settings: Settings) -> None:
    """Connect the jobs' database once in the worker, so every job process rq forks
    inherits an engine that already knows the server (no dialect set-up per job:
    this triples the emails a forking worker sends per second), and make each
    child drop the inherited pooled connections, which belong to the parent."""
    from sqlalchemy import text

    from consult.db import get_database

    database = get_database(settings.database.url, settings.database.pool_size)
    try:
        with database.session(readonly=True) as session:
            session.execute(text("SELECT 1"))
    except Exception as error:  # the database may come later; jobs will connect then
        log.warning("notifications: database not reachable at worker start: %s", error)
    os.register_at_fork(after_in_child=lambda: database.engine.dispose(close=False))


def start_for_worker(settings: Settings, *, burst: bool = False) -> dispatch.WorkerSweeper | None:
    """Wire notifications into ``consult worker``: jobs enqueue through rq, and
    (unless ``sweep_seconds`` is 0) a thread sends the messages whose job was
    lost. A burst worker sweeps once, before it starts."""
    from consult.jobs import RQQueue

    install()
    check_settings(settings)
    _prepare_forked_jobs(settings)
    dispatcher = dispatch.RQDispatcher(RQQueue(settings.redis.url))
    dispatch.set_dispatcher(dispatcher)
    if settings.notifications.sweep_seconds <= 0:
        return None
    database = dispatch.worker_database(settings.database.url)
    mailer = create_mailer(settings)
    policy = DeliveryPolicy.from_settings(settings)
    if burst:
        try:
            sweep(database, mailer, policy)
        except Exception:  # the jobs in the queue still deserve to run
            log.exception("notifications: the sweep before the burst failed")
        finally:
            database.dispose()
        return None
    return dispatch.WorkerSweeper(
        lambda now: sweep(database, mailer, policy, now=now),
        settings.notifications.sweep_seconds,
    ).start()
