"""What operators and their tools talk to: health, readiness, metrics, request ids.

- ``GET /healthz``: the process answers (no dependency is asked), for liveness.
- ``GET /readyz``: JSON of every ``readiness_checks`` hook (database, migrations,
  Redis when configured, Janus when configured); 503 when one fails.
- ``GET /metrics``: Prometheus text, with ``Authorization: Bearer [ops]
  metrics_token``; without a token configured there is no such page.
- Every response carries the request id (``[ops] request_id_header``): the
  proxy's when it sent a sane one, else a new one; every log line of the request,
  and of the jobs it enqueued, names it.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request

from consult.logs import LogContext, set_context
from consult.metrics import CONTENT_TYPE
from consult.platform import Platform
from web.session import get_platform

bp = Blueprint("ops", __name__)

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


@bp.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    checks: dict[str, dict[str, Any]] = {}
    for found in get_platform().hooks.readiness_checks():
        for name, check in found.items():
            try:
                checks[name] = {"ok": True, "detail": check()}
            except Exception as error:  # the dependency is down: say which and why
                checks[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    ready = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ready" if ready else "unavailable", "checks": checks})
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics() -> Any:
    platform = get_platform()
    token = platform.settings.ops.metrics_token
    if not token:
        return Response("Not found.\n", status=404, mimetype="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        return Response(
            "Send Authorization: Bearer <metrics token>.\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(platform.metrics.render(), mimetype=CONTENT_TYPE)


SLOT_SECONDS = "consult_slot_computation_seconds"


@contextmanager
def timed(histogram: str) -> Iterator[None]:
    """Observe how long the block takes on the platform's ``histogram``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        get_platform().metrics.get(histogram).observe(time.perf_counter() - started)


def init_app(app: Flask, platform: Platform) -> None:
    """Request ids, request metrics, and the three endpoints above."""
    header = platform.settings.ops.request_id_header
    duration = platform.metrics.histogram(
        "consult_http_request_duration_seconds",
        "Time to answer a request, by route template, method and status.",
        ("route", "method", "status"),
    )
    platform.metrics.histogram(
        SLOT_SECONDS, "Time to compute the free slots a page or the API shows."
    )

    def start() -> None:
        given = request.headers.get(header, "")
        g.request_id = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        set_context(request_id=g.request_id, route=route, user_id=None)

    def finish(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[header] = request_id
        started = g.get("request_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            duration.labels(route, request.method, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    def forget(_error: BaseException | None) -> None:
        # The thread serves other requests next: none of this one's context stays.
        set_context(**vars(LogContext()))

    app.before_request(start)
    app.after_request(finish)
    app.teardown_request(forget)
    app.register_blueprint(bp)
