"""Recording notifications, cancelling them, and the in-app list.

Everything here runs in the caller's transaction and does no I/O beyond the
database: rendering happens now (so a template error fails the caller at once,
and every retry sends the same bytes), sending happens after commit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking
from consult.db import utcnow
from consult.handoff import note
from consult.services import Port
from notifications.errors import NotificationNotFound, UnknownRecipient
from notifications.facts import Site
from notifications.models import (
    CANCELLED,
    FAILED,
    PENDING,
    Notification,
    OutboxMessage,
)
from notifications.rendering import Rendered, Renderer, normalize_locale, zone_or_utc

MAX_KEY = 255


@dataclass(frozen=True)
class CalendarPart:
    """The iTIP part of an email: METHOD, the VCALENDAR text, and the UID and
    RECURRENCE-ID (UTC) it concerns."""

    method: str
    ics: str
    uid: str
    recurrence_id: datetime | None = None


class Notifier:
    """Records notifications for one platform: rendered by its :class:`Renderer`
    (every package's templates), with links to its ``site``.

    ``default_offsets`` are the reminder offsets of professionals who chose none
    (``[notifications] reminder_offsets``, in minutes, largest first).
    """

    def __init__(self, site: Site, renderer: Renderer, default_offsets: tuple[int, ...]) -> None:
        self.site = site
        self.renderer = renderer
        self.default_offsets = default_offsets

    def _url_for(self, context: Mapping[str, Any], booking_id: int | None) -> str | None:
        for name in ("url", "booking_url"):
            value = context.get(name)
            if isinstance(value, str) and value:
                return value
        if booking_id is not None:
            return f"{self.site.base_url}/bookings/{booking_id}"
        return None

    def render_for(
        self, recipient: User, kind: str, context: Mapping[str, Any], email: bool
    ) -> tuple[Rendered, str, str]:
        """Render ``kind`` for ``recipient`` in their language and zone; returns the
        rendering, the language used and the zone's name."""
        locale = normalize_locale(recipient.locale)
        zone = zone_or_utc(recipient.timezone)
        values = {"recipient_name": recipient.name, "base_url": self.site.base_url, **context}
        rendered = self.renderer.render(kind, values, locale=locale, zone=zone, email=email)
        return rendered, locale, zone.key

    def notify(
        self,
        session: Session,
        *,
        recipient_id: int,
        kind: str,
        context: Mapping[str, Any],
        idempotency_key: str,
        booking_id: int | None = None,
        send_after: datetime | None = None,
        email: bool = True,
        in_app: bool = True,
    ) -> None:
        """Record a notification for ``recipient_id`` in the caller's transaction: an
        in-app entry and/or an outbox email, rendered now from the templates of
        ``kind`` in the recipient's language and time zone. Sent after the caller
        commits, not before ``send_after`` (default: at once); the in-app entry
        shows from then too.

        The same ``idempotency_key`` twice is a no-op (per channel), so callers may
        repeat themselves and batch: the first call's content wins. ``context``
        values are plain data; datetimes should be aware (naive ones are read as
        UTC). A ``url`` or ``booking_url`` in it is where the in-app entry links.
        Raises UnknownRecipient, TemplateMissing (a bug in the caller), ValueError
        for an empty or over-long key.
        """
        self.record(
            session,
            recipient_id=recipient_id,
            kind=kind,
            context=context,
            idempotency_key=idempotency_key,
            booking_id=booking_id,
            send_after=send_after,
            email=email,
            in_app=in_app,
        )

    def record(
        self,
        session: Session,
        *,
        recipient_id: int,
        kind: str,
        context: Mapping[str, Any],
        idempotency_key: str,
        booking_id: int | None = None,
        send_after: datetime | None = None,
        email: bool = True,
        in_app: bool = True,
        calendar: CalendarPart | None = None,
        payload: dict[str, Any] | None = None,
        revive: bool = False,
        deferred: bool = False,
        now: datetime | None = None,
    ) -> int | None:
        """:meth:`notify` with the package's extras: an iTIP ``calendar`` part, a
        ``payload`` for messages rebuilt before sending, and ``revive``, which turns a
        *cancelled* (never sent) row with this key back into a pending one with fresh
        content (a reminder of a booking moved away and back). ``deferred``: store the
        row without rendering it; a refresher registered for ``kind`` renders it just
        before its first attempt (reminders: most are never read before they are due,
        and rendering them at booking time was most of a booking's cost). Returns the
        outbox row's id when one was created or revived, else None."""
        if not idempotency_key or len(idempotency_key) > MAX_KEY:
            raise ValueError(f"idempotency_key must have 1 to {MAX_KEY} characters")
        if not email and not in_app:
            return None
        now = now or utcnow()
        due = send_after or now
        # Look first (cheap, and batched callers repeat keys often), render only if needed.
        mail_state = (
            session.execute(
                select(OutboxMessage.id, OutboxMessage.status).where(
                    OutboxMessage.idempotency_key == idempotency_key
                )
            ).first()
            if email
            else None
        )
        note_state = (
            session.execute(
                select(Notification.id, Notification.cancelled_at).where(
                    Notification.idempotency_key == idempotency_key
                )
            ).first()
            if in_app
            else None
        )
        mail_needed = email and (mail_state is None or (revive and mail_state.status == CANCELLED))
        note_needed = in_app and (
            note_state is None or (revive and note_state.cancelled_at is not None)
        )
        if not mail_needed and not note_needed:
            return None
        recipient = session.get(User, recipient_id)
        if recipient is None:
            raise UnknownRecipient(f"no user {recipient_id}")
        if deferred:
            rendered = Rendered(subject="", text="", html="", inapp="")
            locale, zone_name = (
                normalize_locale(recipient.locale),
                zone_or_utc(recipient.timezone).key,
            )
        else:
            rendered, locale, zone_name = self.render_for(
                recipient, kind, context, email=mail_needed
            )

        outbox_id: int | None = None
        if mail_needed:
            values: dict[str, Any] = {
                "kind": kind,
                "recipient_id": recipient.id,
                "booking_id": booking_id,
                "to_address": recipient.email,
                "to_name": recipient.name,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "locale": locale,
                "timezone": zone_name,
                "calendar_method": calendar.method if calendar else None,
                "calendar_ics": calendar.ics if calendar else None,
                "calendar_uid": calendar.uid if calendar else None,
                "calendar_recurrence_id": calendar.recurrence_id if calendar else None,
                "payload": payload,
                "status": PENDING,
                "send_after": due,
                "next_attempt_at": due,
                "attempts": 0,
                "claimed_until": None,
                "claim_token": None,
                "last_error": "",
                "cancelled_at": None,
            }
            if mail_state is not None:
                outbox_id = mail_state.id
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(**values)
                )
            else:
                outbox_id = insert_once(session, OutboxMessage, idempotency_key, values)
            if outbox_id is not None:
                note_pending(session, outbox_id, due)

        if note_needed:
            note_values: dict[str, Any] = {
                "recipient_id": recipient.id,
                "kind": kind,
                "title": rendered.subject,
                "body": rendered.inapp,
                "url": self._url_for(context, booking_id),
                "booking_id": booking_id,
                "visible_from": due,
                "read_at": None,
                "cancelled_at": None,
            }
            if note_state is not None:
                session.execute(
                    update(Notification)
                    .where(Notification.id == note_state.id)
                    .values(**note_values)
                )
            else:
                insert_once(session, Notification, idempotency_key, note_values)
        return outbox_id


NOTIFIER: Port[Notifier] = Port("notifications.notifier")

# Outbox rows a session wrote, handed to the platform's dispatcher after it commits
# (see consult.handoff and notifications.dispatch).
PENDING_KEY = "notifications.pending"


def note_pending(session: Session, outbox_id: int, due: datetime) -> None:
    """Remember that ``session`` wrote outbox row ``outbox_id``, due at ``due``."""
    note(session, PENDING_KEY, (outbox_id, due))


def insert_once(session: Session, model: Any, key: str, values: dict[str, Any]) -> int | None:
    """Insert a row with ``key`` and return its id; None when another transaction
    committed the same key first. One statement, no savepoint: the unique index
    decides (``ON CONFLICT DO NOTHING``, on PostgreSQL and SQLite alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(model)
        .values(idempotency_key=key, **values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(model.id)
    )
    inserted = session.execute(statement).scalar()
    return int(inserted) if inserted is not None else None


def cancel_pending(
    session: Session,
    *,
    booking_id: int | None = None,
    kinds: Collection[str] | None = None,
    keys: Collection[str] | None = None,
    key_prefix: str | None = None,
    keep: Collection[str] = (),
    now: datetime | None = None,
) -> int:
    """Cancel not-yet-sent emails (and hide not-yet-shown in-app entries) that
    match every given filter, except those whose key is in ``keep``. Returns how
    many emails were cancelled. A delivery job that runs later finds them
    cancelled and does nothing."""
    now = now or utcnow()
    mail_filters: list[Any] = [OutboxMessage.status == PENDING]
    note_filters: list[Any] = [Notification.cancelled_at.is_(None), Notification.visible_from > now]
    for model, filters in ((OutboxMessage, mail_filters), (Notification, note_filters)):
        if booking_id is not None:
            filters.append(model.booking_id == booking_id)
        if kinds is not None:
            filters.append(model.kind.in_(list(kinds)))
        if keys is not None:
            filters.append(model.idempotency_key.in_(list(keys)))
        if key_prefix is not None:
            filters.append(model.idempotency_key.startswith(key_prefix, autoescape=True))
        if keep:
            filters.append(model.idempotency_key.not_in(list(keep)))
    result = session.execute(
        update(OutboxMessage)
        .where(*mail_filters)
        .values(status=CANCELLED, cancelled_at=now, claimed_until=None, claim_token=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Notification)
        .where(*note_filters)
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the in-app list ---------------------------------------------------------------------

STATES = ("all", "unread", "read")


def _visible(user_id: int, now: datetime) -> list[Any]:
    return [
        Notification.recipient_id == user_id,
        Notification.cancelled_at.is_(None),
        Notification.visible_from <= now,
    ]


def list_notifications(
    session: Session,
    user_id: int,
    *,
    now: datetime | None = None,
    state: str = "all",
    limit: int = 50,
    before_id: int | None = None,
) -> list[Notification]:
    """``user_id``'s visible notifications, newest first (by when they became
    visible); ``state`` is all, unread or read; ``before_id`` continues after that
    notification of the same list. Assumes ``state`` is one of :data:`STATES` and
    ``limit`` is positive (the views check)."""
    now = now or utcnow()
    query = select(Notification).where(*_visible(user_id, now))
    if state == "unread":
        query = query.where(Notification.read_at.is_(None))
    elif state == "read":
        query = query.where(Notification.read_at.is_not(None))
    if before_id is not None:
        anchor = session.scalar(
            select(Notification.visible_from).where(
                Notification.id == before_id, Notification.recipient_id == user_id
            )
        )
        if anchor is None:
            return []
        query = query.where(
            or_(
                Notification.visible_from < anchor,
                and_(Notification.visible_from == anchor, Notification.id < before_id),
            )
        )
    query = query.order_by(Notification.visible_from.desc(), Notification.id.desc()).limit(limit)
    return list(session.scalars(query))


def unread_count(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """How many of ``user_id``'s visible notifications are unread."""
    now = now or utcnow()
    return int(
        session.scalar(
            select(func.count(Notification.id)).where(
                *_visible(user_id, now), Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_read(
    session: Session, user_id: int, notification_id: int, *, now: datetime | None = None
) -> Notification:
    """Mark one of ``user_id``'s notifications read (again is fine) and return it;
    NotificationNotFound when it is someone else's, hidden, or does not exist."""
    now = now or utcnow()
    note = session.scalar(
        select(Notification).where(Notification.id == notification_id, *_visible(user_id, now))
    )
    if note is None:
        raise NotificationNotFound()
    if note.read_at is None:
        note.read_at = now
        session.flush()
    return note


def mark_all_read(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """Mark every visible unread notification of ``user_id`` read; returns how many."""
    now = now or utcnow()
    result = session.execute(
        update(Notification)
        .where(*_visible(user_id, now), Notification.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- permanent failures, as the professional sees them ---------------------------------


def _failures_visible_to(professional_id: int) -> Any:
    return or_(
        OutboxMessage.recipient_id == professional_id,
        OutboxMessage.booking_id.in_(
            select(Booking.id).where(Booking.professional_id == professional_id)
        ),
    )


def failures_for(session: Session, professional_id: int, *, limit: int = 50) -> list[OutboxMessage]:
    """Emails about the professional's bookings (or to the professional) that
    failed for good, latest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == FAILED, _failures_visible_to(professional_id))
            .order_by(OutboxMessage.failed_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def retry_failed(
    session: Session, professional_id: int, outbox_id: int, *, now: datetime | None = None
) -> OutboxMessage:
    """Put a failed email the professional can see back in the queue with fresh
    attempts (after the address or the server was fixed) and return it;
    NotificationNotFound when there is no such failed email for them."""
    now = now or utcnow()
    row = session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == FAILED,
            _failures_visible_to(professional_id),
        )
    )
    if row is None:
        raise NotificationNotFound("No such failed email.")
    row.status, row.failed_at, row.attempts = PENDING, None, 0
    row.next_attempt_at = now
    session.flush()
    note_pending(session, row.id, now)
    return row


__all__ = [
    "NOTIFIER",
    "PENDING_KEY",
    "CalendarPart",
    "Notifier",
    "cancel_pending",
    "failures_for",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "insert_once",
    "note_pending",
    "retry_failed",
    "unread_count",
]
