"""The Flask application: pages for clients and professionals, the JSON API
under ``/api/v1``, and the embedded CalDAV server mounted at ``/dav``.

:func:`build_app` makes the app for a platform (the composition root,
:func:`runtime.create_app`, calls it); nothing happens at import time. Every
feature's web layer lives here, one module (or package) per feature, each with an
``init_app(app, platform)`` when it needs more than its blueprint.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from consult.platform import Platform
from directory import profiles
from web import (
    accounts,
    booking_pages,
    dav,
    errors,
    extensions,
    external_calendars,
    feeds,
    guards,
    home,
    notifications,
    ops,
    payments,
    session,
    static_files,
    video,
)
from web.api import (
    auth,
    bookings,
    feed,
    professionals,
    scheduling,
)
from web.api import external_calendars as api_external_calendars
from web.api import insights as api_insights
from web.api import notifications as api_notifications
from web.api import operator as api_operator
from web.api import payments as api_payments
from web.api import reviews as api_reviews
from web.api import video as api_video
from web.api.blueprint import bp as api_bp
from web.pages import (
    helpers,
    operator,
    pro,
    pro_calendar,
    pro_hours,
    pro_insights,
    pro_profile,
    pro_services,
    public,
)

# The modules that only add routes to a blueprint (web.api's bp, pages' pro.bp).
ROUTE_MODULES = (
    *(auth, bookings, feed, professionals, scheduling, api_external_calendars),
    *(api_insights, api_notifications, api_operator, api_payments, api_reviews, api_video),
    *(pro_calendar, pro_hours, pro_insights, pro_profile, pro_services),
)

__all__ = ["build_app"]


def build_app(platform: Platform) -> Flask:
    """The web app of ``platform``: its settings, its database, its services."""
    settings = platform.settings
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    secure = _secure_cookies(platform)
    app.config.update(
        SECRET_KEY=settings.app.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        # Forms and JSON bodies are small; uploads set their own limit per route.
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        PREFERRED_URL_SCHEME="https" if settings.app.base_url.startswith("https") else "http",
    )
    app.extensions["consult.platform"] = platform
    ops.init_app(app, platform)  # first: every request gets its id, even a refused one
    guards.init_app(app)  # before any route with <int:...>: they compile with its converter
    operator.init_app(app)  # before CSRF: a refused form must not reveal the area
    csrf = extensions.init_app(app)
    session.init_app(app)
    static_files.init_app(app)
    errors.init_app(app, platform)
    video.init_app(app)
    payments.init_app(app, platform, csrf)
    app.register_blueprint(home.bp)
    app.register_blueprint(accounts.bp)
    csrf.exempt(api_bp)  # bearer tokens: browsers never attach them on their own
    app.register_blueprint(api_bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(booking_pages.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(pro.bp)
    app.register_blueprint(operator.bp)
    app.add_template_global(public.photo_url, "photo_url")
    app.add_template_global(profiles.initials, "initials")
    for name, function in helpers.template_helpers().items():
        app.add_template_global(function, name)
    dav.init_app(app, platform)
    notifications.init_app(app)
    app.register_blueprint(external_calendars.bp)
    return app


def _secure_cookies(platform: Platform) -> bool:
    settings = platform.settings
    mode = settings.auth.secure_cookies
    if mode == "auto":
        return bool(settings.app.base_url.startswith("https://"))
    return bool(mode == "true")
