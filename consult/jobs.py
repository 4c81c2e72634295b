"""Background jobs behind one small port: rq on Redis in production, a thread
pool inside the app process when no Redis is configured (the embedded default).

Jobs are module-level functions ``job(platform, **ids)``: they are handed the
platform of the process that runs them (its settings, database and services),
open their own database session, and must be idempotent, because rq retries them.
Arguments are keywords only (they read clearly in rq's job listings).

In ``consult worker`` the platform reaches the job through :class:`PlatformWorker`
and :class:`PlatformJob`; in the app, :class:`InProcessQueue` passes it itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Protocol

from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from consult.db import utcnow
from consult.logs import LogContext, current_context, log_context

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"


class JobQueue(Protocol):
    """Runs ``func(platform, **kwargs)`` soon, or at ``at``."""

    def enqueue(
        self,
        func: Callable[..., Any],
        *,
        at: datetime | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str | None: ...

    def cancel(self, job_id: str) -> None: ...

    @property
    def backend(self) -> str: ...

    def stats(self) -> dict[str, int]:
        """Jobs ``queued`` (to run now), ``scheduled`` (later) and ``failed`` (kept
        for inspection), for metrics."""
        ...

    def shutdown(self) -> None: ...


class InProcessQueue:
    """Runs jobs on a small thread pool; timed jobs wait on ``threading.Timer``s.

    ``platform`` is what every job is handed. Timers live only as long as the
    process: whatever must survive a restart (emails, reminders) is also recorded
    in the database by its owner and found again by a sweep.
    """

    backend = "in-process"

    def __init__(self, platform: Any, workers: int = 4) -> None:
        self._platform = platform
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._queued = 0
        self._failed = 0

    def enqueue(
        self,
        func: Callable[..., Any],
        *,
        at: datetime | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        delay = (at - utcnow()).total_seconds() if at is not None else 0.0
        context = current_context()
        if delay <= 0:
            self._count_queued(1)
            self._executor.submit(self._run, func, kwargs, context)
            return job_id
        timer = threading.Timer(delay, self._submit, (func, kwargs, context))
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

    def _submit(
        self, func: Callable[..., Any], kwargs: dict[str, Any], context: LogContext
    ) -> None:
        self._count_queued(1)
        try:
            self._executor.submit(self._run, func, kwargs, context)
        except RuntimeError:  # shut down meanwhile
            self._count_queued(-1)

    def _run(self, func: Callable[..., Any], kwargs: dict[str, Any], context: LogContext) -> None:
        # The job's log lines name the request that enqueued it.
        with log_context(LogContext(request_id=context.request_id, user_id=context.user_id)):
            try:
                func(self._platform, **kwargs)
            except Exception:
                with self._lock:
                    self._failed += 1
                log.exception("background job %s failed", getattr(func, "__name__", func))
            finally:
                self._count_queued(-1)

    def _count_queued(self, change: int) -> None:
        with self._lock:
            self._queued += change

    def stats(self) -> dict[str, int]:
        with self._lock:
            # Timers that fired are done: forget them (they were kept for cancel()).
            self._timers = {key: timer for key, timer in self._timers.items() if timer.is_alive()}
            return {"queued": self._queued, "scheduled": len(self._timers), "failed": self._failed}

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
        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(name, connection=self.connection, job_class=PlatformJob)

    def enqueue(
        self,
        func: Callable[..., Any],
        *,
        at: datetime | None = None,
        job_id: str | None = None,
        **kwargs: Any,
    ) -> str | None:
        options: dict[str, Any] = {
            "job_id": job_id,
            # The job's log lines name the request that enqueued it.
            "meta": {"request_id": current_context().request_id},
            "retry": Retry(max=5, interval=[10, 30, 60, 300, 900]),
            "failure_ttl": int(timedelta(days=7).total_seconds()),
        }
        if job_id is not None:
            self.cancel(job_id)
        if at is not None and at > utcnow():
            job = self.queue.enqueue_at(at, func, kwargs=kwargs, **options)
        else:
            job = self.queue.enqueue(func, kwargs=kwargs, **options)
        return str(job.id)

    def cancel(self, job_id: str) -> None:
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return
        job.cancel()
        job.delete()

    def stats(self) -> dict[str, int]:
        return {
            "queued": self.queue.count,
            "scheduled": self.queue.scheduled_job_registry.count,
            "failed": self.queue.failed_job_registry.count,
        }

    def shutdown(self) -> None:
        self.connection.close()

    def worker(
        self, names: tuple[str, ...], platform: Any, *, forking: bool = True
    ) -> PlatformWorker | PlatformSimpleWorker:
        """A worker on the queues ``names`` of this Redis, handing jobs ``platform``:
        rq's forking worker (a process per job), or with ``forking=False`` one that
        runs jobs in its own process."""
        queues = [Queue(name, connection=self.connection, job_class=PlatformJob) for name in names]
        worker_class = PlatformWorker if forking else PlatformSimpleWorker
        return worker_class(queues, connection=self.connection, platform=platform)


def create_job_queue(redis_url: str, platform: Any) -> JobQueue:
    """rq when ``redis_url`` is set, else the in-process queue handing ``platform``."""
    if redis_url:
        return RQQueue(redis_url)
    return InProcessQueue(platform)


class PlatformJob(Job):
    """An rq job whose function is called with the worker's platform first."""

    platform: Any = None

    def _execute(self) -> Any:
        # rq's Job._execute calls func(*args, **kwargs); ours hands the platform too.
        if self.platform is None:
            raise RuntimeError("a platform job must run in a PlatformWorker")
        if not self.func:
            raise ValueError("Cannot execute job: function is None")
        with log_context(LogContext(request_id=str(self.meta.get("request_id") or self.id))):
            return self.func(self.platform, *self.args, **self.kwargs)


class _HandsPlatform:
    """Mixin for rq workers: hand ``platform`` to every job performed."""

    platform: Any

    def perform_job(self, job: Job, queue: Queue, execution: Any) -> bool:
        if isinstance(job, PlatformJob):
            job.platform = self.platform
        return bool(super().perform_job(job, queue, execution))  # type: ignore[misc]


class PlatformWorker(_HandsPlatform, Worker):
    """rq's forking worker, handing ``platform`` to every job it performs."""

    def __init__(self, *args: Any, platform: Any, **kwargs: Any) -> None:
        kwargs.setdefault("job_class", PlatformJob)
        super().__init__(*args, **kwargs)
        self.platform = platform


class PlatformSimpleWorker(_HandsPlatform, SimpleWorker):
    """rq's in-process worker, handing ``platform`` to every job it performs."""

    def __init__(self, *args: Any, platform: Any, **kwargs: Any) -> None:
        kwargs.setdefault("job_class", PlatformJob)
        super().__init__(*args, **kwargs)
        self.platform = platform
