"""Payment work noted on the session that recorded it, for after it commits.

Work is noted while it is recorded (a hold's expiry, a refund to send, an intent to
cancel) and handed, once the transaction commits
(:class:`consult.handoff.CommitHandOff`), to the platform's
:class:`payments.tasks.QueueRunner`. The sweep (:func:`payments.holds.sweep`)
finds whatever a lost hand-over left in the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from consult.handoff import note as note_on_session

WorkKind = Literal["expire", "refund", "cancel"]
Work = tuple[WorkKind, int, datetime | None]

# Where a session keeps the payment work it recorded until it commits.
WORK_KEY = "payments.work"


def note(session: Session, kind: WorkKind, row_id: int, at: datetime | None = None) -> None:
    """Remember that ``session`` recorded work ``kind`` for row ``row_id``, due at ``at``."""
    note_on_session(session, WORK_KEY, (kind, row_id, at))
