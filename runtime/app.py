"""The web app's factory: ``create_app(settings=None)`` like Flask's tutorial.

Production runs it under gunicorn: ``gunicorn 'runtime:create_app()'``.
"""

from __future__ import annotations

import logging

from flask import Flask

from consult.config import Settings, load_settings
from consult.logs import configure_logging
from consult.platform import Platform
from runtime.ops import init_error_reports
from runtime.platform import create_platform
from web import build_app

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """The web app for ``settings`` (loaded from config.ini and the environment when
    not given), on a platform of its own whose background threads are started."""
    settings = settings or load_settings()
    configure_logging(settings)
    init_error_reports(settings)
    platform = create_platform(settings, "web")
    try:
        app = build_app(platform)
    except BaseException:
        platform.shutdown()
        raise
    platform.start()
    log_startup(platform)
    return app


def platform_of(app: Flask) -> Platform:
    platform: Platform = app.extensions["consult.platform"]
    return platform


def shutdown_app(app: Flask) -> None:
    """Stop what the app's platform started in the background. For tests and for
    servers that embed the app; a process that exits needs nothing."""
    platform_of(app).shutdown()


def log_startup(platform: Platform) -> None:
    settings = platform.settings
    log.info("config files read: %s", ", ".join(settings.files_read) or "none")
    for line in settings.describe():
        log.debug("%s", line)
    log.info(
        "database: %s; jobs: %s; calendars: plugins.storage on the same database",
        platform.database.engine.url.render_as_string(hide_password=True),
        platform.jobs.backend,
    )
