"""The Flask application: pages for clients and professionals, the JSON API
under ``/api/v1``, and the embedded CalDAV server mounted at ``/dav``.

:func:`create_app` is the only entry point; nothing happens at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask

from consult.config import Settings, load_settings
from consult.db import get_database
from consult.jobs import create_job_queue
from runtime.worker import set_job_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (loaded from config.ini and the environment
    when not given). Applies migrations first when ``[app] auto_migrate`` is on."""
    settings = settings or load_settings()
    _configure_logging(settings)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(
        SECRET_KEY=settings.app.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_secure_cookies(settings),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=_secure_cookies(settings),
        PERMANENT_SESSION_LIFETIME=timedelta(days=14),
        # Forms and JSON bodies are small; uploads set their own limit per route.
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        PREFERRED_URL_SCHEME="https" if settings.app.base_url.startswith("https") else "http",
    )
    database = get_database(settings.database.url, settings.database.pool_size)
    if settings.app.auto_migrate:
        from runtime.migrate import upgrade

        upgrade(database.engine)
    app.extensions["consult.settings"] = settings
    app.extensions["consult.database"] = database
    app.extensions["consult.jobs"] = create_job_queue(settings.redis.url)
    # Stop functions of background threads this app started (see shutdown_app).
    app.extensions["consult.shutdown"] = []
    shutdown = getattr(app.extensions["consult.jobs"], "shutdown", None)
    if shutdown is not None:
        on_shutdown(app, shutdown)
    set_job_settings(settings)

    import booking
    from web import accounts, api, booking_pages, dav, errors, extensions, feeds, home, session
    from web.pages import init_app as init_pages

    booking.install()

    extensions.init_app(app)
    session.init_app(app)
    errors.init_app(app)
    from web import video

    video.init_app(app)  # before api.bp is registered: it adds API routes
    from web import payments

    payments.init_app(app)  # gateway, pay pages, webhook, jobs; before api.bp (API routes)
    app.register_blueprint(home.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(booking_pages.bp)
    init_pages(app)
    dav.init_app(app, settings)
    from web import notifications

    notifications.init_app(app)  # sender, pages, the bell's unread count
    from web import external_calendars

    external_calendars.init_app(app)  # calendar sync: page, OAuth callback, jobs, hooks

    if settings.app.maintenance_minutes and app.extensions["consult.jobs"].backend != "rq":
        # No worker without Redis: the app keeps the calendar indexes ahead of time.
        from runtime.maintenance import PeriodicRunner, run_maintenance

        runner = PeriodicRunner(
            lambda: run_maintenance(database), settings.app.maintenance_minutes * 60, "maintenance"
        ).start()
        on_shutdown(app, runner.stop)

    _log_startup(settings, app)
    return app


def on_shutdown(app: Flask, stop: Callable[[], None]) -> None:
    """Register ``stop`` to run when the app is shut down (its background threads)."""
    app.extensions["consult.shutdown"].append(stop)


def shutdown_app(app: Flask) -> None:
    """Stop what the app started in the background, newest first. For tests and for
    servers that embed the app; a process that exits needs nothing."""
    for stop in reversed(app.extensions.get("consult.shutdown", [])):
        try:
            stop()
        except Exception:  # one failing stop must not keep the others running
            log.exception("stopping %r failed", stop)
    app.extensions["consult.shutdown"] = []


def _secure_cookies(settings: Settings) -> bool:
    mode = settings.auth.secure_cookies
    if mode == "auto":
        return bool(settings.app.base_url.startswith("https://"))
    return bool(mode == "true")


def _configure_logging(settings: Settings) -> None:
    level = getattr(logging, settings.app.log_level.upper())
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("consult").setLevel(level)
    logging.getLogger("web").setLevel(level)
    # Radicale logs every request at INFO; keep that for debugging only.
    logging.getLogger("radicale").setLevel(level if level <= logging.DEBUG else logging.WARNING)


def _log_startup(settings: Settings, app: Any) -> None:
    read = ", ".join(settings.files_read) or "none"
    log.info("config files read: %s", read)
    for line in settings.describe():
        log.debug("%s", line)
    database = app.extensions["consult.database"]
    log.info(
        "database: %s; jobs: %s; calendars: plugins.storage on the same database",
        database.engine.url.render_as_string(hide_password=True),
        app.extensions["consult.jobs"].backend,
    )
