"""``consult worker``: an rq worker (with rq's scheduler, for timed jobs) on a
platform of its own, which every job it performs is handed."""

from __future__ import annotations

import logging
import os

from sqlalchemy import text

from consult.config import Settings
from consult.jobs import DEFAULT_QUEUE, RQQueue
from consult.logs import configure_logging
from consult.platform import Platform
from notifications.delivery import SENDER, sweep
from runtime.ops import init_error_reports
from runtime.platform import create_platform

log = logging.getLogger(__name__)


def prepare_forked_jobs(platform: Platform) -> None:
    """Connect the database once in the worker, so every job process rq forks
    inherits an engine that already knows the server (no dialect set-up per job:
    this triples the emails a forking worker sends per second), and make each child
    drop the inherited pooled connections, which belong to the parent."""
    database = platform.database
    try:
        with database.session(readonly=True) as session:
            session.execute(text("SELECT 1"))
    except Exception as error:  # the database may come later; jobs will connect then
        log.warning("worker: database not reachable at start: %s", error)
    os.register_at_fork(after_in_child=lambda: database.engine.dispose(close=False))


def run_worker(settings: Settings, burst: bool = False, queues: tuple[str, ...] = ()) -> int:
    """Work the queues until stopped (``burst``: until they are empty). A burst
    worker first sends what lost jobs left in the outbox, once, and runs no
    background upkeep."""
    configure_logging(settings)
    init_error_reports(settings)
    platform = create_platform(settings, "worker")
    try:
        if settings.ops.metrics_port:
            listener = platform.metrics.serve(settings.ops.metrics_port)
            platform.on_shutdown(listener.shutdown)
            log.info("worker metrics on 127.0.0.1:%s/metrics", settings.ops.metrics_port)
        prepare_forked_jobs(platform)
        if burst:
            try:
                sweep(platform.find(SENDER))
            except Exception:  # the jobs in the queue still deserve to run
                log.exception("notifications: the sweep before the burst failed")
        else:
            platform.start()
        jobs = platform.jobs
        assert isinstance(jobs, RQQueue), "consult worker needs Redis"
        names = queues or (DEFAULT_QUEUE,)
        worker = jobs.worker(names, platform)
        log.info("worker listening on %s", ", ".join(names))
        worker.work(with_scheduler=True, burst=burst)
    finally:
        platform.shutdown()
    return 0
