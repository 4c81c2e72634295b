"""The operators' API under ``/api/v1/operator`` (operators only; anyone else with
a token gets 404, as for a URL that does not exist).

- ``GET reports`` → reported reviews and contested no-shows waiting for an operator.
- ``POST reviews/{id}/hide {reason}`` → the review, hidden; ``POST
  reviews/{id}/restore {reason?}`` → the review, shown and its report cleared.
- ``POST no-shows/{booking_id}/handle {reason?}`` → the contest off the queue.
- ``GET users?email=`` → matching accounts; ``POST users/{id}/suspend {reason,
  confirm}`` → the account and the bookings cancelled (without ``confirm: true``:
  409 with ``future_bookings``, the number it would cancel); ``POST
  users/{id}/unsuspend {reason?}``.
- ``GET actions?page=`` → the action log, newest first.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from accounts.models import User
from consult.db import utcnow
from moderation import services as moderation
from moderation.errors import ConfirmationRequired
from moderation.models import OperatorAction
from moderation.services import ContestedNoShow, ReportedReview
from reviews.models import Review
from web.api.blueprint import bp
from web.api.helpers import Fields, json_body, optional_json_body, require_operator
from web.errors import ApiError
from web.session import get_session


def person_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email}


def account_json(user: User) -> dict[str, Any]:
    """An account as operators see it (never any password material)."""
    return {
        **person_json(user),
        "roles": user.roles,
        "is_operator": user.is_operator,
        "caldav_principal": user.principal,
        "created_at": user.created_at.isoformat(),
        "suspended": user.suspended_at is not None,
        "suspended_at": user.suspended_at.isoformat() if user.suspended_at else None,
        "suspension_reason": user.suspension_reason,
    }


def moderated_review_json(review: Review) -> dict[str, Any]:
    return {
        "id": review.id,
        "booking_id": review.booking_id,
        "professional_id": review.professional_id,
        "client_id": review.client_id,
        "rating": review.rating,
        "text": review.text,
        "created_at": review.created_at.isoformat(),
        "reported_at": review.reported_at.isoformat() if review.reported_at else None,
        "report_reason": review.report_reason,
        "hidden": review.hidden_at is not None,
        "hidden_at": review.hidden_at.isoformat() if review.hidden_at else None,
        "hidden_reason": review.hidden_reason,
    }


def reported_json(item: ReportedReview) -> dict[str, Any]:
    return {
        **moderated_review_json(item.review),
        "service": item.service_title,
        "professional": person_json(item.professional),
        "client": person_json(item.client),
    }


def contested_json(item: ContestedNoShow) -> dict[str, Any]:
    return {
        "booking_id": item.booking.id,
        "service": item.service_title,
        "start": item.booking.start.isoformat(),
        "end": item.booking.end.isoformat(),
        "marked_at": item.mark.marked_at.isoformat(),
        "contested_at": item.mark.contested_at.isoformat() if item.mark.contested_at else None,
        "contest_text": item.mark.contest_text,
        "professional": person_json(item.professional),
        "client": person_json(item.client),
    }


def action_json(action: OperatorAction, operator_email: str) -> dict[str, Any]:
    return {
        "id": action.id,
        "operator": {"id": action.operator_id, "email": operator_email},
        "action": action.action,
        "target_type": action.target_type,
        "target_id": action.target_id,
        "reason": action.reason,
        "created_at": action.created_at.isoformat(),
    }


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise ApiError(400, "bad_request", "page must be a whole number from 1 to 100000.")
    return int(raw)


# --- the queue ----------------------------------------------------------------------------


@bp.get("/operator/reports")
@require_operator
def operator_reports() -> Any:
    found = moderation.queue(get_session(), g.user)
    return jsonify(
        {
            "reviews": [reported_json(item) for item in found.reviews],
            "no_shows": [contested_json(item) for item in found.no_shows],
        }
    )


@bp.post("/operator/reviews/<int:review_id>/hide")
@require_operator
def operator_hide_review(review_id: int) -> Any:
    data = json_body()
    session = get_session()
    review = moderation.hide_review(session, g.user, review_id, data.get("reason"), utcnow())
    body = moderated_review_json(review)
    session.commit()
    return jsonify(body)


@bp.post("/operator/reviews/<int:review_id>/restore")
@require_operator
def operator_restore_review(review_id: int) -> Any:
    data = optional_json_body()
    session = get_session()
    review = moderation.restore_review(session, g.user, review_id, data.get("reason"), utcnow())
    body = moderated_review_json(review)
    session.commit()
    return jsonify(body)


@bp.post("/operator/no-shows/<int:booking_id>/handle")
@require_operator
def operator_handle_no_show(booking_id: int) -> Any:
    data = optional_json_body()
    session = get_session()
    mark = moderation.handle_no_show(session, g.user, booking_id, data.get("reason"), utcnow())
    body = {
        "booking_id": mark.booking_id,
        "contest_handled_at": mark.contest_handled_at.isoformat()
        if mark.contest_handled_at
        else None,
    }
    session.commit()
    return jsonify(body)


# --- accounts -----------------------------------------------------------------------------


@bp.get("/operator/users")
@require_operator
def operator_find_users() -> Any:
    found = moderation.find_accounts(get_session(), g.user, request.args.get("email", ""))
    return jsonify({"users": [account_json(user) for user in found]})


@bp.post("/operator/users/<int:user_id>/suspend")
@require_operator
def operator_suspend_user(user_id: int) -> Any:
    fields = Fields(json_body())
    confirm = fields.boolean("confirm")
    fields.check()
    session = get_session()
    try:
        suspension = moderation.suspend(
            session, g.user, user_id, fields.data.get("reason"), utcnow(), confirm=confirm
        )
    except ConfirmationRequired as error:
        # The usual error body, and the number the operator confirms.
        refusal = {"error": {"code": "confirmation_required", "message": error.message}}
        return jsonify({**refusal, "future_bookings": error.bookings}), 409
    body = {**account_json(suspension.user), "cancelled_bookings": suspension.cancelled}
    session.commit()
    return jsonify(body)


@bp.post("/operator/users/<int:user_id>/unsuspend")
@require_operator
def operator_unsuspend_user(user_id: int) -> Any:
    data = optional_json_body()
    session = get_session()
    user = moderation.unsuspend(session, g.user, user_id, data.get("reason"), utcnow())
    body = account_json(user)
    session.commit()
    return jsonify(body)


# --- the log ------------------------------------------------------------------------------


@bp.get("/operator/actions")
@require_operator
def operator_actions() -> Any:
    found = moderation.action_log(get_session(), g.user, _page_arg())
    return jsonify(
        {
            "page": found.page,
            "pages": found.pages,
            "actions": [action_json(item.action, item.operator_email) for item in found.actions],
        }
    )
