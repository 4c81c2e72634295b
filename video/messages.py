"""Messaging between a booking's client and professional: one thread per booking,
usable before, during and after the session.

Text only. Bodies are stored as typed (minus control characters) and escaped
whenever they are shown; :func:`render_body` makes http(s) links clickable with
``rel="noopener nofollow"`` and nothing else. Services take the session and the
acting user, check that the user belongs to the booking, and never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.bookings import get_booking_for
from booking.errors import BookingNotFound
from booking.models import Booking
from video.errors import InvalidMessage, RoomNotFound
from video.models import Message, MessageRead

PAGE_SIZE = 100
# Control characters other than tab and newline would only hide or garble text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Only absolute http(s) URLs become links; anything else (javascript:, data:) stays text.
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def thread_booking(session: Session, user: User, booking_id: int) -> Booking:
    """The booking whose thread ``user`` may read and write: they are its client or
    professional. Otherwise :class:`RoomNotFound` (same answer as no such booking)."""
    try:
        return get_booking_for(session, user, booking_id)
    except BookingNotFound as error:
        raise RoomNotFound("There is no conversation for you here.") from error


def clean_body(text: object, max_length: int) -> str:
    """The message text to store, or :class:`InvalidMessage` when it is not a string,
    empty after trimming, or longer than ``max_length`` characters."""
    if not isinstance(text, str):
        raise InvalidMessage({"body": "Must be text."})
    body = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not body:
        raise InvalidMessage({"body": "Write a message first."})
    if len(body) > max_length:
        raise InvalidMessage({"body": f"Use at most {max_length} characters."})
    return body


def post_message(
    session: Session,
    sender: User,
    booking: Booking,
    text: object,
    *,
    now: datetime,
    max_length: int,
) -> Message:
    """Add a message from ``sender`` (assumed a participant, see :func:`thread_booking`)
    and mark the thread read for them up to it. Returns the flushed message."""
    message = Message(
        booking_id=booking.id,
        sender_id=sender.id,
        body=clean_body(text, max_length),
        created_at=now,
    )
    session.add(message)
    session.flush()
    mark_read(session, sender, booking, message.id)
    return message


def list_messages(
    session: Session, booking: Booking, *, after_id: int = 0, limit: int = PAGE_SIZE
) -> list[Message]:
    """Messages of ``booking`` with id > ``after_id``, oldest first, at most ``limit``."""
    query = (
        select(Message)
        .where(Message.booking_id == booking.id, Message.id > after_id)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def latest_messages(session: Session, booking: Booking, limit: int = PAGE_SIZE) -> list[Message]:
    """The newest ``limit`` messages of ``booking``, oldest first (for a page's history)."""
    query = (
        select(Message)
        .where(Message.booking_id == booking.id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return list(reversed(list(session.scalars(query))))


def mark_read(session: Session, user: User, booking: Booking, up_to_id: int | None = None) -> int:
    """Record that ``user`` has read ``booking``'s thread up to ``up_to_id`` (default:
    the latest message). Never moves backwards. Returns the new last-read id."""
    if up_to_id is None:
        up_to_id = (
            session.scalar(select(func.max(Message.id)).where(Message.booking_id == booking.id))
            or 0
        )
    state = session.get(MessageRead, (booking.id, user.id))
    if state is None:
        state = MessageRead(booking_id=booking.id, user_id=user.id, last_read_id=0)
        session.add(state)
    state.last_read_id = max(state.last_read_id or 0, up_to_id)
    session.flush()
    return state.last_read_id


def unread_counts(session: Session, user: User) -> dict[int, int]:
    """{booking id: messages from the other person that ``user`` has not read}, only
    for threads with something unread."""
    read = MessageRead.__table__
    query = (
        select(Message.booking_id, func.count(Message.id))
        .join(Booking, Booking.id == Message.booking_id)
        .outerjoin(read, and_(read.c.booking_id == Message.booking_id, read.c.user_id == user.id))
        .where(
            or_(Booking.client_id == user.id, Booking.professional_id == user.id),
            Message.sender_id != user.id,
            Message.id > func.coalesce(read.c.last_read_id, 0),
        )
        .group_by(Message.booking_id)
    )
    return {int(booking_id): int(count) for booking_id, count in session.execute(query)}


def unread_in(session: Session, user: User, booking: Booking) -> int:
    """Unread messages from the other person in ``booking``'s thread."""
    state = session.get(MessageRead, (booking.id, user.id))
    last = state.last_read_id if state else 0
    count = session.scalar(
        select(func.count(Message.id)).where(
            Message.booking_id == booking.id, Message.sender_id != user.id, Message.id > last
        )
    )
    return int(count or 0)


def render_body(body: str) -> Markup:
    """``body`` as safe HTML: everything escaped, http(s) URLs as links that open in a
    new tab without access to this page (noopener) and pass no ranking (nofollow)."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(body):
        url = match.group(0)
        stripped = url.rstrip(_TRAILING)
        # A closing parenthesis belongs to the URL only when it also opened one in it.
        while (
            stripped != url
            and url[len(stripped)] == ")"
            and stripped.count("(") > stripped.count(")")
        ):
            stripped += ")"
        end = match.start() + len(stripped)
        parts.append(str(escape(body[position : match.start()])))
        href = escape(stripped)
        parts.append(
            f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{href}</a>'
        )
        position = end
    parts.append(str(escape(body[position:])))
    return Markup("".join(parts))


@dataclass(frozen=True)
class MessageView:
    """A message as pages and the API show it."""

    id: int
    booking_id: int
    sender_id: int
    sender_name: str
    body: str
    html: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "booking_id": self.booking_id,
            "sender_id": self.sender_id,
            "sender_name": self.sender_name,
            "body": self.body,
            "html": self.html,
            "created_at": self.created_at.isoformat(),
        }


def view_of(message: Message, names: dict[int, str]) -> MessageView:
    """A :class:`MessageView` of ``message``; ``names`` maps user ids to display names."""
    return MessageView(
        message.id,
        message.booking_id,
        message.sender_id,
        names.get(message.sender_id, ""),
        message.body,
        str(render_body(message.body)),
        message.created_at,
    )


def participant_names(session: Session, booking: Booking) -> dict[int, str]:
    """{user id: name} for the booking's client and professional."""
    users = session.scalars(
        select(User).where(User.id.in_([booking.client_id, booking.professional_id]))
    )
    return {user.id: user.name for user in users}
