"""Mount the embedded Radicale server at ``/dav`` and point ``/.well-known/caldav`` at it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from flask import Flask, redirect, render_template

from consult.logs import LogContext, log_context
from consult.platform import Platform
from plugins import create_dav_app
from web.ops import SANE_REQUEST_ID

DAV_PREFIX = "/dav"
# Counted by name; anything else is "OTHER" (labels must not grow without bound).
DAV_METHODS = frozenset(
    ("OPTIONS", "GET", "HEAD", "PUT", "DELETE", "PROPFIND", "PROPPATCH", "REPORT", "MKCOL")
    + ("MKCALENDAR", "MOVE", "COPY", "POST", "LOCK", "UNLOCK", "ACL")
)


class DavMount:
    """WSGI middleware: requests under ``/dav`` go to Radicale, the rest to Flask.

    Radicale checks body sizes only under its own server, so the limit is enforced
    here: a larger body gets 413 before anything reads it.
    """

    def __init__(
        self, flask_app: Any, dav_app: Any, max_content_length: int, platform: Platform
    ) -> None:
        self.flask_app = flask_app
        self.dav_app = dav_app
        self.max_content_length = max_content_length
        self.request_id_header = platform.settings.ops.request_id_header
        self.requests = platform.metrics.counter(
            "consult_caldav_requests_total", "CalDAV requests, by method.", ("method",)
        )

    def _too_large(self, start_response: Any) -> Iterable[bytes]:
        body = (f"Request body too large: the limit is {self.max_content_length} bytes.\n").encode()
        start_response(
            "413 Request Entity Too Large",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in (DAV_PREFIX, DAV_PREFIX + "/") and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            # A person opening the server address in a browser gets a page that explains it.
            return self.flask_app(environ, start_response)  # type: ignore[no-any-return]
        if path == DAV_PREFIX or path.startswith(DAV_PREFIX + "/"):
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > self.max_content_length:
                return self._too_large(start_response)
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + DAV_PREFIX
            environ["PATH_INFO"] = path[len(DAV_PREFIX) :] or "/"
            method = str(environ.get("REQUEST_METHOD", "")).upper()
            self.requests.labels(method if method in DAV_METHODS else "OTHER").inc()
            key = "HTTP_" + self.request_id_header.upper().replace("-", "_")
            given = str(environ.get(key, ""))
            request_id = given if SANE_REQUEST_ID.match(given) else uuid.uuid4().hex

            def answer(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
                return start_response(
                    status, [*headers, (self.request_id_header, request_id)], *rest
                )

            with log_context(LogContext(request_id=request_id, route=DAV_PREFIX)):
                return self.dav_app(environ, answer)  # type: ignore[no-any-return]
        return self.flask_app(environ, start_response)  # type: ignore[no-any-return]


def init_app(app: Flask, platform: Platform) -> None:
    settings = platform.settings
    dav_app = create_dav_app(platform)
    app.extensions["consult.dav"] = dav_app
    app.wsgi_app = DavMount(  # type: ignore[method-assign]
        app.wsgi_app, dav_app, settings.dav.max_content_length, platform
    )

    @app.get(DAV_PREFIX + "/", strict_slashes=False)
    def dav_info() -> Any:
        return render_template("dav_info.html", dav_url=settings.app.base_url + DAV_PREFIX + "/")

    # Clients given only the host name probe the root; send them to the DAV root.
    @app.route("/", methods=["PROPFIND"], endpoint="dav_root_redirect")
    def dav_root_redirect() -> Any:
        return redirect(DAV_PREFIX + "/", code=301)

    # RFC 6764: clients that are given only the host name find the server here.
    @app.route("/.well-known/caldav", methods=["GET", "PROPFIND", "HEAD", "OPTIONS"])
    def well_known_caldav() -> Any:
        return redirect(DAV_PREFIX + "/", code=301)
