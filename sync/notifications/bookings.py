"""Booking emails: what each booking change sends to whom, recorded inside the
booking's own transaction (a :mod:`booking.events` subscriber).

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
reminders follow every change (:mod:`sync.notifications.reminders`). A CANCEL or
update goes out only to someone who was sent the invitation: a booking that was
never confirmed (a payment hold that lapsed) sends no CANCEL.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.events import BookingChanged
from booking.models import Booking, GroupSession
from consult.db import utcnow
from sync.notifications.facts import BookingFacts
from sync.notifications.itip import invitation
from sync.notifications.models import OutboxMessage
from sync.notifications.reminders import plan_group_summaries, plan_reminders
from sync.notifications.service import CalendarPart, record

log = logging.getLogger(__name__)

CONFIRMED = "booking_confirmed"
RESCHEDULED = "booking_rescheduled"
CANCELLED = "booking_cancelled"
MOVED_FROM = "booking_moved_from"
SEAT_BOOKED = "seat_booked"
SEAT_MOVED = "seat_moved"
SEAT_CANCELLED = "seat_cancelled"


def on_booking_changed(session: Session, change: BookingChanged) -> None:
    """Subscriber: record the emails, in-app notes and reminders for ``change``."""
    booking = session.get(Booking, change.booking_id)
    if booking is None:
        return
    now = utcnow()
    facts = BookingFacts.load(session, booking)
    if change.kind == "confirmed":
        _confirmed(session, facts, change, now)
    elif change.kind == "rescheduled":
        _rescheduled(session, facts, change, now)
    elif change.kind == "cancelled":
        _cancelled(session, facts, change, now)
    plan_reminders(session, booking, now=now, site=facts.site)
    if booking.group_session_id is not None:
        plan_group_summaries(
            session, booking.group_session_id, booking.start, now=now, site=facts.site
        )


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
    record(
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
    session: Session, facts: BookingFacts, kind: str, key: str, now: datetime, **extra: Any
) -> None:
    record(
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
    session: Session, facts: BookingFacts, change: BookingChanged, now: datetime
) -> None:
    booking = facts.booking
    for role, user in _recipients(facts):
        _email(
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
        _note_professional(session, facts, SEAT_BOOKED, f"booking:{booking.id}:seat_booked", now)


def _rescheduled(
    session: Session, facts: BookingFacts, change: BookingChanged, now: datetime
) -> None:
    booking = facts.booking
    previous_start = change.previous_start or booking.start
    for role, user in _recipients(facts):
        last = _last_invitation(session, booking.id, user.id)
        if last is None:
            continue  # never invited (never confirmed): nothing to update
        _email(
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
            _replan_old_occurrence(session, last.calendar_uid, previous_start, now, facts)
    if booking.is_group and change.actor != "professional":
        _note_professional(
            session,
            facts,
            SEAT_MOVED,
            f"booking:{booking.id}:seat_moved:{booking.sequence}",
            now,
            previous_start=previous_start,
        )


def _replan_old_occurrence(
    session: Session, uid: str, start: datetime, now: datetime, facts: BookingFacts
) -> None:
    old_session = session.scalar(select(GroupSession).where(GroupSession.event_uid == uid))
    if old_session is not None:
        plan_group_summaries(session, old_session.id, start, now=now, site=facts.site)


def _cancelled(
    session: Session, facts: BookingFacts, change: BookingChanged, now: datetime
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
            session, facts, SEAT_CANCELLED, f"booking:{booking.id}:seat_cancelled", now, **extra
        )
