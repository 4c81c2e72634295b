"""Booking emails: what each booking change sends to whom, recorded inside the
booking's own transaction (the ``booking_changed`` hook).

=====================  =====================================  ==============================
change                 client                                 professional
=====================  =====================================  ==============================
confirmed (1-1)        invitation (REQUEST)                   invitation (REQUEST)
confirmed (group)      own invitation for the occurrence      in-app note; summary later
rescheduled (1-1)      REQUEST, SEQUENCE + 1                  REQUEST, SEQUENCE + 1
rescheduled (group)    REQUEST new occurrence, CANCEL old     in-app note
cancelled (1-1)        CANCEL                                 CANCEL
cancelled (group)      CANCEL of the occurrence               in-app note
=====================  =====================================  ==============================

Each email also has an in-app twin for whoever did *not* cause the change, and
reminders follow every change (:mod:`notifications.reminders`). A CANCEL or
update goes out only to someone who was sent the invitation: a booking that was
never confirmed (a payment hold that lapsed) sends no CANCEL.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking, GroupSession, Service
from consult.db import utcnow
from consult.hookspecs import BookingChanged
from notifications.facts import BookingFacts
from notifications.itip import invitation
from notifications.models import PENDING, OutboxMessage
from notifications.reminders import plan_group_summaries, plan_reminders
from notifications.service import CalendarPart, Notifier, insert_once, note_pending

log = logging.getLogger(__name__)

BOOKING_CHANGE = "booking_change"  # an outbox row of work, expanded by expand_change
CONFIRMED = "booking_confirmed"
RESCHEDULED = "booking_rescheduled"
CANCELLED = "booking_cancelled"
MOVED_FROM = "booking_moved_from"
SEAT_BOOKED = "seat_booked"
SEAT_MOVED = "seat_moved"
SEAT_CANCELLED = "seat_cancelled"


def on_booking_changed(session: Session, change: BookingChanged) -> None:
    """Subscriber: record the change as one outbox row, in the booking's transaction.

    The emails, in-app notes and reminders it means are recorded when a sender
    handles that row (:func:`expand_change`), from a snapshot of the booking taken
    now: rendering them here cost more than the booking itself. Nothing is lost
    either way: the row commits or rolls back with the booking.
    """
    booking = session.get(Booking, change.booking_id)
    if booking is None:
        return
    if change.kind == "cancelled" and not _announced(session, booking.id):
        return  # never confirmed (a lapsed payment hold): nothing to take back
    now = utcnow()
    snapshot = {name: _json(getattr(booking, name)) for name in _SNAPSHOT}
    values = {
        "kind": BOOKING_CHANGE,
        "recipient_id": booking.client_id,
        "booking_id": booking.id,
        "to_address": "",
        "subject": f"booking {booking.id} {change.kind}",
        "body_text": "",
        "body_html": "",
        "payload": {
            "change": change.kind,
            "actor": change.actor,
            "previous_start": _json(change.previous_start),
            "booking": snapshot,
        },
        "status": PENDING,
        "send_after": now,
        "next_attempt_at": now,
    }
    key = f"change:{booking.id}:{change.kind}:{booking.sequence}:{uuid.uuid4().hex[:12]}"
    outbox_id = insert_once(session, OutboxMessage, key, values)
    if outbox_id is not None:
        note_pending(session, outbox_id, now)


def _announced(session: Session, booking_id: int) -> bool:
    """Whether anything was ever recorded for the booking (it was confirmed once)."""
    return (
        session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.booking_id == booking_id).limit(1)
        )
        is not None
    )


# What the emails say is what the booking was at the change, not when they are made.
_SNAPSHOT = (
    "id",
    "service_id",
    "professional_id",
    "client_id",
    "group_session_id",
    "start",
    "end",
    "status",
    "event_uid",
    "event_href",
    "sequence",
    "client_timezone",
    "cancelled_by",
    "cancel_reason",
)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(name: str, value: Any) -> Any:
    if name in ("start", "end") and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def expand_change(notifier: Notifier, session: Session, row: OutboxMessage, now: datetime) -> bool:
    """Handler of a change row: record its emails, notes and reminders. Changes of
    one booking are expanded in order; False (try again shortly) while an earlier
    one is still waiting."""
    earlier = session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == BOOKING_CHANGE,
            OutboxMessage.booking_id == row.booking_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.id < row.id,
        )
        .limit(1)
    )
    if earlier is not None:
        return False
    payload = row.payload or {}
    data = payload.get("booking") or {}
    if row.booking_id is None or session.get(Booking, row.booking_id) is None:
        return True  # the booking is gone (account deleted): nothing to tell anyone
    # A detached copy: reading it never writes the live row back.
    booking = Booking(**{name: _from_json(name, data.get(name)) for name in _SNAPSHOT})
    previous = payload.get("previous_start")
    change = BookingChanged(
        kind=payload["change"],
        booking_id=booking.id,
        actor=payload["actor"],
        previous_start=datetime.fromisoformat(previous) if previous else None,
    )
    _apply(notifier, session, booking, change, now)
    return True


def _apply(
    notifier: Notifier, session: Session, booking: Booking, change: BookingChanged, now: datetime
) -> None:
    """Record everything ``change`` means for ``booking`` (as it was at the change)."""
    facts = BookingFacts.load(session, booking, notifier.site)
    if change.kind == "confirmed":
        _confirmed(notifier, session, facts, change, now)
    elif change.kind == "rescheduled":
        _rescheduled(notifier, session, facts, change, now)
    elif change.kind == "cancelled":
        _cancelled(notifier, session, facts, change, now)
    plan_reminders(notifier, session, booking, now=now)
    if booking.group_session_id is not None:
        plan_group_summaries(notifier, session, booking.group_session_id, booking.start, now=now)


def _recipients(facts: BookingFacts) -> list[tuple[str, User]]:
    """Who gets booking emails: both for 1-1, the client alone for a group seat."""
    people: list[tuple[str, User]] = [("client", facts.client)]
    if not facts.booking.is_group:
        people.append(("professional", facts.professional))
    return people


def _last_invitation(session: Session, booking_id: int, recipient_id: int) -> OutboxMessage | None:
    """The latest REQUEST recorded for this booking and recipient (sent or not)."""
    return session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.booking_id == booking_id,
            OutboxMessage.recipient_id == recipient_id,
            OutboxMessage.calendar_method == "REQUEST",
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )


def _email(
    notifier: Notifier,
    session: Session,
    facts: BookingFacts,
    *,
    role: str,
    user: User,
    kind: str,
    key: str,
    calendar: CalendarPart,
    in_app: bool,
    now: datetime,
    **extra: Any,
) -> None:
    notifier.record(
        session,
        recipient_id=user.id,
        kind=kind,
        context=facts.context(role, **extra),
        idempotency_key=key,
        booking_id=facts.booking.id,
        calendar=calendar,
        in_app=in_app,
        now=now,
    )


def _note_professional(
    notifier: Notifier,
    session: Session,
    facts: BookingFacts,
    kind: str,
    key: str,
    now: datetime,
    **extra: Any,
) -> None:
    notifier.record(
        session,
        recipient_id=facts.professional.id,
        kind=kind,
        context=facts.context("professional", **extra),
        idempotency_key=key,
        booking_id=facts.booking.id,
        email=False,
        now=now,
    )


def _confirmed(
    notifier: Notifier, session: Session, facts: BookingFacts, change: BookingChanged, now: datetime
) -> None:
    booking = facts.booking
    for role, user in _recipients(facts):
        _email(
            notifier,
            session,
            facts,
            role=role,
            user=user,
            kind=CONFIRMED,
            key=f"booking:{booking.id}:confirmed:{user.id}",
            calendar=invitation(facts, method="REQUEST", for_client=role == "client", now=now),
            in_app=role != change.actor,
            now=now,
        )
    if booking.is_group and change.actor != "professional":
        _note_professional(
            notifier, session, facts, SEAT_BOOKED, f"booking:{booking.id}:seat_booked", now
        )


def _rescheduled(
    notifier: Notifier, session: Session, facts: BookingFacts, change: BookingChanged, now: datetime
) -> None:
    booking = facts.booking
    previous_start = change.previous_start or booking.start
    for role, user in _recipients(facts):
        last = _last_invitation(session, booking.id, user.id)
        if last is None:
            continue  # never invited (never confirmed): nothing to update
        _email(
            notifier,
            session,
            facts,
            role=role,
            user=user,
            kind=RESCHEDULED,
            key=f"booking:{booking.id}:rescheduled:{booking.sequence}:{user.id}",
            calendar=invitation(facts, method="REQUEST", for_client=role == "client", now=now),
            in_app=role != change.actor,
            now=now,
            previous_start=previous_start,
            moved_by=change.actor,
        )
        new_occurrence = (booking.event_uid, facts.recurrence_id)
        old_occurrence = (last.calendar_uid, last.calendar_recurrence_id)
        if booking.is_group and last.calendar_uid and old_occurrence != new_occurrence:
            # A seat moved to another occurrence (maybe another session): the old
            # one is a different calendar object, so it needs its own CANCEL.
            duration = booking.end - booking.start
            _email(
                notifier,
                session,
                facts,
                role=role,
                user=user,
                kind=MOVED_FROM,
                key=f"booking:{booking.id}:moved_from:{booking.sequence}:{user.id}",
                calendar=invitation(
                    facts,
                    method="CANCEL",
                    for_client=True,
                    now=now,
                    uid=last.calendar_uid,
                    start=previous_start,
                    end=previous_start + duration,
                    recurrence_id=last.calendar_recurrence_id,
                ),
                in_app=False,
                now=now,
                previous_start=previous_start,
            )
            _replan_old_occurrence(notifier, session, last.calendar_uid, previous_start, now, facts)
    if booking.is_group and change.actor != "professional":
        _note_professional(
            notifier,
            session,
            facts,
            SEAT_MOVED,
            f"booking:{booking.id}:seat_moved:{booking.sequence}",
            now,
            previous_start=previous_start,
        )


def _replan_old_occurrence(
    notifier: Notifier,
    session: Session,
    uid: str,
    start: datetime,
    now: datetime,
    facts: BookingFacts,
) -> None:
    # Scoped to the booking's professional: a UID alone names an event only within one calendar.
    old_session = session.scalar(
        select(GroupSession)
        .join(Service, Service.id == GroupSession.service_id)
        .where(
            GroupSession.event_uid == uid,
            Service.professional_id == facts.booking.professional_id,
        )
    )
    if old_session is not None:
        plan_group_summaries(notifier, session, old_session.id, start, now=now)


def _cancelled(
    notifier: Notifier, session: Session, facts: BookingFacts, change: BookingChanged, now: datetime
) -> None:
    booking = facts.booking
    extra = {
        "cancelled_by": booking.cancelled_by or change.actor,
        "reason": booking.cancel_reason or "",
    }
    for role, user in _recipients(facts):
        if _last_invitation(session, booking.id, user.id) is None:
            continue
        _email(
            notifier,
            session,
            facts,
            role=role,
            user=user,
            kind=CANCELLED,
            key=f"booking:{booking.id}:cancelled:{user.id}",
            calendar=invitation(facts, method="CANCEL", for_client=role == "client", now=now),
            in_app=role != change.actor,
            now=now,
            by_you=role == change.actor,
            **extra,
        )
    if booking.is_group and change.actor != "professional":
        _note_professional(
            notifier,
            session,
            facts,
            SEAT_CANCELLED,
            f"booking:{booking.id}:seat_cancelled",
            now,
            **extra,
        )
