"""The JSON API under ``/api/v1`` for mobile apps and integrators.

Authentication is a bearer access token (``POST /api/v1/auth/token``); CSRF does
not apply because browsers never attach bearer tokens on their own. Each
resource lives in its own module that adds routes to :data:`bp`.
"""

from __future__ import annotations

from flask import Blueprint

from web.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

from web.api import (  # noqa: E402,F401
    auth,  # noqa: E402,F401  (registers routes)
    bookings,
    external_calendars,  # noqa: E402,F401
    feed,
    notifications,
    professionals,
    scheduling,
)
