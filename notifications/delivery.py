"""Sending outbox rows: claim, send, record; retries; the sweep.

Exactly once, from the recipient's view
---------------------------------------
SMTP has no two-phase commit: whatever we do, there is a moment between the
server accepting a message (its ``250`` after the data) and our database saying
"sent". Marking the row sent *before* handing it over would lose the message if
we crashed in between, and the platform promises that nothing is lost. So we
choose at-least-once towards the server and make the duplicate window tiny and
harmless:

1. *claim*: one conditional UPDATE takes a pending, due row whose lease is free
   or expired, sets a lease (``claimed_until``) and a fresh ``claim_token``, and
   counts the attempt; committed at once. Two workers can never both hold it.
2. *send*: the message is built from the stored rendering; its Message-ID is
   derived from the idempotency key, so every attempt is the same message.
3. *mark*: right after the server's acceptance, one INSERT records the attempt
   and one UPDATE (guarded by the token) sets ``sent``, in one commit (on
   PostgreSQL over the pooled connection the claim used: no connecting here).

Only a crash between the server's acceptance and that commit (a round trip to
the database) makes the sweep send again once the lease expires, and then the
copy carries the same Message-ID, which mail systems use to recognise the same
message (Gmail files it once). A crash *during* step 2 loses nothing: the server
discards a message whose data never completed, and after the lease the sweep
sends it. The lease (``lease_seconds``) must stay well above the SMTP timeout,
or a slow (not dead) sender could be overtaken and the message go out twice.

Errors: a temporary SMTP error (4xx, connection refused, timeout) schedules the
next attempt with exponential backoff; a 5xx, or running out of attempts, marks
the row ``failed``, records why, and tells the professional concerned in-app.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking
from consult.config import Settings
from consult.db import Database, utcnow
from consult.platform import Platform
from consult.services import Port
from notifications.bookings import BOOKING_CHANGE, expand_change
from notifications.dispatch import DISPATCHER, DueItem
from notifications.errors import MailError, PermanentMailError, TransientMailError
from notifications.mailer import MailConnection, Mailer, OutgoingEmail, build_message
from notifications.models import (
    CANCELLED,
    FAILED,
    PENDING,
    SENT,
    DeliveryAttempt,
    OutboxMessage,
)
from notifications.reminders import GROUP_SUMMARY, REMINDER, refresh_group_summary, refresh_reminder
from notifications.service import Notifier

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"  # not ours to send: sent, cancelled, claimed, not due, gone
    HANDLED = "handled"  # a row of work (a booking change), done: no email of its own


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class DeliveryPolicy:
    """How delivery behaves, from ``[notifications]`` and ``[smtp]`` (every value
    from the settings schema)."""

    sender: str
    base_url: str
    max_attempts: int
    retry_base: timedelta
    retry_max: timedelta
    lease: timedelta
    redispatch_after: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        notifications = settings.notifications
        return cls(
            sender=settings.smtp["from"],
            base_url=settings.app.base_url,
            max_attempts=notifications.max_attempts,
            retry_base=timedelta(seconds=notifications.retry_base_seconds),
            retry_max=timedelta(seconds=notifications.retry_max_seconds),
            lease=timedelta(seconds=notifications.lease_seconds),
            redispatch_after=timedelta(seconds=notifications.redispatch_after_seconds),
        )

    def backoff(self, attempts: int, message_id: int) -> timedelta:
        """Delay after the ``attempts``-th failed attempt: base × 2^(n-1), capped,
        plus up to 10 % spread by message id so a backlog does not retry in step."""
        delay = min(self.retry_base * (2 ** max(0, attempts - 1)), self.retry_max)
        spread = (message_id * 7919 % 1000) / 10000
        return delay + delay * spread


# A refresher rebuilds a message just before its first attempt (a class roster is
# read when the reminder goes out). It returns False to cancel the message instead.
Refresher = Callable[[Notifier, Session, OutboxMessage, datetime], bool]
REFRESHERS: Mapping[str, Refresher] = MappingProxyType(
    {GROUP_SUMMARY: refresh_group_summary, REMINDER: refresh_reminder}
)

# A handler does the work an outbox row stands for instead of mailing it (a booking
# change expands into its emails here, not in the booking's transaction). It runs in
# the claiming transaction and returns False when the row must wait (retried soon).
Handler = Callable[[Notifier, Session, OutboxMessage, datetime], bool]
HANDLERS: Mapping[str, Handler] = MappingProxyType({BOOKING_CHANGE: expand_change})
HANDLER_RETRY = timedelta(seconds=2)
# Messages sent over one mail connection by one job or step: enough to spare the
# connection and the job's start-up (a fork under consult worker), few enough that a
# slow server holds up little else.
BATCH_SIZE = 50


@dataclass(frozen=True)
class Sender:
    """What sending a platform's outbox takes: its database, mailer, policy and the
    notifier that renders what rows of work record."""

    database: Database
    mailer: Mailer
    policy: DeliveryPolicy
    notifier: Notifier


SENDER: Port[Sender] = Port("notifications.sender")


def claim(
    session: Session, outbox_id: int, token: str, now: datetime, lease: timedelta
) -> int | None:
    """Take the row for one attempt (see the module docstring); returns the attempt's
    number, or None when the row is not pending, not due, or leased to someone else."""
    attempts = session.scalar(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .values(
            claimed_until=now + lease,
            claim_token=token,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    return int(attempts) if attempts is not None else None


def _outgoing(row: OutboxMessage) -> OutgoingEmail:
    return OutgoingEmail(
        key=row.idempotency_key,
        to_address=row.to_address,
        to_name=row.to_name,
        subject=row.subject,
        text=row.body_text,
        html=row.body_html,
        date=row.send_after,
        calendar_method=row.calendar_method,
        calendar_ics=row.calendar_ics,
    )


def claim_many(
    session: Session, outbox_ids: Sequence[int], token: str, now: datetime, lease: timedelta
) -> dict[int, int]:
    """:func:`claim` for several rows in one statement: {row id: attempt number} of
    the rows taken (the others are not pending, not due, or leased elsewhere)."""
    if not outbox_ids:
        return {}
    rows = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(outbox_ids)),
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .values(
            claimed_until=now + lease,
            claim_token=token,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage.id, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    return {int(row_id): int(attempts) for row_id, attempts in rows}


def deliver_message(sender: Sender, outbox_id: int, *, now: datetime | None = None) -> Result:
    """Try to send outbox row ``outbox_id`` once (claim, send, record), as of
    ``now`` (default: the current time). Safe to call any number of times from any
    number of processes: only the holder of the claim sends.

    Whatever goes wrong with this one message after its claim (a refresher or
    handler that raises, an address no header can carry, a bug) is recorded on its
    row as a failed attempt, with backoff, like a refused delivery: the message is
    never left pending without a reason, and the caller goes on with the others."""
    claimed_at = now or utcnow()
    token = secrets.token_hex(8)
    with sender.database.session() as session:
        attempts = claim(session, outbox_id, token, claimed_at, sender.policy.lease)
    if attempts is None:
        return Result(Outcome.SKIPPED)
    with sender.mailer.connection() as mail:
        return _attempt(sender, mail, outbox_id, token, attempts, claimed_at, now)


def deliver_batch(
    sender: Sender, outbox_ids: Sequence[int], *, now: datetime | None = None
) -> dict[int, Result]:
    """:func:`deliver_message` for several rows: one claim for all of them, then each
    sent over one mail connection and recorded on its own, as a single delivery is
    (so the duplicate window stays one message wide, and one refused or broken
    message changes nothing for the others). Rows another sender holds are SKIPPED."""
    claimed_at = now or utcnow()
    token = secrets.token_hex(8)
    with sender.database.session() as session:
        claimed = claim_many(session, outbox_ids, token, claimed_at, sender.policy.lease)
    results = {outbox_id: Result(Outcome.SKIPPED) for outbox_id in outbox_ids}
    if not claimed:
        return results
    try:
        plain = _plain_emails(sender, claimed)
    except Exception:  # read them one by one below, each failure recorded on its row
        log.exception("the batch's messages could not be read together")
        plain = {}
    with sender.mailer.connection() as mail:
        for outbox_id in outbox_ids:
            if outbox_id in claimed:
                results[outbox_id] = _attempt(
                    sender,
                    mail,
                    outbox_id,
                    token,
                    claimed[outbox_id],
                    claimed_at,
                    now,
                    prepared=plain.get(outbox_id),
                )
    return results


def _attempt(
    sender: Sender,
    mail: MailConnection,
    outbox_id: int,
    token: str,
    attempts: int,
    claimed_at: datetime,
    now: datetime | None,
    prepared: OutgoingEmail | None = None,
) -> Result:
    """One claimed row: handled, cancelled by its refresher, or sent over ``mail``;
    then recorded. ``prepared`` is the row's email when the caller already read it
    (a plain email row: no handler, no refresher to run)."""
    database = sender.database
    if prepared is not None:
        return _send(sender, mail, outbox_id, token, attempts, prepared, now)
    try:
        with database.session() as session:
            row = session.get(OutboxMessage, outbox_id)
            assert row is not None
            handler = HANDLERS.get(row.kind)
            if handler is not None:
                return _handle(sender.notifier, session, row, handler, claimed_at)
            refresher = REFRESHERS.get(row.kind)
            if (
                refresher is not None
                and row.attempts == 1
                and not refresher(sender.notifier, session, row, claimed_at)
            ):
                row.status, row.cancelled_at = CANCELLED, claimed_at
                row.claimed_until = row.claim_token = None
                return Result(Outcome.SKIPPED)
            email = _outgoing(row)
    except Exception as error:
        log.exception("message %s could not be prepared", outbox_id)
        failure = TransientMailError(f"unexpected error: {type(error).__name__}: {error}")
        return _record_failure(sender, outbox_id, token, attempts, failure, now)
    return _send(sender, mail, outbox_id, token, attempts, email, now)


def _send(
    sender: Sender,
    mail: MailConnection,
    outbox_id: int,
    token: str,
    attempts: int,
    email: OutgoingEmail,
    now: datetime | None,
) -> Result:
    try:
        mail.send(build_message(email, sender.policy.sender))
    except MailError as error:
        return _record_failure(sender, outbox_id, token, attempts, error, now)
    except Exception as error:
        log.exception("message %s could not be built or sent", outbox_id)
        failure = TransientMailError(f"unexpected error: {type(error).__name__}: {error}")
        return _record_failure(sender, outbox_id, token, attempts, failure, now)
    return _record_sent(sender.database, outbox_id, token, now)


def _plain_emails(sender: Sender, claimed: Mapping[int, int]) -> dict[int, OutgoingEmail]:
    """The emails of the claimed rows that are plain messages (no handler to run, no
    refresher due), read in one query; the other rows take the one-by-one path."""
    with sender.database.session(readonly=True) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(list(claimed))))
        return {
            row.id: _outgoing(row)
            for row in rows
            if row.kind not in HANDLERS and not (row.kind in REFRESHERS and claimed[row.id] == 1)
        }


def _handle(
    notifier: Notifier, session: Session, row: OutboxMessage, handler: Handler, now: datetime
) -> Result:
    """Run a handler row in the claiming transaction: what it records commits with the
    row marked done, so a crash either does all of it or leaves the row to retry."""
    row.claimed_until = row.claim_token = None
    if handler(notifier, session, row, now):
        row.status, row.sent_at = SENT, now
        return Result(Outcome.HANDLED)
    row.next_attempt_at = now + HANDLER_RETRY
    return Result(Outcome.RETRY, row.next_attempt_at)


# Both recording transactions write the attempt row before touching the outbox
# row: every transaction that writes both tables takes their locks in one order.


def _record_sent(database: Database, outbox_id: int, token: str, now: datetime | None) -> Result:
    # The duplicate window is this transaction: keep it one INSERT and one UPDATE.
    sent_at = now or utcnow()
    with database.session() as session:
        # Core statements: the unit of work's bookkeeping cost more than the INSERT.
        session.execute(
            insert(DeliveryAttempt).values(
                message_id=outbox_id, attempted_at=sent_at, outcome="sent"
            )
        )
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.claim_token == token)
            .values(
                status=SENT, sent_at=sent_at, claimed_until=None, claim_token=None, last_error=""
            )
            .execution_options(synchronize_session=False)
        )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("message %s was sent after its lease expired; it may go out twice", outbox_id)
    return Result(Outcome.SENT)


def _record_failure(
    sender: Sender,
    outbox_id: int,
    token: str,
    attempts: int,
    error: MailError,
    now: datetime | None,
) -> Result:
    database, policy = sender.database, sender.policy
    at = now or utcnow()
    permanent = isinstance(error, PermanentMailError) or attempts >= policy.max_attempts
    detail = error.message[:2000]
    next_attempt_at = at + policy.backoff(attempts, outbox_id)
    changes: dict[str, Any] = {"claimed_until": None, "claim_token": None, "last_error": detail}
    if permanent:
        changes.update(status=FAILED, failed_at=at)
    else:
        changes.update(next_attempt_at=next_attempt_at)
    with database.session() as session:
        session.add(
            DeliveryAttempt(
                message_id=outbox_id,
                attempted_at=at,
                outcome="failed" if permanent else "retry",
                smtp_code=error.code,
                detail=detail,
            )
        )
        session.flush()
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.claim_token == token)
            .values(**changes)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return Result(Outcome.SKIPPED)  # the lease ran out; the new holder decides
    if not permanent:
        log.warning(
            "email %s: attempt %d failed (%s); next at %s",
            outbox_id,
            attempts,
            error,
            next_attempt_at.isoformat(),
        )
        return Result(Outcome.RETRY, next_attempt_at)
    log.error("email %s failed for good after %d attempt(s): %s", outbox_id, attempts, error)
    with database.session() as session:
        row = session.get(OutboxMessage, outbox_id)
        if row is not None:
            _tell_professional(sender, session, row)
    return Result(Outcome.FAILED)


def _tell_professional(sender: Sender, session: Session, row: OutboxMessage) -> None:
    """An in-app note to the professional whose booking (or own inbox) this was."""
    professional_id: int | None = None
    if row.booking_id is not None:
        booking = session.get(Booking, row.booking_id)
        professional_id = booking.professional_id if booking is not None else None
    if professional_id is None:
        recipient = session.get(User, row.recipient_id)
        if recipient is not None and recipient.is_professional:
            professional_id = recipient.id
    if professional_id is None:
        return
    sender.notifier.record(
        session,
        recipient_id=professional_id,
        kind="delivery_failed",
        context={
            "to_name": row.to_name,
            "to_address": row.to_address,
            "subject": row.subject,
            "error": row.last_error,
            "url": f"{sender.policy.base_url}/notifications/settings#failures",
        },
        idempotency_key=f"delivery_failed:{row.id}",
        booking_id=row.booking_id,
        email=False,
    )


def _due(session: Session, before: datetime, now: datetime, limit: int) -> list[DueItem]:
    """Pending rows due by ``before`` whose lease (if any) has run out at ``now``."""
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.next_attempt_at)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= before,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    return [(row.id, row.next_attempt_at) for row in rows]


def backlog(database: Database, now: datetime) -> tuple[int, float]:
    """How many emails are due and unsent at ``now``, and how long the oldest of
    them has waited (seconds; 0 when none): what an operator alerts on."""
    with database.session(readonly=True) as session:
        count, oldest = session.execute(
            select(func.count(OutboxMessage.id), func.min(OutboxMessage.send_after)).where(
                OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now
            )
        ).one()
    return int(count or 0), max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def next_due(database: Database) -> datetime | None:
    """When the earliest pending row may next be sent (a claimed row: when its
    lease ends), or None when nothing is pending."""
    pending = OutboxMessage.status == PENDING
    with database.session(readonly=True) as session:
        unclaimed = session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                pending, OutboxMessage.claimed_until.is_(None)
            )
        )
        leased = session.scalar(
            select(func.min(OutboxMessage.claimed_until)).where(
                pending, OutboxMessage.claimed_until.is_not(None)
            )
        )
    candidates = [value for value in (unclaimed, leased) if value is not None]
    return min(candidates) if candidates else None


def deliver_due(
    sender: Sender,
    *,
    now: datetime | None = None,
    limit: int = 500,
    overdue_by: timedelta = timedelta(0),
) -> dict[Outcome, int]:
    """Send, one after the other, the rows that have been due for at least
    ``overdue_by`` at ``now`` (default: the current time), at most ``limit`` of
    them. The in-process sender's step, and the tests' controllable clock.
    Returns how many ended in each outcome."""
    counts = {outcome: 0 for outcome in Outcome}
    seen: set[int] = set()
    while True:
        at = now or utcnow()  # again each round: handled rows add messages due "now"
        with sender.database.session(readonly=True) as session:
            due = [
                item for item in _due(session, at - overdue_by, at, limit) if item[0] not in seen
            ]
        if not due:
            return counts
        handled = False
        ids = [outbox_id for outbox_id, _ in due]
        seen.update(ids)
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            try:
                results = list(deliver_batch(sender, chunk, now=now).values())
            except Exception:  # the database itself, say: the others may still go
                log.exception("delivering %d messages failed; they are retried later", len(chunk))
                results = [Result(Outcome.RETRY)] * len(chunk)
            for result in results:
                counts[result.outcome] += 1
                handled = handled or result.outcome is Outcome.HANDLED
        # Rows that were work (a booking change) may have added messages due now:
        # this step made them, so it sends them without waiting for them to be overdue.
        if not handled or len(seen) >= limit:
            return counts
        overdue_by = timedelta(0)


def sweep(
    sender: Sender,
    *,
    now: datetime | None = None,
    limit: int = 200,
) -> dict[Outcome, int]:
    """Send the rows that have been due for ``redispatch_after`` without being sent:
    their job was lost (Redis was down at commit or restarted empty, a worker died,
    a lease ran out). ``consult worker`` runs this every ``sweep_seconds``.

    It sends them itself instead of enqueueing them again. A job that is merely
    slow (a backlog) would otherwise get a twin every sweep and the queue would
    grow faster than it drains; this way the sweep only adds one more sender,
    the claim keeps it from sending what a job sends, and mail still goes out
    while Redis is down (rq's worker waits for Redis; this thread does not)."""
    counts = deliver_due(sender, now=now, limit=limit, overdue_by=sender.policy.redispatch_after)
    if counts[Outcome.SENT] or counts[Outcome.RETRY] or counts[Outcome.FAILED]:
        log.info("sweep: %s", ", ".join(f"{o.value} {n}" for o, n in counts.items() if n))
    return counts


# --- the job ----------------------------------------------------------------------------


def deliver_many(platform: Platform, outbox_ids: Sequence[int]) -> dict[str, int]:
    """Job: send the rows ``outbox_ids`` over one mail connection (see
    :func:`deliver_batch`); hand each temporary failure's next attempt to the
    dispatcher. Returns how many ended in each outcome."""
    results = deliver_batch(platform.find(SENDER), list(outbox_ids))
    retries = [
        (outbox_id, result.next_attempt_at)
        for outbox_id, result in results.items()
        if result.outcome is Outcome.RETRY and result.next_attempt_at
    ]
    if retries:
        platform.find(DISPATCHER).dispatch(retries)
    counts: dict[str, int] = {}
    for result in results.values():
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return counts


def deliver(platform: Platform, outbox_id: int) -> str:
    """Job: try to send outbox row ``outbox_id`` with the platform's sender; after a
    temporary error, hand the next attempt to the dispatcher. Returns the outcome."""
    result = deliver_message(platform.find(SENDER), outbox_id)
    if result.outcome is Outcome.RETRY and result.next_attempt_at:
        platform.find(DISPATCHER).dispatch([(outbox_id, result.next_attempt_at)])
    return result.outcome.value
