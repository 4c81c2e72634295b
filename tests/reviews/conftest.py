"""A session that took place: a professional, a client and a one-on-one booking made
through the API, then moved into the past in the database (bookings cannot be made
there, and the review rules depend only on the times and the status)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from consult.db import Database, utcnow
from tests.factories import at, iso, move_booking, next_weekday, setup_professional
from tests.helpers import bearer


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the outbox rows stay for the assertions."""
    return {"notifications": {"sweep_seconds": "0"}}


@dataclass
class Meeting:
    professional: Any
    pro_headers: dict[str, str]
    client_user: Any
    client_headers: dict[str, str]
    service: dict[str, Any]
    booking_id: int


@pytest.fixture
def book_session(client: Any, database: Database, make_user: Any) -> Any:
    """``book_session(ended=timedelta(hours=2), name="Maria Lopez")`` → a Meeting whose
    booking ended that long ago (``None``: left in the future)."""
    pro, pro_headers, service = setup_professional(client, database, make_user)
    # 09:00 is on the service's grid every working day (later hours depend on its length).
    starts = iter(
        at(next_weekday(weekday, weeks_ahead=week), "09:00")
        for week in range(1, 9)
        for weekday in range(5)
    )

    def factory(ended: timedelta | None = timedelta(hours=2), name: str = "Maria Lopez") -> Meeting:
        customer = make_user(role="client", name=name)
        headers = bearer(database, customer)
        start = next(starts)
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": iso(start)},
            headers=headers,
        )
        assert response.status_code == 201, response.get_json()
        booking_id = response.get_json()["id"]
        if ended is not None:
            move_booking(database, booking_id, utcnow() - ended)
        return Meeting(pro, pro_headers, customer, headers, service, booking_id)

    return factory
