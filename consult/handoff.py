"""Work a transaction records, handed over once it commits.

A booking writes rows that something else must act on (an email to send, a push to
an outside calendar, a hold to expire). The rows commit with the booking; the
nudge to act on them (an rq job, a thread's wake-up) must only go out after that
commit, and never for a transaction that rolled back. Items are noted on the
session while it writes; the outermost commit hands them over, a rollback forgets
them. Hand-over never fails the caller (the commit has happened): what it loses,
each package's sweep finds in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class CommitHandOff(Generic[Item]):
    """Items noted on a session, given to ``hand_over`` after its outermost commit.

    ``name`` keys them in ``session.info`` and names them in the log when
    ``hand_over`` raises.
    """

    def __init__(self, name: str, hand_over: Callable[[Sequence[Item]], None]) -> None:
        self.name = name
        self.hand_over = hand_over
        self._listening = False

    def note(self, session: Session, item: Item) -> None:
        session.info.setdefault(self.name, []).append(item)

    def listen(self) -> None:
        """Install the session listeners (idempotent)."""
        if not self._listening:
            event.listen(Session, "after_commit", self._after_commit)
            event.listen(Session, "after_rollback", self._after_rollback)
            self._listening = True

    def _after_commit(self, session: Session) -> None:
        # SQLAlchemy also fires this when a SAVEPOINT is released; only the outermost
        # commit makes the rows visible to anyone else.
        if session.get_nested_transaction() is not None:
            return
        items = session.info.pop(self.name, None)
        if not items:
            return
        try:
            self.hand_over(items)
        except Exception:  # the commit stands; the sweep finds the rows
            log.exception("handing over %d %s failed; a sweep will do them", len(items), self.name)

    def _after_rollback(self, session: Session) -> None:
        # A rolled-back SAVEPOINT leaves the outer transaction's items. (Ids noted
        # inside it stay in the list: whoever gets them finds no such row.)
        if session.get_nested_transaction() is None:
            session.info.pop(self.name, None)
