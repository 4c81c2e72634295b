"""JSON API for video and messages (bearer tokens, under ``/api/v1``).

- ``POST /api/v1/bookings/<id>/video/join``        join token for the room, or why not
- ``GET  /api/v1/bookings/<id>/messages``          the thread (``after``, ``limit``)
- ``POST /api/v1/bookings/<id>/messages``          send ``{"body": "..."}``
- ``POST /api/v1/bookings/<id>/messages/read``     mark read (``{"up_to": id}`` optional)
- ``GET  /api/v1/messages/unread``                 unread counts per booking
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from consult.db import utcnow
from video import messages as thread
from video.errors import RoomNotOpen
from video.rooms import check_room_access
from video.tokens import issue_join_token
from web.api.blueprint import bp
from web.api.helpers import Fields, optional_json_body, require_user
from web.errors import ApiError
from web.session import get_session
from web.video import get_video


def _window() -> tuple[Any, Any]:
    config = get_video().config
    return (config.open_before, config.close_after)


@bp.post("/bookings/<int:booking_id>/video/join")
@require_user
def api_video_join(booking_id: int) -> Any:
    config = get_video().config
    now = utcnow()
    try:
        access = check_room_access(get_session(), g.user, booking_id, now, _window())
    except RoomNotOpen as error:
        response = jsonify(
            {
                "error": {
                    "code": error.code,
                    "message": error.message,
                    "opens_at": error.opens_at.isoformat(),
                }
            }
        )
        response.status_code = 409
        return response
    token = issue_join_token(
        config, booking_id=booking_id, user_id=g.user.id, role=access.role, now=now
    )
    return jsonify(
        {
            "token": token,
            "expires_in": int(config.join_token_ttl.total_seconds()),
            "socket_url": config.base_url.replace("http", "ws", 1) + f"/ws/rooms/{booking_id}",
            "role": access.role,
            "other_name": access.other.name,
            "opens_at": access.window.opens_at.isoformat(),
            "closes_at": access.window.closes_at.isoformat(),
        }
    )


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise ApiError(
            400, "bad_request", f"`{name}` must be a whole number from {minimum} to {maximum}."
        )
    return int(raw)


@bp.get("/bookings/<int:booking_id>/messages")
@require_user
def api_list_messages(booking_id: int) -> Any:
    session = get_session()
    booking = thread.thread_booking(session, g.user, booking_id)
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", thread.PAGE_SIZE, 1, thread.PAGE_SIZE)
    found = thread.list_messages(session, booking, after_id=after, limit=limit)
    names = thread.participant_names(session, booking)
    return jsonify(
        {
            "messages": [thread.view_of(message, names).to_json() for message in found],
            "unread": thread.unread_in(session, g.user, booking),
        }
    )


@bp.post("/bookings/<int:booking_id>/messages")
@require_user
def api_post_message(booking_id: int) -> Any:
    session = get_session()
    services = get_video()
    booking = thread.thread_booking(session, g.user, booking_id)
    fields = Fields(optional_json_body())
    if "body" not in fields.data:
        raise ApiError(
            422, "validation_error", "Some fields are invalid.", {"body": "This field is required."}
        )
    posted = thread.post_message(
        session,
        g.user,
        booking,
        fields.data["body"],
        now=utcnow(),
        max_length=services.config.message_max_length,
    )
    services.after_post(session, booking, posted)
    view = thread.view_of(posted, thread.participant_names(session, booking))
    session.commit()
    services.broadcast(booking_id, view.to_json())
    return jsonify(view.to_json()), 201


@bp.post("/bookings/<int:booking_id>/messages/read")
@require_user
def api_mark_read(booking_id: int) -> Any:
    session = get_session()
    booking = thread.thread_booking(session, g.user, booking_id)
    fields = Fields(optional_json_body())
    up_to = fields.integer("up_to", required=False, minimum=0)
    fields.check()
    last = thread.mark_read(session, g.user, booking, up_to)
    session.commit()
    return jsonify({"last_read_id": last, "unread": thread.unread_in(session, g.user, booking)})


@bp.get("/messages/unread")
@require_user
def api_unread() -> Any:
    counts = thread.unread_counts(get_session(), g.user)
    return jsonify(
        {
            "total": sum(counts.values()),
            "bookings": [
                {"booking_id": key, "unread": value} for key, value in sorted(counts.items())
            ],
        }
    )
