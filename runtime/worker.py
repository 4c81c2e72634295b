"""``consult worker``: an rq worker that also runs rq's scheduler for timed jobs,
and the process-wide context jobs use to find the settings and database."""

from __future__ import annotations

import logging
import threading

from consult.config import Settings
from consult.db import Database, get_database

log = logging.getLogger(__name__)

_context_lock = threading.Lock()
_settings: Settings | None = None


def set_job_settings(settings: Settings) -> None:
    """Record the settings jobs run with in this process (app start, worker start)."""
    global _settings
    with _context_lock:
        _settings = settings


def job_settings() -> Settings:
    """The settings of this process; loaded from config and environment if unset
    (an rq worker started without going through :func:`run_worker`)."""
    global _settings
    with _context_lock:
        if _settings is None:
            from consult.config import load_settings

            _settings = load_settings()
        return _settings


def job_database() -> Database:
    settings = job_settings()
    return get_database(settings.database.url, settings.database.pool_size)


def _start_maintenance(settings: Settings, *, burst: bool) -> None:
    from runtime.maintenance import PeriodicRunner, run_maintenance

    minutes = settings.app.maintenance_minutes
    if burst or minutes <= 0:
        return
    database = get_database(settings.database.url, settings.database.pool_size)
    PeriodicRunner(lambda: run_maintenance(database), minutes * 60, "maintenance").start()


def run_worker(settings: Settings, burst: bool = False, queues: tuple[str, ...] = ()) -> int:
    from redis import Redis
    from rq import Queue, Worker

    from consult.jobs import DEFAULT_QUEUE

    set_job_settings(settings)
    from notifications.runtime import start_for_worker

    start_for_worker(settings, burst=burst)  # sweeps the email outbox for lost jobs
    _start_maintenance(settings, burst=burst)
    connection = Redis.from_url(settings.redis.url)
    names = queues or (DEFAULT_QUEUE,)
    worker = Worker([Queue(name, connection=connection) for name in names], connection=connection)
    log.info("worker listening on %s", ", ".join(names))
    worker.work(with_scheduler=True, burst=burst)
    return 0
