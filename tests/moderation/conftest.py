"""Operators and what they act on: an operator account, and sessions booked through
the API (past ones to review or mark as no-shows, future ones for a suspension to
cancel)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from consult.db import Database
from tests.factories import session_booker


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the outbox rows stay for the assertions."""
    return {"notifications": {"sweep_seconds": "0"}}


@pytest.fixture
def book_session(client: Any, database: Database, make_user: Any) -> Any:
    """See :func:`tests.factories.session_booker`."""
    return session_booker(client, database, make_user)


@pytest.fixture
def make_operator(database: Database, make_user: Any) -> Any:
    """``make_operator()`` → an account with the operator role and no other (the role
    set in the database, as ``consult admin create-operator`` does)."""

    def factory(email: str | None = None) -> Any:
        user = make_user(role="client", email=email, name="Olga Operator")
        with database.session() as session:
            account = session.get(User, user.id)
            assert account is not None
            account.is_operator, account.is_client = True, False
        user.is_operator, user.is_client = True, False
        return user

    return factory
