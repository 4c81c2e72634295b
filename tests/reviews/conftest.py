"""A session that took place: a professional, a client and a one-on-one booking made
through the API, then moved into the past in the database (bookings cannot be made
there, and the review rules depend only on the times and the status)."""

from __future__ import annotations

from typing import Any

import pytest

from consult.db import Database
from tests.factories import session_booker


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the outbox rows stay for the assertions."""
    return {"notifications": {"sweep_seconds": "0"}}


@pytest.fixture
def book_session(client: Any, database: Database, make_user: Any) -> Any:
    """``book_session(ended=timedelta(hours=2), name="Maria Lopez")`` → a Meeting whose
    booking ended that long ago (``None``: left in the future); see
    :func:`tests.factories.session_booker`."""
    return session_booker(client, database, make_user)
