"""Fixtures for video tests: a professional, a client and a one-on-one booking at
any time we like (inserted directly, since the booking flow refuses the past),
join tokens through the real API, and aiortc participants."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from booking.models import Booking
from consult.db import Database, utcnow
from tests.factories import bearer, setup_professional


@dataclass
class Room:
    """A booking's room and the two people in it, with API headers for each."""

    booking_id: int
    pro: Any
    client: Any
    pro_headers: dict[str, str]
    client_headers: dict[str, str]
    service_id: int


def insert_booking(
    database: Database,
    *,
    service_id: int,
    professional_id: int,
    client_id: int,
    start: datetime,
    minutes: int = 50,
    status: str = "confirmed",
) -> int:
    """A one-on-one booking row at ``start`` (aware), bypassing the slot rules."""
    with database.session() as session:
        booking = Booking(
            service_id=service_id,
            professional_id=professional_id,
            client_id=client_id,
            start=start,
            end=start + timedelta(minutes=minutes),
            status=status,
            event_uid=f"test-{secrets.token_hex(6)}",
            event_href=f"test-{secrets.token_hex(6)}.ics",
        )
        session.add(booking)
        session.flush()
        return booking.id


@pytest.fixture
def make_room(client: Any, database: Database, make_user: Any) -> Callable[..., Room]:
    """``make_room(starts_in=timedelta(minutes=2))``: a professional, a client and their
    booking starting ``starts_in`` from now (negative: already started)."""

    def factory(starts_in: timedelta = timedelta(minutes=2), status: str = "confirmed") -> Room:
        pro, pro_headers, service = setup_professional(
            client, database, make_user, zone="Europe/Berlin"
        )
        sam = make_user(role="client", name="Sam Client", timezone="America/New_York")
        booking_id = insert_booking(
            database,
            service_id=service["id"],
            professional_id=pro.id,
            client_id=sam.id,
            start=utcnow() + starts_in,
            status=status,
        )
        return Room(booking_id, pro, sam, pro_headers, bearer(database, sam), service["id"])

    return factory


def join_token(base_url: str, room: Room, role: str) -> dict[str, Any]:
    """POST /api/v1/bookings/<id>/video/join over HTTP as the client or professional."""
    headers = room.pro_headers if role == "professional" else room.client_headers
    response = requests.post(
        f"{base_url}/api/v1/bookings/{room.booking_id}/video/join", headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def ws_url(base_url: str, booking_id: int) -> str:
    """The room's WebSocket URL on the server at ``base_url``."""
    return base_url.replace("http://", "ws://") + f"/ws/rooms/{booking_id}"
