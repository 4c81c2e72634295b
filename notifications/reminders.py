"""Reminders before a session, and each professional's reminder offsets.

A reminder is an outbox row (and a hidden in-app entry) recorded when the booking
is made, due ``offset`` before the start. Its key names the booking, the
recipient, the start and the offset, so planning is idempotent: after any change
(:func:`plan_reminders` runs on confirm, move and cancel, and when a professional
changes their offsets) the wanted set is computed, pending rows outside it are
cancelled, and missing ones are recorded. A moved booking gets new keys (the
start changed): its old reminders are cancelled, new ones planned.

Clients get one reminder per seat or booking. For a group class the professional
gets one *summary* per occurrence and offset instead, whose roster is read when
it goes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import ACTIVE_STATUSES, Booking, GroupSession
from consult.config import ConfigError, Settings
from notifications.errors import InvalidReminderOffsets
from notifications.facts import BookingFacts, Site
from notifications.models import OutboxMessage, ReminderSetting
from notifications.service import Notifier, cancel_pending

REMINDER = "booking_reminder"
GROUP_SUMMARY = "group_summary"
MIN_OFFSET_MINUTES = 5
MAX_OFFSET_MINUTES = 14 * 24 * 60
MAX_OFFSETS = 5

_UNITS = MappingProxyType({"m": 1, "min": 1, "h": 60, "d": 24 * 60})
_TOKEN = re.compile(r"^(\d{1,5})\s*(m|min|h|d)?$")


def parse_offsets(value: str | Iterable[str]) -> tuple[int, ...]:
    """Minutes before the session, largest first, from ``"24h, 1h"`` (units m, h,
    d; a bare number is minutes). Empty means no reminders. Raises
    :class:`InvalidReminderOffsets` with a message a person can act on."""
    tokens = [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value)
    tokens = [token for token in tokens if token]
    minutes: set[int] = set()
    for token in tokens:
        match = _TOKEN.match(token.lower())
        if match is None:
            raise InvalidReminderOffsets(
                f"“{token[:20]}” is not a time before the session: write e.g. 24h, 1h or 30m."
            )
        amount = int(match.group(1)) * _UNITS[match.group(2) or "m"]
        if not MIN_OFFSET_MINUTES <= amount <= MAX_OFFSET_MINUTES:
            raise InvalidReminderOffsets(
                f"“{token}” is out of range: use between {MIN_OFFSET_MINUTES} minutes and "
                f"{MAX_OFFSET_MINUTES // 1440} days."
            )
        minutes.add(amount)
    if len(minutes) > MAX_OFFSETS:
        raise InvalidReminderOffsets(f"Use at most {MAX_OFFSETS} reminders.")
    return tuple(sorted(minutes, reverse=True))


def format_offsets(offsets: Sequence[int]) -> str:
    """``"24h, 1h"``: each offset in the largest unit that divides it (days only
    from two days on: people think of "24 hours before")."""
    parts = []
    for minutes in offsets:
        if minutes % 1440 == 0 and minutes >= 2880:
            parts.append(f"{minutes // 1440}d")
        elif minutes % 60 == 0:
            parts.append(f"{minutes // 60}h")
        else:
            parts.append(f"{minutes}m")
    return ", ".join(parts)


def check_default_offsets(settings: Settings) -> tuple[int, ...]:
    """The ``[notifications] reminder_offsets`` in minutes; ConfigError naming the
    option and its source when they cannot be used."""
    try:
        return parse_offsets(settings.notifications.reminder_offsets)
    except InvalidReminderOffsets as error:
        source = settings.sources.get(("notifications", "reminder_offsets"), "default")
        raise ConfigError(
            f"invalid value for option 'reminder_offsets' in section [notifications] "
            f"(from {source}): {error.message}"
        ) from error


def reminder_offsets(
    session: Session, professional_id: int, default: tuple[int, ...]
) -> tuple[int, ...]:
    """The professional's reminder offsets in minutes (largest first), or ``default``."""
    row = session.get(ReminderSetting, professional_id)
    if row is None:
        return default
    return tuple(int(part) for part in row.offsets_minutes.split(",") if part)


def set_reminder_offsets(
    notifier: Notifier, session: Session, professional_id: int, value: str, *, now: datetime
) -> tuple[int, ...]:
    """Store the professional's offsets (parsed from ``value``) and re-plan the
    reminders of their upcoming bookings. Returns the offsets; raises
    InvalidReminderOffsets for input that cannot be used."""
    offsets = parse_offsets(value)
    row = session.get(ReminderSetting, professional_id)
    text = ",".join(str(minutes) for minutes in offsets)
    if row is None:
        session.add(ReminderSetting(professional_id=professional_id, offsets_minutes=text))
    else:
        row.offsets_minutes = text
    session.flush()
    upcoming = session.scalars(
        select(Booking).where(
            Booking.professional_id == professional_id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.start > now,
        )
    )
    occurrences: set[tuple[int, datetime]] = set()
    for booking in upcoming:
        plan_reminders(notifier, session, booking, now=now, offsets=offsets)
        if booking.group_session_id is not None:
            occurrences.add((booking.group_session_id, booking.start))
    for group_session_id, start in sorted(occurrences):
        plan_group_summaries(notifier, session, group_session_id, start, now=now, offsets=offsets)
    return offsets


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def plan_reminders(
    notifier: Notifier,
    session: Session,
    booking: Booking,
    *,
    now: datetime,
    offsets: Sequence[int] | None = None,
) -> None:
    """Make the booking's pending reminders match its state as of ``now``: one per
    recipient and offset still ahead for an active booking, none for a cancelled
    one. The professional of a group class is covered by
    :func:`plan_group_summaries` instead."""
    facts = BookingFacts.load(session, booking, notifier.site)
    if offsets is None:
        offsets = reminder_offsets(session, booking.professional_id, notifier.default_offsets)
    recipients: list[tuple[str, User]] = [("client", facts.client)]
    if not booking.is_group:
        recipients.append(("professional", facts.professional))
    wanted: dict[str, tuple[str, User, int, datetime]] = {}
    if booking.is_active:
        for minutes in offsets:
            send_after = booking.start - timedelta(minutes=minutes)
            if send_after <= now:
                continue
            for role, user in recipients:
                key = f"reminder:{booking.id}:{user.id}:{_epoch(booking.start)}:{minutes}"
                wanted[key] = (role, user, minutes, send_after)
    cancel_pending(session, booking_id=booking.id, kinds=[REMINDER], keep=list(wanted), now=now)
    for key, (role, user, minutes, send_after) in wanted.items():
        # Rendered when it goes out (_refresh_reminder), with the booking as it is then;
        # its in-app twin is made at that moment too.
        notifier.record(
            session,
            recipient_id=user.id,
            kind=REMINDER,
            context={},
            idempotency_key=key,
            booking_id=booking.id,
            send_after=send_after,
            payload={"role": role, "offset_minutes": minutes},
            in_app=False,
            revive=True,
            deferred=True,
            now=now,
        )


def refresh_reminder(
    notifier: Notifier, session: Session, row: OutboxMessage, now: datetime
) -> bool:
    """Render a reminder just before it goes out, and show its in-app twin from its
    due time; False (cancel it) when the booking is gone or no longer active."""
    payload = row.payload or {}
    if "role" not in payload:
        return True  # recorded with its content (through notify()), not deferred
    booking = session.get(Booking, row.booking_id) if row.booking_id is not None else None
    recipient = session.get(User, row.recipient_id)
    if booking is None or not booking.is_active or recipient is None:
        return False
    facts = BookingFacts.load(session, booking, notifier.site)
    context = facts.context(str(payload["role"]), offset_minutes=payload.get("offset_minutes", 0))
    rendered, _locale, _zone = notifier.render_for(recipient, REMINDER, context, email=True)
    row.subject, row.body_text, row.body_html = rendered.subject, rendered.text, rendered.html
    notifier.record(
        session,
        recipient_id=recipient.id,
        kind=REMINDER,
        context=context,
        idempotency_key=row.idempotency_key,
        booking_id=booking.id,
        send_after=row.send_after,
        email=False,
        now=now,
    )
    return True


def _seats(session: Session, group_session_id: int, start: datetime) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking)
            .where(
                Booking.group_session_id == group_session_id,
                Booking.start == start,
                Booking.status.in_(ACTIVE_STATUSES),
            )
            .order_by(Booking.id)
        )
    )


def _summary_context(
    session: Session, group_session: GroupSession, start: datetime, seats: list[Booking], site: Site
) -> dict[str, Any]:
    service = group_session.service
    clients = [session.get(User, seat.client_id) for seat in seats]
    first = seats[0].id if seats else None
    return {
        "role": "professional",
        "service_title": service.title,
        "start": start,
        "end": start + timedelta(minutes=service.duration_minutes),
        "seats_taken": len(seats),
        "capacity": service.capacity or len(seats),
        "participants": sorted(client.name for client in clients if client is not None),
        "booking_url": f"{site.base_url}/bookings/{first}" if first else site.base_url,
        "join_url": f"{site.base_url}/bookings/{first}/session" if first else site.base_url,
    }


def plan_group_summaries(
    notifier: Notifier,
    session: Session,
    group_session_id: int,
    start: datetime,
    *,
    now: datetime,
    offsets: Sequence[int] | None = None,
) -> None:
    """Make the professional's summaries of one group occurrence match its seats:
    one per offset still ahead while anyone holds a seat, none otherwise."""
    group_session = session.get(GroupSession, group_session_id)
    if group_session is None:
        return
    service = group_session.service
    if offsets is None:
        offsets = reminder_offsets(session, service.professional_id, notifier.default_offsets)
    seats = _seats(session, group_session_id, start)
    prefix = f"group_summary:{group_session_id}:{_epoch(start)}:"
    wanted: dict[str, tuple[int, datetime]] = {}
    if seats and group_session.cancelled_at is None:
        for minutes in offsets:
            send_after = start - timedelta(minutes=minutes)
            if send_after > now:
                wanted[f"{prefix}{minutes}"] = (minutes, send_after)
    cancel_pending(session, kinds=[GROUP_SUMMARY], key_prefix=prefix, keep=list(wanted), now=now)
    if not wanted:
        return
    context = _summary_context(session, group_session, start, seats, notifier.site)
    for key, (minutes, send_after) in wanted.items():
        notifier.record(
            session,
            recipient_id=service.professional_id,
            kind=GROUP_SUMMARY,
            context={**context, "offset_minutes": minutes},
            idempotency_key=key,
            send_after=send_after,
            payload={
                "group_session_id": group_session_id,
                "start": start.isoformat(),
                "offset_minutes": minutes,
            },
            revive=True,
            now=now,
        )


def refresh_group_summary(
    notifier: Notifier, session: Session, row: OutboxMessage, now: datetime
) -> bool:
    """Re-render a summary with the roster as it is now; False (cancel it) when
    nobody holds a seat any more or the session was cancelled."""
    payload = row.payload or {}
    group_session = session.get(GroupSession, payload.get("group_session_id"))
    if group_session is None or group_session.cancelled_at is not None:
        return False
    start = datetime.fromisoformat(str(payload["start"]))
    seats = _seats(session, group_session.id, start)
    recipient = session.get(User, row.recipient_id)
    if not seats or recipient is None:
        return False
    context = {
        **_summary_context(session, group_session, start, seats, notifier.site),
        "offset_minutes": payload.get("offset_minutes", 0),
    }
    rendered, _locale, _zone = notifier.render_for(recipient, GROUP_SUMMARY, context, email=True)
    row.subject, row.body_text, row.body_html = rendered.subject, rendered.text, rendered.html
    return True
