"""The professional's secret ICS feed URL: read, rotate (revokes the old one), disable."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from booking.links import disable_feed, get_feed_token, rotate_feed_token
from web.api.blueprint import bp
from web.api.helpers import require_professional
from web.session import get_session, get_settings


def _url(token: str | None) -> str | None:
    return f"{get_settings().app.base_url}/feeds/{token}.ics" if token else None


@bp.get("/feed")
@require_professional
def get_feed() -> Any:
    session = get_session()
    token = get_feed_token(session, g.user, get_settings().app.secret_key)
    session.commit()
    return jsonify({"url": _url(token), "enabled": token is not None})


@bp.post("/feed/rotate")
@require_professional
def rotate_feed() -> Any:
    session = get_session()
    token = rotate_feed_token(session, g.user, get_settings().app.secret_key)
    session.commit()
    return jsonify({"url": _url(token), "enabled": True})


@bp.delete("/feed")
@require_professional
def delete_feed() -> Any:
    session = get_session()
    disable_feed(session, g.user)
    session.commit()
    return jsonify({"url": None, "enabled": False})
