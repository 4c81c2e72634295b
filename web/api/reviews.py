"""Reviews and no-shows over the API.

- ``POST /api/v1/bookings/{id}/review {rating, text?}`` → 201; ``GET`` → the review;
  ``PATCH {rating?, text?}`` within 14 days of writing it.
- ``POST /api/v1/reviews/{id}/reply {text}`` → 201 (once); ``POST
  /api/v1/reviews/{id}/report {reason}`` → 202.
- ``GET /api/v1/professionals/{principal}/reviews?page=`` → the rating summary and
  a page of reviews, newest first (public).
- ``POST /api/v1/bookings/{id}/no-show`` → 201 and ``DELETE`` → 204 (the
  professional, within 7 days of the end); ``POST /api/v1/bookings/{id}/no-show/contest
  {text}`` → 201 (the client).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import g, jsonify, request

from accounts.models import User
from consult.db import utcnow
from directory.profiles import listed_professional
from notifications.service import NOTIFIER
from reviews import services as reviews
from reviews.errors import ReviewNotFound
from reviews.models import REVIEW_EDIT_DAYS, NoShow, Review
from reviews.services import PublicReview, RatingSummary
from web.api.blueprint import bp
from web.api.helpers import json_body, require_user
from web.errors import ApiError
from web.session import find, get_session


def review_json(review: Review, viewer: User) -> dict[str, Any]:
    """A review as its client or its professional sees it."""
    body: dict[str, Any] = {
        "id": review.id,
        "booking_id": review.booking_id,
        "rating": review.rating,
        "text": review.text,
        "created_at": review.created_at.isoformat(),
        "updated_at": review.updated_at.isoformat(),
        "editable_until": (review.created_at + timedelta(days=REVIEW_EDIT_DAYS)).isoformat(),
        "reply": (
            {"text": review.reply_text, "at": review.replied_at.isoformat()}
            if review.replied_at
            else None
        ),
        "hidden": review.hidden_at is not None,
    }
    if review.hidden_at is not None:
        # Both sides learn why an operator hid it (issue 19).
        body["hidden_reason"] = review.hidden_reason
    if viewer.id == review.professional_id:
        body["reported"] = review.reported_at is not None
    return body


def summary_json(summary: RatingSummary) -> dict[str, Any]:
    return {
        "average": summary.average,
        "count": summary.count,
        "distribution": {str(stars): n for stars, n in summary.distribution.items()},
    }


def public_review_json(review: PublicReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "rating": review.rating,
        "text": review.text,
        "reviewer": review.reviewer,
        "service": review.service_title,
        "created_at": review.created_at.isoformat(),
        "reply": (
            {"text": review.reply_text, "at": review.replied_at.isoformat()}
            if review.replied_at
            else None
        ),
    }


def no_show_json(mark: NoShow) -> dict[str, Any]:
    return {
        "booking_id": mark.booking_id,
        "marked_at": mark.marked_at.isoformat(),
        "contested_at": mark.contested_at.isoformat() if mark.contested_at else None,
        "contest_text": mark.contest_text,
    }


# --- the client's review ----------------------------------------------------------------


@bp.post("/bookings/<int:booking_id>/review")
@require_user
def write_review(booking_id: int) -> Any:
    data = json_body()
    session = get_session()
    review = reviews.write_review(
        session, booking_id, g.user, data.get("rating"), data.get("text"), utcnow()
    )
    session.flush()
    body = review_json(review, g.user)
    session.commit()
    return jsonify(body), 201


@bp.get("/bookings/<int:booking_id>/review")
@require_user
def read_review(booking_id: int) -> Any:
    session = get_session()
    review = reviews.review_of(session, booking_id)
    if review is None or g.user.id not in (review.client_id, review.professional_id):
        raise ReviewNotFound()
    return jsonify(review_json(review, g.user))


@bp.patch("/bookings/<int:booking_id>/review")
@require_user
def edit_review(booking_id: int) -> Any:
    data = json_body()
    session = get_session()
    review = reviews.edit_review(
        session, booking_id, g.user, utcnow(), rating=data.get("rating"), text=data.get("text")
    )
    body = review_json(review, g.user)
    session.commit()
    return jsonify(body)


# --- the professional's reply and report ------------------------------------------------


@bp.post("/reviews/<int:review_id>/reply")
@require_user
def reply_to_review(review_id: int) -> Any:
    data = json_body()
    session = get_session()
    review = reviews.reply_to_review(session, review_id, g.user, data.get("text"), utcnow())
    body = review_json(review, g.user)
    session.commit()
    return jsonify(body), 201


@bp.post("/reviews/<int:review_id>/report")
@require_user
def report_review(review_id: int) -> Any:
    data = json_body()
    session = get_session()
    review = reviews.report_review(session, review_id, g.user, data.get("reason"), utcnow())
    body = review_json(review, g.user)
    session.commit()
    return jsonify(body), 202


# --- public ------------------------------------------------------------------------------


@bp.get("/professionals/<principal>/reviews")
def professional_reviews(principal: str) -> Any:
    session = get_session()
    professional = listed_professional(session, principal)
    if professional is None:
        raise ApiError(404, "not_found", "No such professional.")
    raw_page = request.args.get("page", "1")
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= 10_000:
        raise ApiError(400, "bad_request", "page must be a whole number from 1 to 10000.")
    found = reviews.public_reviews(session, professional.id, int(raw_page))
    return jsonify(
        {
            **summary_json(found.summary),
            "page": found.page,
            "pages": found.pages,
            "reviews": [public_review_json(review) for review in found.reviews],
        }
    )


# --- no-shows -----------------------------------------------------------------------------


@bp.post("/bookings/<int:booking_id>/no-show")
@require_user
def mark_no_show(booking_id: int) -> Any:
    session = get_session()
    mark = reviews.mark_no_show(session, find(NOTIFIER), booking_id, g.user, utcnow())
    body = no_show_json(mark)
    session.commit()
    return jsonify(body), 201


@bp.delete("/bookings/<int:booking_id>/no-show")
@require_user
def undo_no_show(booking_id: int) -> Any:
    session = get_session()
    reviews.undo_no_show(session, booking_id, g.user, utcnow())
    session.commit()
    return "", 204


@bp.post("/bookings/<int:booking_id>/no-show/contest")
@require_user
def contest_no_show(booking_id: int) -> Any:
    data = json_body()
    session = get_session()
    mark = reviews.contest_no_show(
        session, find(NOTIFIER), booking_id, g.user, data.get("text"), utcnow()
    )
    body = no_show_json(mark)
    session.commit()
    return jsonify(body), 201
