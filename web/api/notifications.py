"""In-app notifications over the API: the signed-in person's own list with
read/unread, marking read, and a professional's reminder offsets.

GET  /api/v1/notifications?state=all|unread|read&limit=1..100&before_id=N
POST /api/v1/notifications/<id>/read
POST /api/v1/notifications/read-all
GET  /api/v1/notifications/reminders        (professionals)
PUT  /api/v1/notifications/reminders        {"offsets": "24h, 1h"} or ["24h", "1h"]
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from consult.bounds import is_id
from consult.db import utcnow
from notifications import service
from notifications.errors import InvalidReminderOffsets
from notifications.models import Notification
from notifications.reminders import format_offsets, reminder_offsets, set_reminder_offsets
from notifications.service import NOTIFIER
from web.api.blueprint import bp
from web.api.helpers import json_body, require_professional, require_user
from web.errors import ApiError
from web.session import find, get_session

MAX_LIMIT = 100


def notification_json(note: Notification) -> dict[str, Any]:
    """A notification as its recipient sees it; ``created_at`` is when it became visible."""
    return {
        "id": note.id,
        "kind": note.kind,
        "title": note.title,
        "body": note.body,
        "url": note.url,
        "booking_id": note.booking_id,
        "created_at": note.visible_from.isoformat(),
        "read": note.read_at is not None,
        "read_at": note.read_at.isoformat() if note.read_at else None,
    }


def _query() -> tuple[str, int, int | None]:
    """(state, limit, before_id) from the query string, or a 400 naming each bad one."""
    errors: dict[str, str] = {}
    state = request.args.get("state", "all")
    if state not in service.STATES:
        errors["state"] = "Use all, unread or read."
    limit, before_id = 50, None
    raw_limit = request.args.get("limit")
    if raw_limit is not None:
        if raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors["limit"] = f"Use a whole number from 1 to {MAX_LIMIT}."
    raw_before = request.args.get("before_id")
    if raw_before is not None:
        if raw_before.isdigit() and len(raw_before) <= 10 and is_id(int(raw_before)):
            before_id = int(raw_before)
        else:
            errors["before_id"] = "Use the next_before_id of the previous page."
    if errors:
        raise ApiError(400, "invalid_query", "Some query parameters are invalid.", errors)
    return state, limit, before_id


@bp.get("/notifications")
@require_user
def list_notifications() -> Any:
    """The caller's notifications, newest first, with the unread count and the
    ``next_before_id`` of the next page (null on the last)."""
    state, limit, before_id = _query()
    session = get_session()
    items = service.list_notifications(
        session, g.user.id, state=state, limit=limit + 1, before_id=before_id
    )
    more = len(items) > limit
    items = items[:limit]
    return jsonify(
        {
            "notifications": [notification_json(note) for note in items],
            "unread_count": service.unread_count(session, g.user.id),
            "next_before_id": items[-1].id if more else None,
        }
    )


@bp.post("/notifications/<int:notification_id>/read")
@require_user
def mark_notification_read(notification_id: int) -> Any:
    """Mark one of the caller's notifications read; 404 for anyone else's."""
    session = get_session()
    note = service.mark_read(session, g.user.id, notification_id)
    session.commit()
    body = notification_json(note)
    body["unread_count"] = service.unread_count(session, g.user.id)
    return jsonify(body)


@bp.post("/notifications/read-all")
@require_user
def mark_all_notifications_read() -> Any:
    """Mark every visible notification of the caller read; says how many."""
    session = get_session()
    marked = service.mark_all_read(session, g.user.id)
    session.commit()
    return jsonify({"marked": marked, "unread_count": service.unread_count(session, g.user.id)})


def _reminders_json(offsets: tuple[int, ...]) -> dict[str, Any]:
    return {"offsets": format_offsets(offsets), "offsets_minutes": list(offsets)}


@bp.get("/notifications/reminders")
@require_professional
def get_reminders() -> Any:
    """The professional's reminder offsets (``"24h, 1h"`` and in minutes)."""
    return jsonify(
        _reminders_json(reminder_offsets(get_session(), g.user.id, find(NOTIFIER).default_offsets))
    )


@bp.put("/notifications/reminders")
@require_professional
def put_reminders() -> Any:
    """Replace the professional's reminder offsets and re-plan upcoming reminders;
    422 with a message for offsets that cannot be used."""
    value = json_body().get("offsets")
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ", ".join(value)
    if not isinstance(value, str):
        raise ApiError(
            422,
            "validation_error",
            "Some fields are invalid.",
            {"offsets": 'Send a string such as "24h, 1h", or a list of them.'},
        )
    session = get_session()
    try:
        offsets = set_reminder_offsets(find(NOTIFIER), session, g.user.id, value, now=utcnow())
    except InvalidReminderOffsets as error:
        raise ApiError(
            422, "validation_error", "Some fields are invalid.", dict(error.fields)
        ) from error
    session.commit()
    return jsonify(_reminders_json(offsets))
