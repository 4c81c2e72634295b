"""Emails about new messages for people who are not in the room, batched.

A message to someone who is not connected to the booking's room becomes one
"new_messages" notification in the outbox (:mod:`notifications`), keyed per
booking, recipient and window of ``message_email_delay`` minutes: however many
messages arrive in a window, the outbox sends one email, at the end of the delay.
The email names the sender and links to the thread; it never quotes the messages
(they may be private, and subjects must say nothing medical).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking
from notifications.service import Notifier
from video.bus import SignalBus
from video.config import VideoConfig
from video.models import Message
from video.signalling import presence_key

log = logging.getLogger(__name__)

KIND = "new_messages"
TEMPLATE_FOLDER = Path(__file__).resolve().parent.parent / "web" / "templates" / "video" / "email"


def batch_key(booking_id: int, recipient_id: int, message: Message, config: VideoConfig) -> str:
    """The idempotency key shared by every message of one email batch."""
    window = int(message.created_at.timestamp() // config.message_email_delay.total_seconds())
    return f"{KIND}:{booking_id}:{recipient_id}:{window}"


def queue_message_email(
    session: Session,
    notifier: Notifier,
    config: VideoConfig,
    bus: SignalBus,
    booking: Booking,
    message: Message,
) -> bool:
    """Record an email to the other participant about ``message`` unless they are in
    the room right now. Runs in the message's transaction. Returns True when queued
    (or merged into the batch already queued for this window)."""
    recipient_id = (
        booking.client_id
        if message.sender_id == booking.professional_id
        else booking.professional_id
    )
    if bus.is_present(presence_key(booking.id, recipient_id)):
        return False
    sender = session.get(User, message.sender_id)
    notifier.notify(
        session,
        recipient_id=recipient_id,
        kind=KIND,
        context={
            "booking_id": booking.id,
            "sender_name": sender.name if sender else "",
            "service_title": booking.service.title,
            "thread_url": f"{config.base_url}/bookings/{booking.id}/messages",
            "url": f"{config.base_url}/bookings/{booking.id}/messages",
            "start": booking.start,
            "end": booking.end,
        },
        idempotency_key=batch_key(booking.id, recipient_id, message, config),
        booking_id=booking.id,
        send_after=message.created_at + config.message_email_delay,
    )
    return True
