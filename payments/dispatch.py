"""Handing payment work to a runner after the transaction that recorded it commits.

Work is noted on the session while it is recorded (a hold's expiry, a refund to
send, an intent to cancel) and handed, once the transaction commits
(:class:`consult.handoff.CommitHandOff`), to the process's :class:`Runner`,
normally :class:`QueueRunner` on the platform's job queue. The sweep
(:func:`payments.holds.sweep`) finds whatever a lost hand-over left in the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.orm import Session

from consult.handoff import CommitHandOff
from consult.jobs import JobQueue

log = logging.getLogger(__name__)

WorkKind = Literal["expire", "refund", "cancel"]
Work = tuple[WorkKind, int, datetime | None]


class Runner(Protocol):
    """Runs committed payment work (kind, id, not before). Must not raise."""

    def run(self, items: Sequence[Work]) -> None: ...


def note(session: Session, kind: WorkKind, row_id: int, at: datetime | None = None) -> None:
    """Remember that ``session`` recorded work ``kind`` for row ``row_id``, due at ``at``."""
    _handoff.note(session, (kind, row_id, at))


_current: Runner | None = None
_lock = threading.Lock()


def set_runner(runner: Runner | None) -> None:
    """Make ``runner`` the process's (the last app started in a process wins)."""
    global _current
    with _lock:
        _current = runner


def get_runner() -> Runner | None:
    return _current


def release(runner: Runner) -> None:
    """Forget ``runner`` if it is still the process's (its app shut down)."""
    global _current
    with _lock:
        if _current is runner:
            _current = None


def _run(items: Sequence[Work]) -> None:
    runner = _current
    if runner is not None:
        runner.run(items)


_handoff = CommitHandOff[Work]("payment jobs", _run)


def listen() -> None:
    """Install the session listeners (idempotent)."""
    _handoff.listen()


class QueueRunner:
    """Enqueues one job per piece of work on the platform's job queue: holds expire at
    their time (rq's scheduler, or a timer in the app), refunds and cancellations now."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def run(self, items: Sequence[Work]) -> None:
        from payments import tasks

        for kind, row_id, at in items:
            try:
                # Ids go as keywords: consult.jobs.RQQueue cannot pass positional
                # arguments together with keyword ones.
                if kind == "expire":
                    self.jobs.enqueue(
                        tasks.expire_hold,
                        at=at,
                        job_id=f"payments-expire-{row_id}",
                        payment_id=row_id,
                    )
                elif kind == "refund":
                    self.jobs.enqueue(tasks.send_refund, refund_id=row_id)
                else:
                    self.jobs.enqueue(tasks.cancel_intent, payment_id=row_id)
            except Exception as error:  # Redis down, typically: the sweep takes over
                log.warning("could not enqueue payment job %s %s: %s", kind, row_id, error)
