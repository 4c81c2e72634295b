"""``/feeds/<token>.ics``: a professional's bookings as a subscribable calendar."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort

from booking.feed import bookings_feed
from booking.links import user_from_feed_token
from consult.db import utcnow
from web.session import get_session, get_settings

bp = Blueprint("feeds", __name__)


@bp.get("/feeds/<token>.ics")
def bookings_ics(token: str) -> Any:
    session = get_session()
    user = user_from_feed_token(session, token, get_settings().app.secret_key)
    if user is None or user.principal is None:
        abort(404)
    body = bookings_feed(session, user, utcnow())
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": 'inline; filename="bookings.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )
