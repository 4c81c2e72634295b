"""Wiring of the video package into the Flask app (called from ``create_app``)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from booking.models import Booking
from consult.db import utcnow
from video.errors import (
    InvalidJoinToken,
    InvalidMessage,
    RelayError,
    RoomClosed,
    RoomNotFound,
    RoomNotOpen,
)
from video.services import create_services, get_video


def init_app(app: Flask) -> None:
    """Create the video services, register the pages, the room WebSocket, the API
    routes and the error mapping. Must run before the API blueprint is registered."""
    from video import api  # noqa: F401  (adds its routes to web.api.bp)
    from video.views import bp
    from web.errors import register_errors

    settings = app.extensions["consult.settings"]
    services = create_services(settings)
    app.extensions["video"] = services
    from web import on_shutdown

    on_shutdown(app, services.bus.close)
    # SDP offers are a few KiB; anything far larger is not signalling.
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": 256 * 1024})
    register_errors(
        {
            RoomNotFound: (404, "not_found"),
            RoomNotOpen: (409, "not_open"),
            RoomClosed: (409, "room_closed"),
            InvalidJoinToken: (401, "invalid_token"),
            InvalidMessage: (422, "validation_error"),
            RelayError: (503, "relay_unavailable"),
        }
    )
    app.register_blueprint(bp)
    app.context_processor(_template_helpers)
    try:
        from video.notify import register_templates

        register_templates()
    except ImportError:
        app.logger.warning("sync.notifications is missing: no emails for new messages")
    app.logger.info(
        "video: signalling bus %s; relay %s",
        services.bus.backend,
        services.config.relay_url or "none (direct and TURN only)",
    )


def _template_helpers() -> dict[str, Any]:
    return {"video_room": _video_room}


def _video_room(booking: Booking) -> dict[str, Any] | None:
    """For the booking page's link: the room state and unread count for the signed-in
    participant, or None when the booking has no 1-1 room."""
    from flask_login import current_user

    from video.messages import unread_in
    from video.rooms import room_window
    from web.session import get_session

    if booking is None or booking.is_group or not current_user.is_authenticated:
        return None
    if current_user.id not in (booking.client_id, booking.professional_id):
        return None
    config = get_video().config
    window = room_window(booking.start, booking.end, config.open_before, config.close_after)
    state: str
    if booking.status == "confirmed":
        state = window.state(utcnow())
    else:  # cancelled, or held until paid: no way into the room
        state = booking.status
    return {
        "state": state,
        "opens_at": window.opens_at,
        "unread": unread_in(get_session(), current_user.account, booking),
    }
