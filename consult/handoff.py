"""Work a transaction records, handed over once it commits.

A booking writes rows that something else must act on (an email to send, a push to
an outside calendar, a hold to expire). The rows commit with the booking; the
nudge to act on them (an rq job, a thread's wake-up) must only go out after that
commit, and never for a transaction that rolled back.

Writers :func:`note` items on the session under a key while they write; a
:class:`CommitHandOff` listening on the platform's database for that key hands
them over after the outermost commit, and forgets them on a rollback. Hand-over
never fails the caller (the commit has happened): what it loses, each package's
sweep finds in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from consult.db import Database

log = logging.getLogger(__name__)

Item = TypeVar("Item")


def note(session: Session, key: str, item: Any) -> None:
    """Remember ``item`` under ``key`` until ``session``'s transaction ends."""
    session.info.setdefault(key, []).append(item)


class CommitHandOff(Generic[Item]):
    """Items noted under ``key`` on a database's sessions, given to ``hand_over``
    after their outermost commit. ``key`` also names them in the log."""

    def __init__(self, key: str, hand_over: Callable[[Sequence[Item]], None]) -> None:
        self.key = key
        self.hand_over = hand_over

    def listen(self, database: Database) -> CommitHandOff[Item]:
        """Listen on the sessions ``database`` makes (and only those)."""
        database.listen("after_commit", self._after_commit)
        database.listen("after_rollback", self._after_rollback)
        return self

    def _after_commit(self, session: Session) -> None:
        # SQLAlchemy also fires this when a SAVEPOINT is released; only the outermost
        # commit makes the rows visible to anyone else.
        if session.get_nested_transaction() is not None:
            return
        items = session.info.pop(self.key, None)
        if not items:
            return
        try:
            self.hand_over(items)
        except Exception:  # the commit stands; the sweep finds the rows
            log.exception("handing over %d %s failed; a sweep will do them", len(items), self.key)

    def _after_rollback(self, session: Session) -> None:
        # A rolled-back SAVEPOINT leaves the outer transaction's items. (Ids noted
        # inside it stay in the list: whoever gets them finds no such row.)
        if session.get_nested_transaction() is None:
            session.info.pop(self.key, None)
