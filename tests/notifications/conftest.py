"""Fixtures for notification tests: a real SMTP server (aiosmtpd) in the test
process, settings that point the app at it, and a professional with a client.

The in-process sender is off here (``sweep_seconds = 0``) so tests decide when
mail goes out, with their own clock, through :func:`send_due`; the tests of the
in-process scheduler and of rq turn it back on.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from aiosmtpd.controller import Controller

from accounts.models import User
from consult.db import Database
from consult.platform import Platform
from notifications.delivery import SENDER as SENDER_PORT
from notifications.delivery import Outcome, deliver_due
from notifications.service import NOTIFIER, Notifier
from tests.factories import bearer, next_weekday, setup_professional
from tests.helpers import free_port

SENDER = "Consult Bookings <bookings@consult.test>"


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage
    raw: bytes


class Inbox:
    """An aiosmtpd handler that keeps every accepted message. ``reply`` makes it
    answer DATA with an error instead (e.g. ``"451 4.3.0 try later"``);
    ``on_data`` runs first, in the server's thread, with the envelope."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.reply: str | None = None
        self.on_data: Callable[[Any], None] | None = None
        self.port = 0
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.on_data is not None:
            self.on_data(envelope)
        if self.reply is not None:
            return self.reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.received.append(Received(list(envelope.rcpt_tos), message, envelope.content))
            self._arrived.notify_all()
        return "250 2.0.0 OK: queued"

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """Block until ``count`` messages arrived (generous: other tests share the CPU)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} emails arrived")
                self._arrived.wait(left)
            return list(self.received)

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address.lower() in map(str.lower, r.recipients)]

    def clear(self) -> None:
        with self._arrived:
            self.received.clear()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    handler = Inbox()
    handler.port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def settings_overrides(inbox: Inbox) -> dict[str, dict[str, Any]]:
    return {
        "smtp": {"host": "127.0.0.1", "port": str(inbox.port), "security": "none", "from": SENDER},
        "notifications": {"sweep_seconds": "0"},
    }


def send_due(platform: Platform, now: datetime | None = None) -> dict[Outcome, int]:
    """Send what is due at ``now`` through the platform's sender, as its thread would."""
    return deliver_due(platform.find(SENDER_PORT), now=now)


def notifier(platform: Platform) -> Notifier:
    return platform.find(NOTIFIER)


def set_locale(database: Database, user: Any, locale: str) -> None:
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        account.locale = locale


def parts(message: EmailMessage) -> dict[str, EmailMessage]:
    """The leaf parts of ``message`` by content type (attachments as ``attachment:<type>``)."""
    found: dict[str, EmailMessage] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        key = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            key = f"attachment:{key}"
        found[key] = part  # type: ignore[assignment]
    return found


def itip(message: EmailMessage) -> tuple[str, icalendar.cal.Component, icalendar.Calendar]:
    """(the part's method parameter, the VEVENT, the calendar) of the iTIP part."""
    part = parts(message)["text/calendar"]
    calendar = icalendar.Calendar.from_ical(part.get_content())
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return str(part.get_param("method")), events[0], calendar


def attendees(event: icalendar.cal.Component) -> list[str]:
    value = event.get("ATTENDEE")
    values = value if isinstance(value, list) else [value] if value is not None else []
    return sorted(str(item).lower().removeprefix("mailto:") for item in values)


@pytest.fixture
def world(client: Any, database: Database, make_user: Any) -> dict[str, Any]:
    """Maya (professional, Berlin) with a 50-minute service; Sam (client, New York)."""
    pro, pro_headers, service = setup_professional(
        client, database, make_user, title="Therapy session"
    )
    sam = make_user(role="client", name="Sam Client", timezone="America/New_York")
    return {
        "pro": pro,
        "pro_headers": pro_headers,
        "service": service,
        "sam": sam,
        "sam_headers": bearer(database, sam),
        "day": next_weekday(1, weeks_ahead=2),
    }
