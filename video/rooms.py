"""Rooms and access: who may join a booking's video room, and when.

A room is a one-on-one booking seen from the video side; its id is the booking
id. Access is decided here, by the app, before any join token is issued: only
the booking's client and professional get one, and only while the room is open.
The window arithmetic is pure (:func:`room_window`); :func:`check_room_access`
adds the database look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from accounts.models import User
from booking.bookings import get_booking_for
from booking.errors import BookingNotFound
from booking.models import Booking
from video.errors import RoomClosed, RoomNotFound, RoomNotOpen

Role = Literal["client", "professional"]
WindowState = Literal["not_open", "open", "closed"]
# (open_before, close_after) from the settings.
WindowArgs = tuple[timedelta, timedelta]


@dataclass(frozen=True)
class RoomWindow:
    """When a room admits people: ``opens_at`` <= now < ``closes_at``."""

    opens_at: datetime
    closes_at: datetime

    def state(self, now: datetime) -> WindowState:
        """Where ``now`` (aware) falls relative to the window."""
        if now < self.opens_at:
            return "not_open"
        if now >= self.closes_at:
            return "closed"
        return "open"


def room_window(
    start: datetime, end: datetime, open_before: timedelta, close_after: timedelta
) -> RoomWindow:
    """The window of a booking from ``start`` to ``end`` (aware datetimes)."""
    return RoomWindow(start - open_before, end + close_after)


@dataclass(frozen=True)
class RoomAccess:
    """A person's admission to a room: their role, the other person, the window."""

    booking: Booking
    user: User
    role: Role
    other: User
    window: RoomWindow

    @property
    def booking_id(self) -> int:
        return self.booking.id

    @property
    def role_of_other(self) -> Role:
        return "client" if self.role == "professional" else "professional"


def find_room(session: Session, user: User, booking_id: int, window_of: WindowArgs) -> RoomAccess:
    """The room of ``booking_id`` as ``user`` sees it, whatever the time.

    Raises :class:`RoomNotFound` unless ``user`` is the booking's client or
    professional and the booking is one-on-one (group classes have no 1-1 room);
    the same error for a booking that does not exist, so ids cannot be probed.
    """
    try:
        booking = get_booking_for(session, user, booking_id)
    except BookingNotFound as error:
        raise RoomNotFound() from error
    if booking.is_group:
        raise RoomNotFound("Group classes do not have a one-on-one video room.")
    role: Role = "professional" if user.id == booking.professional_id else "client"
    other_id = booking.client_id if role == "professional" else booking.professional_id
    other = session.get(User, other_id)
    if other is None:
        raise RoomNotFound()
    window = room_window(booking.start, booking.end, *window_of)
    return RoomAccess(booking, user, role, other, window)


def check_room_access(
    session: Session, user: User, booking_id: int, now: datetime, window_of: WindowArgs
) -> RoomAccess:
    """Like :func:`find_room`, and the room must be open at ``now``.

    Raises :class:`RoomNotOpen` (with ``opens_at``) before the window,
    :class:`RoomClosed` after it or when the booking is no longer active.
    """
    access = find_room(session, user, booking_id, window_of)
    if access.booking.status == "held":
        raise RoomClosed("This booking is not paid yet, so its video room is closed.")
    if not access.booking.is_active:
        raise RoomClosed("This booking was cancelled, so its video room is closed.")
    state = access.window.state(now)
    if state == "not_open":
        raise RoomNotOpen(access.window.opens_at)
    if state == "closed":
        raise RoomClosed()
    return access
