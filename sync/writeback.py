"""Write-back: bookings pushed as events to the one outside calendar a professional
chose, updated when the booking moves and deleted when it is cancelled.

The booking transaction only records the intent (:func:`on_booking_changed`, a
``booking_changed`` hook): an ``external_calendar_push`` row with
``pending`` set and its ``change_seq`` bumped. After the commit a job pushes it
(:func:`push_booking`), reading the booking as it is *then*, so a push that runs
late or twice still writes the right thing. A failed push is retried with backoff
by the dispatcher. Group classes are not pushed (their sessions are not bookings of
the professional's time by one client; the class itself is in the Bookings
calendar).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking
from consult.config import Settings
from consult.db import Database, transaction_memo, utcnow
from consult.handoff import note
from consult.hookspecs import BookingChanged
from sync.errors import SourceError
from sync.models import (
    AUTHORIZING,
    PUSH_DELETE,
    PUSH_UPSERT,
    WRITABLE_KINDS,
    ExternalCalendar,
    ExternalCalendarPush,
)
from sync.secrets import open_secret, seal_secret
from sync.sources import Credentials, PushEvent, SourceConfig
from sync.sources.adapters import source_for
from sync.syncing import HAS_CONNECTIONS, limits_for, next_run

__all__ = ["PUSHES_KEY", "PushOutcome", "on_booking_changed", "push_booking"]

log = logging.getLogger(__name__)

# Where a session keeps the ids of pushes it recorded, for a job after the commit
# (sync.include hands them to sync.tasks.enqueue_push).
PUSHES_KEY = "sync.pushes"


def on_booking_changed(session: Session, change: BookingChanged) -> None:
    """Booking subscriber: record, in the booking's own transaction, that the booking
    must be pushed to the professional's write-back calendar, or updated or removed
    where it was pushed before (even after the professional chose another calendar
    or none: a moved or cancelled booking must not be left behind there)."""
    booking = session.get(Booking, change.booking_id)
    if booking is None or booking.group_session_id is not None:
        return
    if transaction_memo(session).get((HAS_CONNECTIONS, booking.professional_id)) is False:
        return  # no connection, so no push now or from before (they go with it)
    pushes = list(
        session.scalars(
            select(ExternalCalendarPush).where(ExternalCalendarPush.booking_id == booking.id)
        )
    )
    target = session.scalar(
        select(ExternalCalendar).where(
            ExternalCalendar.user_id == booking.professional_id,
            ExternalCalendar.writeback.is_(True),
            ExternalCalendar.status != AUTHORIZING,
        )
    )
    # A booking stays in the calendar it was first written to; only bookings never
    # pushed anywhere go to the current choice.
    if (
        target is not None
        and target.kind in WRITABLE_KINDS
        and change.kind != "cancelled"
        and (not pushes)
    ):
        push = ExternalCalendarPush(booking_id=booking.id, calendar_id=target.id, change_seq=0)
        session.add(push)
        pushes.append(push)
    for push in pushes:
        push.pending = PUSH_DELETE if change.kind == "cancelled" else PUSH_UPSERT
        push.change_seq = (push.change_seq or 0) + 1
        push.attempts = 0
        push.next_attempt_at = utcnow()
    if pushes:
        session.flush()
        for push in pushes:
            note(session, PUSHES_KEY, push.id)


@dataclass(frozen=True)
class PushOutcome:
    """``status``: pushed, deleted, failed or skipped (nothing pending)."""

    push_id: int
    status: str
    message: str = ""


@dataclass(frozen=True)
class _Snapshot:
    action: str
    change_seq: int
    remote_id: str
    kind: str
    config: SourceConfig
    event: PushEvent | None


def _snapshot(session: Session, settings: Settings, push_id: int) -> _Snapshot | None:
    push = session.get(ExternalCalendarPush, push_id, populate_existing=True)
    if push is None or push.pending is None:
        return None
    connection = session.get(ExternalCalendar, push.calendar_id)
    booking = session.get(Booking, push.booking_id)
    if connection is None or booking is None:
        return None
    client = session.get(User, booking.client_id)
    credentials = Credentials(open_secret(settings.app.secret_key, connection.secret))
    config = SourceConfig(
        connection_id=connection.id,
        kind=connection.kind,
        url=connection.url,
        username=connection.username,
        credentials=credentials,
        own_zone=ZoneInfo("UTC"),
        resolved_url=connection.resolved_url,
    )
    action = push.pending
    if not booking.is_active:
        action = PUSH_DELETE
    event = None
    if action == PUSH_UPSERT:
        title = booking.service.title
        summary = f"{title} with {client.name}" if client else title
        url = f"{settings.app.base_url}/bookings/{booking.id}"
        event = PushEvent(
            uid=booking.event_uid,
            start=booking.start,
            end=booking.end,
            summary=summary,
            description=f"Booked on {settings.app.base_url}\n{url}",
            url=url,
            booking_id=booking.id,
        )
    return _Snapshot(action, push.change_seq, push.remote_id, connection.kind, config, event)


def push_booking(database: Database, settings: Settings, push_id: int) -> PushOutcome:
    """Push one pending change to the outside calendar and record the result; returns
    what happened. Failures are recorded (with backoff), never raised."""
    try:
        with database.session() as session:
            snapshot = _snapshot(session, settings, push_id)
    except SourceError as error:  # unreadable credentials
        return _failed(database, settings, push_id, error.message, None)
    if snapshot is None:
        return PushOutcome(push_id, "skipped")
    source = source_for(snapshot.kind, settings)
    limits = limits_for(settings)
    remote_id, etag = snapshot.remote_id, ""
    try:
        if snapshot.action == PUSH_UPSERT and snapshot.event is not None:
            remote_id, etag = source.push(snapshot.config, limits, snapshot.event, remote_id)
            status = "pushed"
        else:
            source.delete(snapshot.config, limits, remote_id)
            remote_id, status = "", "deleted"
    except SourceError as error:
        return _failed(database, settings, push_id, error.message, snapshot.config.credentials)
    except Exception:
        log.exception("pushing booking change %s failed unexpectedly", push_id)
        message = "An unexpected error stopped this update; it will be retried."
        return _failed(database, settings, push_id, message, snapshot.config.credentials)
    with database.session() as session:
        push = session.get(ExternalCalendarPush, push_id, populate_existing=True)
        if push is None:
            return PushOutcome(push_id, "skipped", "The booking or calendar was removed.")
        push.remote_id = remote_id
        push.remote_etag = etag
        push.pushed_at = utcnow()
        push.last_error = ""
        if push.change_seq == snapshot.change_seq:
            push.pending = None
            push.attempts = 0
            push.next_attempt_at = None
        _save(session, settings, push.calendar_id, snapshot.config.credentials)
    return PushOutcome(push_id, status)


def _save(
    session: Session, settings: Settings, calendar_id: int, credentials: Credentials | None
) -> None:
    if credentials is None or not credentials.changed:
        return
    connection = session.get(ExternalCalendar, calendar_id)
    if connection is not None:
        connection.secret = seal_secret(settings.app.secret_key, credentials.data)


def _failed(
    database: Database,
    settings: Settings,
    push_id: int,
    message: str,
    credentials: Credentials | None,
) -> PushOutcome:
    now: datetime = utcnow()
    with database.session() as session:
        push = session.get(ExternalCalendarPush, push_id, populate_existing=True)
        if push is not None:
            push.attempts += 1
            push.last_error = message[:1000]
            push.next_attempt_at = next_run(settings, now, push.attempts)
            _save(session, settings, push.calendar_id, credentials)
    log.warning("push %s failed: %s", push_id, message)
    return PushOutcome(push_id, "failed", message)
