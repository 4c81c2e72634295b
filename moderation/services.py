"""What operators do: the queue of reported reviews and contested no-shows, hiding
and restoring reviews, suspending and unsuspending accounts, and the log of it all.

Every function runs in the caller's transaction and takes ``now``. Each action
writes its :class:`~moderation.models.OperatorAction` row in that same
transaction, so an action is logged if and only if it happened. The functions
check that ``operator`` holds the role; the web layer checks it first too, and
answers 404 to anyone else so that the area's existence is not revealed.

Operators see reviews, no-show contests and accounts: never booking messages or
video, which stay between the two people of a booking.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from accounts.models import User
from accounts.services import (
    Registration,
    email_problem,
    normalize_email,
    register,
    sign_out_everywhere,
)
from booking.bookings import cancel, lock_professional, upcoming_bookings_of
from booking.models import Booking, Service
from consult.text import InvalidText, clean_text
from moderation.errors import (
    ActionNotAllowed,
    ConfirmationRequired,
    ModerationInvalid,
    ModerationNotFound,
)
from moderation.models import (
    HANDLE_NO_SHOW,
    HIDE_REVIEW,
    MAX_REASON,
    NO_SHOW,
    RESTORE_REVIEW,
    REVIEW,
    SUSPEND_USER,
    UNSUSPEND_USER,
    USER,
    OperatorAction,
)
from reviews.models import NoShow, Review

# What the clients of a suspended professional read in their cancellation (the
# operator's reason is for the operators' records, not for them).
SUSPENSION_CANCEL_REASON = (
    "This professional can no longer take bookings on the platform, so the booking "
    "is cancelled. Any payment is refunded in full."
)
QUEUE_LIMIT = 200
ACCOUNTS_LIMIT = 20
LOG_PAGE_SIZE = 50
# Long enough to resist guessing, short enough to type once and then change.
GENERATED_PASSWORD_BYTES = 15


# --- input and the log ------------------------------------------------------------------


def parse_reason(value: Any, *, required: bool) -> str:
    """``value`` as a reason (trimmed, at most :data:`MAX_REASON` characters, line
    breaks allowed); ModerationInvalid naming ``reason`` otherwise."""
    if value is None and required:
        raise ModerationInvalid({"reason": "Give a reason."})
    try:
        return clean_text(value, max_length=MAX_REASON, multiline=True, required=required)
    except InvalidText as error:
        raise ModerationInvalid({"reason": error.message}) from error


def _check_operator(operator: User) -> None:
    if not operator.is_operator or operator.suspended_at is not None:
        raise ModerationNotFound("page")


def _log(
    session: Session,
    operator: User,
    action: str,
    target_type: str,
    target_id: int,
    reason: str,
    now: datetime,
) -> OperatorAction:
    entry = OperatorAction(
        operator_id=operator.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


# --- the queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportedReview:
    review: Review
    professional: User
    client: User
    service_title: str


@dataclass(frozen=True)
class ContestedNoShow:
    mark: NoShow
    booking: Booking
    professional: User
    client: User
    service_title: str


@dataclass(frozen=True)
class Queue:
    reviews: list[ReportedReview]
    no_shows: list[ContestedNoShow]


def queue(session: Session, operator: User) -> Queue:
    """Reported reviews not yet hidden or restored, and contested no-shows not yet
    handled: oldest first, at most :data:`QUEUE_LIMIT` of each."""
    _check_operator(operator)
    professional, client = aliased(User), aliased(User)
    review_rows = session.execute(
        select(Review, professional, client, Service.title)
        .join(professional, professional.id == Review.professional_id)
        .join(client, client.id == Review.client_id)
        .join(Service, Service.id == Review.service_id)
        .where(Review.reported_at.is_not(None), Review.hidden_at.is_(None))
        .order_by(Review.reported_at, Review.id)
        .limit(QUEUE_LIMIT)
    ).all()
    no_show_rows = session.execute(
        select(NoShow, Booking, professional, client, Service.title)
        .join(Booking, Booking.id == NoShow.booking_id)
        .join(professional, professional.id == Booking.professional_id)
        .join(client, client.id == Booking.client_id)
        .join(Service, Service.id == Booking.service_id)
        .where(NoShow.contested_at.is_not(None), NoShow.contest_handled_at.is_(None))
        .order_by(NoShow.contested_at, NoShow.booking_id)
        .limit(QUEUE_LIMIT)
    ).all()
    return Queue(
        [ReportedReview(*row) for row in review_rows],
        [ContestedNoShow(*row) for row in no_show_rows],
    )


# --- reviews ----------------------------------------------------------------------------


def _review(session: Session, review_id: int) -> Review:
    # Locked for the check-then-write; OF review, as the booking is joined in eagerly
    # (PostgreSQL refuses FOR UPDATE on the nullable side of that outer join).
    review = session.scalar(
        select(Review)
        .where(Review.id == review_id)
        .with_for_update(of=Review)
        .execution_options(populate_existing=True)
    )
    if review is None:
        raise ModerationNotFound("review")
    return review


def hide_review(
    session: Session, operator: User, review_id: int, reason: Any, now: datetime
) -> Review:
    """Hide a review from the public with a reason both its client and its
    professional see. Hiding a hidden review is refused (restore it first)."""
    _check_operator(operator)
    words = parse_reason(reason, required=True)
    review = _review(session, review_id)
    if review.hidden_at is not None:
        raise ActionNotAllowed("This review is hidden already.")
    review.hidden_at, review.hidden_reason = now, words
    _log(session, operator, HIDE_REVIEW, REVIEW, review.id, words, now)
    return review


def restore_review(
    session: Session, operator: User, review_id: int, reason: Any, now: datetime
) -> Review:
    """Keep (or put back) a review on show: the report is cleared, and a hidden one
    is shown again. ``reason`` is optional, for the log."""
    _check_operator(operator)
    words = parse_reason(reason, required=False)
    review = _review(session, review_id)
    if review.reported_at is None and review.hidden_at is None:
        raise ActionNotAllowed("This review is neither reported nor hidden.")
    review.reported_at, review.report_reason = None, ""
    review.hidden_at, review.hidden_reason = None, ""
    _log(session, operator, RESTORE_REVIEW, REVIEW, review.id, words, now)
    return review


# --- no-shows ---------------------------------------------------------------------------


def handle_no_show(
    session: Session, operator: User, booking_id: int, reason: Any, now: datetime
) -> NoShow:
    """Take a contested no-show off the queue (the mark itself stays as it is)."""
    _check_operator(operator)
    words = parse_reason(reason, required=False)
    mark = session.get(NoShow, booking_id, with_for_update=True, populate_existing=True)
    if mark is None or mark.contested_at is None:
        raise ModerationNotFound("contested no-show")
    if mark.contest_handled_at is not None:
        raise ActionNotAllowed("This contested no-show has been handled already.")
    mark.contest_handled_at = now
    _log(session, operator, HANDLE_NO_SHOW, NO_SHOW, booking_id, words, now)
    return mark


# --- accounts ---------------------------------------------------------------------------


def find_accounts(session: Session, operator: User, email: Any) -> list[User]:
    """Accounts whose email contains ``email`` (any letter case), the exact match
    first, at most :data:`ACCOUNTS_LIMIT`; none for an empty or unusable query."""
    _check_operator(operator)
    if not isinstance(email, str):
        return []
    try:
        wanted = normalize_email(clean_text(email, max_length=254, required=True))
    except InvalidText:
        return []
    escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    exact = User.email_normalized == wanted
    return list(
        session.scalars(
            select(User)
            .where(User.email_normalized.like(f"%{escaped}%", escape="\\"))
            .order_by(exact.desc(), User.email_normalized)
            .limit(ACCOUNTS_LIMIT)
        )
    )


def get_account(session: Session, operator: User, user_id: int) -> User:
    _check_operator(operator)
    user = session.get(User, user_id)
    if user is None:
        raise ModerationNotFound("account")
    return user


def bookings_to_cancel(session: Session, user: User, now: datetime) -> int:
    """How many bookings suspending ``user`` would cancel: their active bookings as
    a professional that start after ``now``."""
    return len(upcoming_bookings_of(session, user.id, now))


@dataclass(frozen=True)
class Suspension:
    user: User
    cancelled: list[int]  # the ids of the bookings it cancelled


def suspend(
    session: Session,
    operator: User,
    user_id: int,
    reason: Any,
    now: datetime,
    *,
    confirm: bool,
) -> Suspension:
    """Suspend an account: it cannot sign in, every browser session and API token
    ends, a professional disappears from search and their page, and each of their
    future bookings is cancelled by the booking service (actor ``system``), so its
    client is told and a payment refunded by the ``booking_changed`` hooks.

    Without ``confirm`` nothing changes: ConfirmationRequired says how many bookings
    it would cancel. Suspending oneself, or a suspended account, is refused."""
    user = get_account(session, operator, user_id)
    words = parse_reason(reason, required=True)
    if user.id == operator.id:
        raise ActionNotAllowed("You cannot suspend your own account.")
    if user.suspended_at is not None:
        raise ActionNotAllowed("This account is suspended already.")
    if not confirm:
        raise ConfirmationRequired(bookings_to_cancel(session, user, now))
    # The calendar lock before any row is written (the store's lock order), and held
    # to the commit: a booking waiting for it then sees the suspension and is refused.
    lock_professional(session, user)
    user.suspended_at, user.suspension_reason = now, words
    session.flush()
    cancelled = []
    for booking in upcoming_bookings_of(session, user.id, now):
        cancel(session, booking, by="system", now=now, reason=SUSPENSION_CANCEL_REASON)
        cancelled.append(booking.id)
    sign_out_everywhere(session, user)
    _log(session, operator, SUSPEND_USER, USER, user.id, words, now)
    return Suspension(user, cancelled)


def unsuspend(session: Session, operator: User, user_id: int, reason: Any, now: datetime) -> User:
    """Lift a suspension: the account can sign in and is listed again (bookings
    cancelled by the suspension stay cancelled). ``reason`` is optional."""
    user = get_account(session, operator, user_id)
    words = parse_reason(reason, required=False)
    if user.suspended_at is None:
        raise ActionNotAllowed("This account is not suspended.")
    user.suspended_at, user.suspension_reason = None, ""
    _log(session, operator, UNSUSPEND_USER, USER, user.id, words, now)
    return user


# --- the log ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedAction:
    action: OperatorAction
    operator_email: str


@dataclass(frozen=True)
class ActionPage:
    actions: list[LoggedAction]
    page: int
    pages: int


def action_log(session: Session, operator: User, page: int = 1) -> ActionPage:
    """The log, newest first, :data:`LOG_PAGE_SIZE` a page (``page`` is clamped)."""
    _check_operator(operator)
    total = session.scalar(select(func.count()).select_from(OperatorAction)) or 0
    pages = max(1, -(-int(total) // LOG_PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(
        select(OperatorAction, User.email)
        .join(User, User.id == OperatorAction.operator_id)
        .order_by(OperatorAction.created_at.desc(), OperatorAction.id.desc())
        .limit(LOG_PAGE_SIZE)
        .offset((page - 1) * LOG_PAGE_SIZE)
    ).all()
    return ActionPage([LoggedAction(action, email) for action, email in rows], page, pages)


# --- granting the role (the CLI) --------------------------------------------------------


@dataclass(frozen=True)
class OperatorGrant:
    user: User
    created: bool
    already: bool  # the account held the role before
    password: str | None  # the generated password of a new account, shown once


def create_operator(session: Session, email: Any) -> OperatorGrant:
    """Give the operator role to the account with ``email``, or create one (with
    neither client nor professional role) with a generated password. The only way
    to the role: registration never sets it. ModerationInvalid for a bad email."""
    problem = email_problem(email)
    if problem is not None:
        raise ModerationInvalid({"email": problem})
    assert isinstance(email, str)
    address = email.strip()
    existing = session.scalar(select(User).where(User.email_normalized == normalize_email(address)))
    if existing is not None:
        already = existing.is_operator
        existing.is_operator = True
        return OperatorGrant(existing, created=False, already=already, password=None)
    password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    name = address.split("@", 1)[0][:120] or "Operator"
    user = register(session, Registration(address, password, name, role=""))
    user.is_operator = True
    return OperatorGrant(user, created=True, already=False, password=password)
