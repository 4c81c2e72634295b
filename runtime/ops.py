"""What the composition root adds for operators: readiness of the platform's own
dependencies (database, schema, Redis), error reports to Sentry, the worker's
metrics listener."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import sentry_sdk
from redis import Redis
from sqlalchemy import text

from consult.config import Settings
from consult.hookspecs import hookimpl
from consult.logs import redact
from consult.platform import Platform
from runtime.migrate import current_heads, script_heads

log = logging.getLogger(__name__)


class PlatformChecks:
    """The ``readiness_checks`` of what every process depends on."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def database(self) -> str:
        with self.platform.database.session(readonly=True) as session:
            session.execute(text("SELECT 1"))
        return self.platform.database.engine.dialect.name

    def migrations(self) -> str:
        applied, wanted = current_heads(self.platform.database.engine), script_heads()
        if applied != wanted:
            raise RuntimeError(
                f"schema at {sorted(applied) or 'nothing'}, code wants {sorted(wanted)}"
            )
        return ", ".join(sorted(applied))

    def redis(self) -> str:
        connection = Redis.from_url(self.platform.settings.redis.url, socket_timeout=2)
        try:
            connection.ping()
        finally:
            connection.close()
        return "ping"

    @hookimpl
    def readiness_checks(self) -> Mapping[str, Callable[[], str]]:
        checks: dict[str, Callable[[], str]] = {
            "database": self.database,
            "migrations": self.migrations,
        }
        if self.platform.settings.redis.url:
            checks["redis"] = self.redis
        return checks


def scrub_event(event: dict[str, Any], _hint: Any) -> dict[str, Any]:
    """Sentry's ``before_send``: no cookies, headers, bodies, query strings or user
    details leave the platform, and messages are redacted like log lines."""
    request = event.get("request")
    if isinstance(request, dict):
        for field in ("cookies", "data", "headers", "query_string", "env"):
            request.pop(field, None)
    event.pop("user", None)
    for crumb in (event.get("breadcrumbs") or {}).get("values", []):
        if isinstance(crumb.get("message"), str):
            crumb["message"] = redact(crumb["message"])
        crumb.pop("data", None)
    for entry in (event.get("logentry") or {}, event.get("message") or {}):
        if isinstance(entry, dict) and isinstance(entry.get("message"), str):
            entry["message"] = redact(entry["message"])
    for exception in (event.get("exception") or {}).get("values", []):
        if isinstance(exception.get("value"), str):
            exception["value"] = redact(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)  # local variables hold passwords and message text
    return event


def init_error_reports(settings: Settings) -> bool:
    """Send errors to Sentry when ``[ops] sentry_dsn`` is set; returns whether it does."""
    dsn = settings.ops.sentry_dsn
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        environment=settings.ops.sentry_environment,
        send_default_pii=False,
        include_local_variables=False,
        before_send=scrub_event,  # type: ignore[arg-type]
    )
    log.info("error reports: Sentry (%s)", settings.ops.sentry_environment)
    return True


def include(platform: Platform) -> None:
    """Register the platform's readiness checks and its job queue's gauges."""
    platform.register(PlatformChecks(platform), "runtime")
    platform.metrics.scraped(
        "consult_jobs",
        "Background jobs by state (queued, scheduled, failed) on this platform's queue.",
        ("backend", "state"),
        lambda: [((platform.jobs.backend, state), n) for state, n in platform.jobs.stats().items()],
    )
