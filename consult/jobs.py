"""Background jobs behind one small port: rq on Redis in production, a thread
pool inside the app process when no Redis is configured (the embedded default).

Jobs are module-level functions that take ids and open their own database
session; they must be idempotent, because rq retries them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Protocol

from consult.db import utcnow

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"


class JobQueue(Protocol):
    """Runs ``func(*args, **kwargs)`` soon, or at ``at``."""

    def enqueue(
        self,
        func: Callable[..., Any],
        *args: Any,
        at: datetime | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str | None: ...

    def cancel(self, job_id: str) -> None: ...

    @property
    def backend(self) -> str: ...


class InProcessQueue:
    """Runs jobs on a small thread pool; timed jobs wait on ``threading.Timer``s.

    Timers live only as long as the process: whatever must survive a restart
    (emails, reminders) is also recorded in the database by its owner and
    re-enqueued at start-up.
    """

    backend = "in-process"

    def __init__(self, workers: int = 4) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def enqueue(
        self,
        func: Callable[..., Any],
        *args: Any,
        at: datetime | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        delay = (at - utcnow()).total_seconds() if at is not None else 0.0
        if delay <= 0:
            self._executor.submit(self._run, func, args, kwargs)
            return job_id
        timer = threading.Timer(delay, self._executor.submit, (self._run, func, args, kwargs))
        timer.daemon = True
        with self._lock:
            if job_id is not None:
                previous = self._timers.pop(job_id, None)
                if previous is not None:
                    previous.cancel()
                self._timers[job_id] = timer
        timer.start()
        return job_id

    def cancel(self, job_id: str) -> None:
        with self._lock:
            timer = self._timers.pop(job_id, None)
        if timer is not None:
            timer.cancel()

    @staticmethod
    def _run(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            func(*args, **kwargs)
        except Exception:
            log.exception("background job %s failed", getattr(func, "__name__", func))

    def shutdown(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


class RQQueue:
    """rq on Redis; timed jobs go to rq's scheduler (``consult worker`` runs it)."""

    backend = "rq"

    def __init__(self, redis_url: str, name: str = DEFAULT_QUEUE) -> None:
        from redis import Redis
        from rq import Queue

        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(name, connection=self.connection)

    def enqueue(
        self,
        func: Callable[..., Any],
        *args: Any,
        at: datetime | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        from rq import Retry

        options: dict[str, Any] = {
            "job_id": job_id,
            "retry": Retry(max=5, interval=[10, 30, 60, 300, 900]),
            "failure_ttl": int(timedelta(days=7).total_seconds()),
        }
        if job_id is not None:
            self.cancel(job_id)
        if at is not None and at > utcnow():
            job = self.queue.enqueue_at(at, func, args=args, kwargs=kwargs, **options)
        else:
            job = self.queue.enqueue(func, args=args, kwargs=kwargs, **options)
        return str(job.id)

    def cancel(self, job_id: str) -> None:
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return
        job.cancel()
        job.delete()


def create_job_queue(redis_url: str) -> JobQueue:
    """rq when ``redis_url`` is set, else the in-process queue."""
    if redis_url:
        return RQQueue(redis_url)
    return InProcessQueue()
