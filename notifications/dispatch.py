"""Telling a sender that outbox rows exist, after the transaction that wrote them
commits.

Rows are noted on the session while it writes them
(:func:`notifications.service.note_pending`); once it commits
(:class:`consult.handoff.CommitHandOff`) their ids go to the platform's
:class:`Dispatcher`. If the hand-over fails (Redis down) the rows wait in the
database for the sweep.

- :class:`RQDispatcher` enqueues the rows due now as batch jobs (one SMTP
  connection each) and each later row as its own job at its due time, through rq's
  scheduler.
- :class:`InProcessScheduler` is one thread (a :class:`consult.periodic.Periodic`):
  it sleeps until the earliest due row (or ``sweep_seconds``, or a commit wakes
  it), then sends everything due. It keeps nothing in memory, so thousands of
  reminders cost nothing until due.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from consult.db import utcnow
from consult.jobs import JobQueue
from consult.periodic import Periodic
from consult.services import Port

log = logging.getLogger(__name__)

DueItem = tuple[int, datetime]


class Dispatcher(Protocol):
    """Gets committed outbox rows (id, due time) to a sender. Must not raise."""

    @property
    def backend(self) -> str: ...

    def dispatch(self, items: Sequence[DueItem]) -> None: ...


DISPATCHER: Port[Dispatcher] = Port("notifications.dispatcher")


class RQDispatcher:
    """Enqueues the messages due now as ``batch_job(platform, outbox_ids=[...])``,
    ``batch_size`` a job (one mail connection, one job start), and each later one as
    ``job(platform, outbox_id=...)`` at its time."""

    backend = "rq"

    def __init__(
        self,
        jobs: JobQueue,
        job: Callable[..., Any],
        batch_job: Callable[..., Any],
        batch_size: int,
    ) -> None:
        self.jobs = jobs
        self.job = job
        self.batch_job = batch_job
        self.batch_size = batch_size

    def dispatch(self, items: Sequence[DueItem]) -> None:
        soon = utcnow() + timedelta(seconds=1)
        now_ids = [outbox_id for outbox_id, due in items if due <= soon]
        later = [(outbox_id, due) for outbox_id, due in items if due > soon]
        batches = [
            now_ids[start : start + self.batch_size]
            for start in range(0, len(now_ids), self.batch_size)
        ]
        left = len(items)
        try:
            for batch in batches:
                self.jobs.enqueue(self.batch_job, outbox_ids=batch)
                left -= len(batch)
            for outbox_id, due in later:
                self.jobs.enqueue(self.job, at=due, outbox_id=outbox_id)
                left -= 1
        except Exception as error:
            # Typically Redis is unreachable: the others would fail the same way.
            log.warning(
                "could not enqueue %d notification(s) (%s); the sweep will send them",
                left,
                error,
            )


class InProcessScheduler:
    """Sends due messages from a thread inside the app process (no Redis).

    ``send_due(now)`` sends what is due and returns when the next row falls due
    (or None); the thread sleeps until then, at most ``sweep_seconds``.
    """

    backend = "in-process"

    def __init__(
        self, send_due: Callable[[datetime], datetime | None], sweep_seconds: float
    ) -> None:
        self._send_due = send_due
        self.loop = Periodic("notifications-scheduler", self._step, sweep_seconds)

    def _step(self) -> float:
        upcoming = self._send_due(utcnow())
        if upcoming is None:
            return float("inf")
        return (upcoming - utcnow()).total_seconds()

    def dispatch(self, items: Sequence[DueItem]) -> None:
        self.loop.wake()


class NoDispatcher:
    """For processes that send nothing themselves (a CLI command without Redis): the
    rows wait in the database for the next sender's sweep."""

    backend = "none"

    def dispatch(self, items: Sequence[DueItem]) -> None:
        return None
