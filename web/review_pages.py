"""Reviews and no-shows on the booking page and the signed manage link: what each
side sees of them and the forms' actions. The rules live in :mod:`reviews.services`;
this only reads the form and says what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import flash, request
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import CONFIRMED, Booking
from notifications.service import NOTIFIER
from reviews import services as reviews
from reviews.errors import ReviewError, ReviewInvalid
from reviews.models import NO_SHOW_MARK_DAYS, REVIEW_EDIT_DAYS, NoShow, Review
from reviews.services import ClientHistory
from web.session import find

# The form actions this module answers (the booking page's own are cancel, reschedule).
ACTIONS = frozenset({"review", "reply", "report", "no_show", "undo_no_show", "contest"})


@dataclass
class ReviewPanel:
    """Everything the booking page shows about reviews and no-shows."""

    review: Review | None
    no_show: NoShow | None
    # Why the client cannot review now (None: they can), for the client's view.
    closed_reason: str | None
    can_edit: bool
    can_mark_no_show: bool
    history: ClientHistory | None
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)


def review_panel(
    session: Session, booking: Booking, as_professional: bool, now: datetime
) -> ReviewPanel:
    review = reviews.review_of(session, booking.id)
    mark = reviews.no_show_of(session, booking.id)
    ended = booking.end <= now
    in_mark_window = (
        booking.status == CONFIRMED
        and ended
        and now <= booking.end + timedelta(days=NO_SHOW_MARK_DAYS)
    )
    return ReviewPanel(
        review=review,
        no_show=mark,
        closed_reason=reviews.can_review(session, booking, now),
        can_edit=review is not None and now <= review.created_at + timedelta(days=REVIEW_EDIT_DAYS),
        can_mark_no_show=as_professional and in_mark_window,
        history=(
            reviews.client_history(session, booking.professional_id, booking.client_id, now)
            if as_professional
            else None
        ),
    )


def act(
    session: Session, booking: Booking, actor: User, action: str, now: datetime
) -> dict[str, str]:
    """Carry out a review or no-show ``action`` of ``actor`` on ``booking``; flashes
    the outcome. Returns the field errors to show beside the form (empty on success
    or when the refusal is a flashed message)."""
    form = request.form
    try:
        if action == "review":
            rating = int(form["rating"]) if form.get("rating", "").isdigit() else form.get("rating")
            if reviews.review_of(session, booking.id) is None:
                reviews.write_review(session, booking.id, actor, rating, form.get("text", ""), now)
                flash("Thank you: your review is published.", "success")
            else:
                reviews.edit_review(
                    session, booking.id, actor, now, rating=rating, text=form.get("text", "")
                )
                flash("Your review is updated.", "success")
        elif action in ("reply", "report"):
            review = reviews.review_of(session, booking.id)
            if review is None:
                flash("There is no review to answer.", "error")
                return {}
            if action == "reply":
                reviews.reply_to_review(session, review.id, actor, form.get("text", ""), now)
                flash("Your reply is published under the review.", "success")
            else:
                reviews.report_review(session, review.id, actor, form.get("reason", ""), now)
                flash("Reported: the platform's operators will look at this review.", "success")
        elif action == "no_show":
            reviews.mark_no_show(session, find(NOTIFIER), booking.id, actor, now)
            flash("Marked as a no-show. The client is told and can contest it.", "success")
        elif action == "undo_no_show":
            reviews.undo_no_show(session, booking.id, actor, now)
            flash("The no-show is undone.", "success")
        elif action == "contest":
            reviews.contest_no_show(
                session, find(NOTIFIER), booking.id, actor, form.get("text", ""), now
            )
            flash("Sent: the professional and the platform's operators see your answer.", "success")
        session.commit()
    except ReviewInvalid as error:
        session.rollback()
        return error.fields
    except ReviewError as error:
        session.rollback()
        flash(error.message, "error")
    return {}


def form_values(action: str) -> dict[str, str]:
    """What the person typed, to show again beside the errors."""
    return {"action": action, **{k: v for k, v in request.form.items() if k != "csrf_token"}}


__all__ = ["ACTIONS", "ReviewPanel", "act", "form_values", "review_panel"]
