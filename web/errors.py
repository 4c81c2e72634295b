"""Error handling in one place: domain errors → HTTP status and a clear message.

API requests (under ``/api/``) get ``{"error": {"code", "message", "fields"?}}``;
pages get a friendly HTML page. Each package declares beside its error tree what
its errors mean over HTTP (the ``error_statuses`` hook); :func:`init_app` assembles
those maps for the app. There is no catch-all: an error nobody declared is a bug,
logged by Flask and answered with the 500 page.
"""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from booking import errors as booking_errors
from consult.hookspecs import ErrorStatuses, merged_statuses
from consult.platform import Platform

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error to return as JSON from an API view."""

    def __init__(
        self, status: int, code: str, message: str, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def lookup(statuses: ErrorStatuses, error: Exception) -> tuple[int, str] | None:
    """The (status, code) of ``error``'s class or its closest mapped ancestor."""
    for cls in type(error).__mro__:
        if cls in statuses:
            return statuses[cls]
    return None


def is_api_request() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _handle_api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.fields)


def _handle_domain_error(error: Exception) -> Any:
    mapped = lookup(current_app.extensions[STATUSES], error)
    if mapped is None:
        raise error  # not a domain error after all: Flask logs it, the 500 page answers
    status, code = mapped
    message = getattr(error, "message", None) or str(error)
    fields = getattr(error, "fields", None) or getattr(error, "errors", None)
    if isinstance(error, booking_errors.ValidationError):
        message = "Some fields are invalid."
    if is_api_request():
        response = error_response(status, code, message, fields)
    else:
        response = Response(
            render_template("error.html", status=status, message=message), status=status
        )
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


_FRIENDLY = MappingProxyType(
    {
        400: "The request could not be understood.",
        401: "Please sign in to continue.",
        403: "You do not have access to this page.",
        404: "We could not find that page. It may have moved, or the link may be mistyped.",
        405: "That action is not allowed here.",
        413: "What you sent is too large.",
        429: "Too many requests. Please wait a moment and try again.",
    }
)


def _handle_csrf_error(error: CSRFError) -> Any:
    message = (
        "This form has expired or did not come from this site. "
        "Go back, reload the page and try again."
    )
    if is_api_request():
        return error_response(400, "csrf_failed", message)
    return render_template("error.html", status=400, message=message), 400


def _handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    if status >= 500:
        return _handle_unexpected(error)
    description = error.description if status not in (404, 405) else _FRIENDLY[status]
    if is_api_request():
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(status, code, description or _FRIENDLY.get(status, error.name))
    if status in (301, 302, 303, 307, 308):
        return error
    return (
        render_template("error.html", status=status, message=_FRIENDLY.get(status, description)),
        status,
    )


def _handle_unexpected(error: Exception) -> Any:
    # Flask has logged the original exception (InternalServerError.original_exception).
    message = "Something went wrong on our side. Please try again in a moment."
    if is_api_request():
        return error_response(500, "internal_error", message)
    return render_template("error.html", status=500, message=message), 500


def init_app(app: Flask, platform: Platform) -> None:
    """Answer every declared domain error (the ``error_statuses`` hook of every
    included package), API errors, CSRF failures and HTTP errors."""
    statuses = merged_statuses(platform.hooks.error_statuses())
    app.extensions[STATUSES] = statuses
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    # One handler per declared class: Flask picks the most specific one by MRO.
    for cls in statuses:
        app.register_error_handler(cls, _handle_domain_error)


STATUSES = "consult.error_statuses"
