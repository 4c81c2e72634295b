"""Writing, editing, replying to and reporting reviews; what a profile shows of them;
the invitation to review; no-shows and their contest.

Every function runs in the caller's transaction and takes ``now`` (tests pass their
own clock). Authorization is part of each rule: a booking or review that is not the
caller's is :class:`ReviewNotFound`, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from booking.links import manage_token
from booking.models import CONFIRMED, Booking, Service
from consult.text import InvalidText, clean_text
from notifications.service import Notifier
from reviews.errors import (
    AlreadyReplied,
    AlreadyReviewed,
    NoShowNotAllowed,
    ReviewInvalid,
    ReviewLocked,
    ReviewNotFound,
    ReviewNotOpen,
)
from reviews.models import (
    INVITE_AFTER_MINUTES,
    INVITE_WITHIN_DAYS,
    MAX_CONTEST_TEXT,
    MAX_REPLY_TEXT,
    MAX_REVIEW_TEXT,
    NO_SHOW_MARK_DAYS,
    REVIEW_EDIT_DAYS,
    NoShow,
    Review,
    ReviewInvitation,
)

# The Bayesian average of search: every professional starts with this many
# imaginary reviews at the platform's mean, so one 5-star review does not outrank
# eighty at 4.8.
PRIOR_WEIGHT = 10
# The mean assumed before the platform has any review.
PRIOR_MEAN = 4.0
PAGE_SIZE = 10


# --- input ----------------------------------------------------------------------------


def parse_rating(value: Any, errors: dict[str, str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        errors["rating"] = "Give a whole number of stars from 1 to 5."
        return None
    return value


def parse_text(
    value: Any, name: str, max_length: int, errors: dict[str, str], *, required: bool = False
) -> str:
    try:
        return clean_text(value, max_length=max_length, multiline=True, required=required)
    except InvalidText as error:
        errors[name] = error.message
        return ""


def _checked(errors: Mapping[str, str]) -> None:
    if errors:
        raise ReviewInvalid(errors)


# --- reviews ----------------------------------------------------------------------------


def _clients_booking(session: Session, booking_id: int, client: User) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None or booking.client_id != client.id:
        raise ReviewNotFound("booking")
    return booking


def review_of(session: Session, booking_id: int) -> Review | None:
    return session.scalar(select(Review).where(Review.booking_id == booking_id))


def can_review(session: Session, booking: Booking, now: datetime) -> str | None:
    """Why the client cannot review ``booking`` now, or None when they can."""
    if booking.status != CONFIRMED:
        return "Only sessions that took place can be reviewed; this one was cancelled."
    if booking.end > now:
        return "You can review this session once it has ended."
    if no_show_of(session, booking.id) is not None:
        return "This session was marked as a no-show, so it cannot be reviewed."
    return None


def write_review(
    session: Session, booking_id: int, client: User, rating: Any, text: Any, now: datetime
) -> Review:
    """The client's review of their booking, once it took place (201 in the API)."""
    booking = _clients_booking(session, booking_id, client)
    errors: dict[str, str] = {}
    stars = parse_rating(rating, errors)
    words = parse_text(text, "text", MAX_REVIEW_TEXT, errors)
    _checked(errors)
    reason = can_review(session, booking, now)
    if reason is not None:
        raise ReviewNotOpen(reason)
    if review_of(session, booking.id) is not None:
        raise AlreadyReviewed()
    review = Review(
        booking_id=booking.id,
        professional_id=booking.professional_id,
        client_id=client.id,
        service_id=booking.service_id,
        rating=stars,
        text=words,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(review)
    except IntegrityError as error:  # the same client, twice at once
        raise AlreadyReviewed() from error
    return review


def edit_review(
    session: Session,
    booking_id: int,
    client: User,
    now: datetime,
    *,
    rating: Any = None,
    text: Any = None,
) -> Review:
    """Change the rating and/or text within :data:`REVIEW_EDIT_DAYS` of writing it."""
    booking = _clients_booking(session, booking_id, client)
    review = review_of(session, booking.id)
    if review is None:
        raise ReviewNotFound()
    errors: dict[str, str] = {}
    stars = parse_rating(rating, errors) if rating is not None else review.rating
    words = parse_text(text, "text", MAX_REVIEW_TEXT, errors) if text is not None else review.text
    _checked(errors)
    if now > review.created_at + timedelta(days=REVIEW_EDIT_DAYS):
        raise ReviewLocked(
            f"Reviews can be changed for {REVIEW_EDIT_DAYS} days; this one is final now."
        )
    review.rating, review.text, review.updated_at = stars or review.rating, words, now
    return review


def _professionals_review(session: Session, review_id: int, professional: User) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.professional_id != professional.id:
        raise ReviewNotFound()
    return review


def reply_to_review(
    session: Session, review_id: int, professional: User, text: Any, now: datetime
) -> Review:
    """The professional's one public reply."""
    review = _professionals_review(session, review_id, professional)
    errors: dict[str, str] = {}
    words = parse_text(text, "text", MAX_REPLY_TEXT, errors, required=True)
    _checked(errors)
    if review.replied_at is not None:
        raise AlreadyReplied()
    review.reply_text, review.replied_at = words, now
    return review


def report_review(
    session: Session, review_id: int, professional: User, reason: Any, now: datetime
) -> Review:
    """Ask the operators to look at a review (reporting again updates the reason)."""
    review = _professionals_review(session, review_id, professional)
    errors: dict[str, str] = {}
    words = parse_text(reason, "reason", MAX_REPLY_TEXT, errors, required=True)
    _checked(errors)
    review.reported_at, review.report_reason = now, words
    return review


# --- what profiles and search show ------------------------------------------------------


def display_name(name: str) -> str:
    """A reviewer as shown publicly: first name and the initial of the last."""
    parts = name.split()
    if not parts:
        return "A client"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0].upper()}."


def shown() -> Any:
    """Reviews that appear publicly: not hidden by an operator, not of a no-show."""
    return Review.hidden_at.is_(None) & ~exists().where(NoShow.booking_id == Review.booking_id)


@dataclass(frozen=True)
class RatingSummary:
    count: int = 0
    average: float | None = None  # one decimal
    distribution: Mapping[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))


def rating_summary(session: Session, professional_id: int) -> RatingSummary:
    rows = session.execute(
        select(Review.rating, func.count())
        .where(Review.professional_id == professional_id, shown())
        .group_by(Review.rating)
    ).all()
    distribution = dict.fromkeys(range(1, 6), 0)
    for rating, count in rows:
        distribution[int(rating)] = int(count)
    count = sum(distribution.values())
    if not count:
        return RatingSummary(distribution=distribution)
    total = sum(stars * n for stars, n in distribution.items())
    return RatingSummary(count, round(total / count, 1), distribution)


def ratings_of(session: Session, professional_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """(average, count) of each professional with shown reviews, for search hits."""
    ids = list(professional_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Review.professional_id, func.avg(Review.rating), func.count())
        .where(Review.professional_id.in_(ids), shown())
        .group_by(Review.professional_id)
    ).all()
    return {int(pid): (round(float(avg), 1), int(count)) for pid, avg, count in rows}


def rating_totals(professional_id: Any) -> tuple[Any, Any]:
    """(sum of stars, number of reviews) shown for the professional whose id is the
    column ``professional_id``: correlated subqueries for a search statement."""
    mine = (Review.professional_id == professional_id) & shown()
    total = select(func.coalesce(func.sum(Review.rating), 0)).where(mine).scalar_subquery()
    count = select(func.count()).select_from(Review).where(mine).scalar_subquery()
    return total, count


def platform_mean(session: Session) -> float:
    mean = session.scalar(select(func.avg(Review.rating)).where(shown()))
    return float(mean) if mean is not None else PRIOR_MEAN


def bayesian_average(average: float | None, count: int, prior_mean: float) -> float:
    """The rating search sorts by: ``count`` reviews at ``average`` blended with
    :data:`PRIOR_WEIGHT` imaginary ones at the platform's mean."""
    total = (average or 0.0) * count
    return (PRIOR_WEIGHT * prior_mean + total) / (PRIOR_WEIGHT + count)


@dataclass(frozen=True)
class PublicReview:
    id: int
    rating: int
    text: str
    reviewer: str
    service_title: str
    created_at: datetime
    reply_text: str
    replied_at: datetime | None


@dataclass(frozen=True)
class ReviewPage:
    summary: RatingSummary
    reviews: list[PublicReview]
    page: int
    pages: int


def public_reviews(session: Session, professional_id: int, page: int = 1) -> ReviewPage:
    """Shown reviews of a professional, newest first, :data:`PAGE_SIZE` a page."""
    summary = rating_summary(session, professional_id)
    pages = max(1, -(-summary.count // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(
        select(Review, User.name, Service.title)
        .join(User, User.id == Review.client_id)
        .join(Service, Service.id == Review.service_id)
        .where(Review.professional_id == professional_id, shown())
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    reviews = [
        PublicReview(
            review.id,
            review.rating,
            review.text,
            display_name(name),
            title,
            review.created_at,
            review.reply_text,
            review.replied_at,
        )
        for review, name, title in rows
    ]
    return ReviewPage(summary, reviews, page, pages)


# --- the invitation ---------------------------------------------------------------------


def send_invitations(session: Session, notifier: Notifier, now: datetime) -> int:
    """Invite the client of every session that ended at least
    :data:`INVITE_AFTER_MINUTES` ago (and within :data:`INVITE_WITHIN_DAYS`), once:
    not cancelled, not a no-show, not reviewed. Returns how many were invited."""
    due = session.scalars(
        select(Booking)
        .where(
            Booking.status == CONFIRMED,
            Booking.end <= now - timedelta(minutes=INVITE_AFTER_MINUTES),
            Booking.end > now - timedelta(days=INVITE_WITHIN_DAYS),
            ~exists().where(ReviewInvitation.booking_id == Booking.id),
            ~exists().where(Review.booking_id == Booking.id),
            ~exists().where(NoShow.booking_id == Booking.id),
        )
        .order_by(Booking.end)
        .limit(500)
    ).all()
    for booking in due:
        session.add(ReviewInvitation(booking_id=booking.id, invited_at=now))
        token = manage_token(booking, notifier.site.secret_key)
        professional = session.get(User, booking.professional_id)
        notifier.notify(
            session,
            recipient_id=booking.client_id,
            kind="review_invitation",
            context={
                "service_title": booking.service.title,
                "other_name": professional.name if professional else "",
                "start": booking.start,
                "end": booking.end,
                "url": f"{notifier.site.base_url}/manage/{token}#review",
            },
            idempotency_key=f"review-invitation:{booking.id}",
            booking_id=booking.id,
        )
    return len(due)


# --- no-shows ---------------------------------------------------------------------------


def _professionals_booking(session: Session, booking_id: int, professional: User) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None or booking.professional_id != professional.id:
        raise ReviewNotFound("booking")
    return booking


def _within_marking_window(booking: Booking, now: datetime) -> None:
    if booking.status != CONFIRMED:
        raise NoShowNotAllowed("A cancelled booking cannot be a no-show.")
    if now < booking.end:
        raise NoShowNotAllowed("You can mark a no-show once the session has ended.")
    if now > booking.end + timedelta(days=NO_SHOW_MARK_DAYS):
        raise NoShowNotAllowed(
            f"No-shows are marked within {NO_SHOW_MARK_DAYS} days of the session's end."
        )


def no_show_of(session: Session, booking_id: int) -> NoShow | None:
    return session.get(NoShow, booking_id)


def mark_no_show(
    session: Session, notifier: Notifier, booking_id: int, professional: User, now: datetime
) -> NoShow:
    """Record that the client did not come, and tell them (marking twice is a no-op)."""
    booking = _professionals_booking(session, booking_id, professional)
    _within_marking_window(booking, now)
    existing = no_show_of(session, booking.id)
    if existing is not None:
        return existing
    mark = NoShow(booking_id=booking.id, marked_at=now)
    session.add(mark)
    session.flush()
    token = manage_token(booking, notifier.site.secret_key)
    notifier.notify(
        session,
        recipient_id=booking.client_id,
        kind="no_show_marked",
        context={
            "service_title": booking.service.title,
            "other_name": professional.name,
            "start": booking.start,
            "end": booking.end,
            "url": f"{notifier.site.base_url}/manage/{token}#no-show",
        },
        idempotency_key=f"no-show:{booking.id}:{now.isoformat()}",
        booking_id=booking.id,
    )
    return mark


def undo_no_show(session: Session, booking_id: int, professional: User, now: datetime) -> None:
    booking = _professionals_booking(session, booking_id, professional)
    _within_marking_window(booking, now)
    mark = no_show_of(session, booking.id)
    if mark is None:
        raise NoShowNotAllowed("This booking is not marked as a no-show.")
    session.delete(mark)


def contest_no_show(
    session: Session, notifier: Notifier, booking_id: int, client: User, text: Any, now: datetime
) -> NoShow:
    """The client says they did come: their words go to the professional, and the
    contested mark is flagged for the operators. Once per mark."""
    booking = _clients_booking(session, booking_id, client)
    errors: dict[str, str] = {}
    words = parse_text(text, "text", MAX_CONTEST_TEXT, errors, required=True)
    _checked(errors)
    mark = no_show_of(session, booking.id)
    if mark is None:
        raise NoShowNotAllowed("This booking is not marked as a no-show.")
    if mark.contested_at is not None:
        raise NoShowNotAllowed("You have contested this no-show already.")
    mark.contested_at, mark.contest_text = now, words
    notifier.notify(
        session,
        recipient_id=booking.professional_id,
        kind="no_show_contested",
        context={
            "service_title": booking.service.title,
            "other_name": client.name,
            "start": booking.start,
            "end": booking.end,
            "contest_text": words,
        },
        idempotency_key=f"no-show-contested:{booking.id}:{now.isoformat()}",
        booking_id=booking.id,
    )
    return mark


@dataclass(frozen=True)
class ClientHistory:
    """A client's past with one professional, shown on the professional's booking page."""

    sessions: int
    no_shows: int
    cancelled: int


def client_history(
    session: Session, professional_id: int, client_id: int, now: datetime
) -> ClientHistory:
    mine = (Booking.professional_id == professional_id) & (Booking.client_id == client_id)
    no_shows = (
        session.scalar(select(func.count()).select_from(NoShow).join(Booking).where(mine)) or 0
    )
    sessions = (
        session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(mine, Booking.status == CONFIRMED, Booking.end <= now)
        )
        or 0
    )
    cancelled = (
        session.scalar(
            select(func.count()).select_from(Booking).where(mine, Booking.status != CONFIRMED)
        )
        or 0
    )
    return ClientHistory(int(sessions) - int(no_shows), int(no_shows), int(cancelled))
