"""Error handling in one place: domain errors → HTTP status and a clear message.

API requests (under ``/api/``) get ``{"error": {"code", "message", "fields"?}}``;
pages get a friendly HTML page. Packages add their domain errors to ``STATUS``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from accounts import errors as account_errors
from booking import errors as booking_errors

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


# Domain error class → (HTTP status, machine-readable code). Subclasses inherit
# their closest ancestor's entry.
STATUS: dict[type[Exception], tuple[int, str]] = {
    account_errors.ValidationError: (422, "validation_error"),
    account_errors.EmailTaken: (409, "email_taken"),
    account_errors.InvalidCredentials: (401, "invalid_credentials"),
    account_errors.InvalidToken: (401, "invalid_token"),
    account_errors.TooManyAttempts: (429, "too_many_attempts"),
    booking_errors.ValidationError: (422, "validation_error"),
    booking_errors.NotAllowed: (403, "forbidden"),
    booking_errors.ServiceNotFound: (404, "not_found"),
    booking_errors.BookingNotFound: (404, "not_found"),
    booking_errors.InvalidTimezone: (400, "invalid_timezone"),
    booking_errors.SlotUnavailable: (409, "slot_unavailable"),
    booking_errors.OutsideBookingWindow: (422, "outside_booking_window"),
    booking_errors.BookingClosed: (409, "booking_closed"),
    booking_errors.CalendarWriteFailed: (503, "calendar_write_failed"),
    booking_errors.InvalidCalendarData: (422, "invalid_calendar_data"),
    booking_errors.UnknownOccurrence: (422, "unknown_occurrence"),
}


def register_errors(mapping: dict[type[Exception], tuple[int, str]]) -> None:
    """Let a package map its domain errors (called from its ``init_app``)."""
    STATUS.update(mapping)


def lookup(error: Exception) -> tuple[int, str] | None:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
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
    mapped = lookup(error)
    if mapped is None:
        return _handle_unexpected(error)
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


_FRIENDLY = {
    400: "The request could not be understood.",
    401: "Please sign in to continue.",
    403: "You do not have access to this page.",
    404: "We could not find that page. It may have moved, or the link may be mistyped.",
    405: "That action is not allowed here.",
    413: "What you sent is too large.",
    429: "Too many requests. Please wait a moment and try again.",
}


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
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    message = "Something went wrong on our side. Please try again in a moment."
    if is_api_request():
        return error_response(500, "internal_error", message)
    return render_template("error.html", status=500, message=message), 500


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(account_errors.AccountError, _handle_domain_error)
    app.register_error_handler(booking_errors.BookingError, _handle_domain_error)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_domain_error)
