"""Telling a sender that outbox rows exist, after the transaction that wrote them
commits; and the two senders.

Rows are noted on the session while it writes them; once it commits
(:class:`consult.handoff.CommitHandOff`) their ids go to the process's
:class:`Dispatcher`. If the hand-over fails (Redis down) the rows wait in the
database for the sweep.

- :class:`RQDispatcher` enqueues :func:`notifications.delivery.deliver` jobs
  (at the message's due time, through rq's scheduler for later ones).
- :class:`InProcessScheduler` is one daemon thread: it sleeps until the earliest
  due row (or ``sweep_seconds``, or a commit wakes it), then sends everything due.
  It keeps nothing in memory, so thousands of reminders cost nothing until due.
- :class:`WorkerSweeper` runs in ``consult worker`` beside rq: every
  ``sweep_seconds`` it sends the rows whose job was lost
  (:func:`notifications.delivery.sweep`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from consult.db import Database, utcnow
from consult.handoff import CommitHandOff
from consult.jobs import JobQueue

log = logging.getLogger(__name__)

DueItem = tuple[int, datetime]


class Dispatcher(Protocol):
    """Gets committed outbox rows (id, due time) to a sender. Must not raise."""

    @property
    def backend(self) -> str: ...

    def dispatch(self, items: Sequence[DueItem]) -> None: ...


_current: Dispatcher | None = None
_current_lock = threading.Lock()


def set_dispatcher(dispatcher: Dispatcher | None) -> Dispatcher | None:
    """Make ``dispatcher`` the process's; return (and stop, if it has threads) the
    previous one. The last app or worker started in a process wins."""
    global _current
    with _current_lock:
        previous, _current = _current, dispatcher
    if previous is not None and previous is not dispatcher:
        stop = getattr(previous, "stop", None)
        if stop is not None:
            stop()
    return previous


def get_dispatcher() -> Dispatcher | None:
    return _current


def release(dispatcher: Dispatcher) -> None:
    """Stop ``dispatcher`` (its thread, if any) and, if it is still the process's,
    leave the process without one (rows then wait for the next start's sweep)."""
    global _current
    with _current_lock:
        if _current is dispatcher:
            _current = None
    stop = getattr(dispatcher, "stop", None)
    if stop is not None:
        stop()


def note_pending(session: Session, outbox_id: int, due: datetime) -> None:
    """Remember that ``session`` wrote outbox row ``outbox_id``, due at ``due``."""
    _handoff.note(session, (outbox_id, due))


def _dispatch(items: Sequence[DueItem]) -> None:
    dispatcher = _current
    if dispatcher is not None:
        dispatcher.dispatch(items)


_handoff = CommitHandOff[DueItem]("notifications", _dispatch)


def listen() -> None:
    """Install the session listeners (idempotent)."""
    _handoff.listen()


# --- rq -------------------------------------------------------------------------------


class RQDispatcher:
    """Enqueues one delivery job per message on the platform's job queue."""

    backend = "rq"

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def dispatch(self, items: Sequence[DueItem]) -> None:
        from notifications.delivery import deliver

        soon = utcnow() + timedelta(seconds=1)
        for index, (outbox_id, due) in enumerate(items):
            try:
                # The id goes as a keyword: consult.jobs.RQQueue hands positional
                # arguments to rq together with kwargs=, which rq refuses.
                self.jobs.enqueue(deliver, at=due if due > soon else None, outbox_id=outbox_id)
            except Exception as error:
                # Typically Redis is unreachable: the others would fail the same way.
                log.warning(
                    "could not enqueue %d notification(s) (%s); the sweep will send them",
                    len(items) - index,
                    error,
                )
                return


# --- in-process ----------------------------------------------------------------------


class _Loop:
    """A daemon thread that runs ``step`` and then sleeps for what it returns (at
    most ``interval`` seconds), or until :meth:`wake`."""

    def __init__(self, name: str, step: Callable[[], float], interval: float) -> None:
        self._step = step
        self._interval = interval
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._failing = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                delay = min(self._interval, max(0.0, self._step()))
                if self._failing:
                    log.info("%s recovered", self.thread.name)
                self._failing = False
            except Exception:
                # Database down, say: log once per outage, keep trying.
                if not self._failing:
                    log.exception("%s failed; retrying every %ss", self.thread.name, self._interval)
                self._failing = True
                delay = self._interval
            self._wake.wait(delay)


class InProcessScheduler:
    """Sends due messages from a thread inside the app process (no Redis).

    ``send_due(now)`` sends what is due and returns when the next row falls due
    (or None); the thread sleeps until then, at most ``sweep_seconds``.
    """

    backend = "in-process"

    def __init__(
        self,
        send_due: Callable[[datetime], datetime | None],
        sweep_seconds: float,
    ) -> None:
        self._send_due = send_due
        self._loop = _Loop("notifications-scheduler", self._step, sweep_seconds)

    def _step(self) -> float:
        upcoming = self._send_due(utcnow())
        if upcoming is None:
            return float("inf")
        return (upcoming - utcnow()).total_seconds()

    def start(self) -> InProcessScheduler:
        self._loop.start()
        return self

    def dispatch(self, items: Sequence[DueItem]) -> None:
        self._loop.wake()

    def stop(self) -> None:
        self._loop.stop()

    @property
    def thread(self) -> threading.Thread:
        return self._loop.thread


class WorkerSweeper:
    """Sends lost messages every ``sweep_seconds`` from ``consult worker``."""

    def __init__(self, sweep: Callable[[datetime], Any], sweep_seconds: float) -> None:
        self._sweep = sweep
        self._loop = _Loop("notifications-sweep", self._step, sweep_seconds)

    def _step(self) -> float:
        self._sweep(utcnow())
        return float("inf")

    def start(self) -> WorkerSweeper:
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()


def worker_database(url: str) -> Database:
    """A :class:`Database` for a worker's own background thread, outside the
    process-wide cache: rq forks a process per job, and a forked job must not
    inherit pooled connections that this thread is using."""
    from sqlalchemy.pool import NullPool

    database = Database(url, pool_size=1)
    if not database.is_sqlite:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        database.engine.dispose()
        database.engine = create_engine(url, poolclass=NullPool)
        database.sessionmaker = sessionmaker(database.engine, expire_on_commit=False)
        database.read_sessionmaker = database.sessionmaker
    return database
