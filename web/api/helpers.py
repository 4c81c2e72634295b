"""Parsing and authentication helpers shared by the API views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g, request
from sqlalchemy.orm import Session

from accounts.errors import InvalidToken
from accounts.models import User
from accounts.services import user_from_access_token
from consult.bounds import MAX_INT, MIN_INT
from consult.logs import set_context
from consult.text import InvalidText, clean_text
from web.errors import ApiError
from web.session import get_session, get_settings

F = TypeVar("F", bound=Callable[..., Any])


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.data:
        raise ApiError(400, "invalid_json", "Send a JSON object in the request body.")
    if not request.is_json:
        raise ApiError(400, "invalid_json", "Send JSON with Content-Type: application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return data


def optional_json_body() -> dict[str, Any]:
    """Like :func:`json_body`, but an empty body is an empty object."""
    if not request.data:
        return {}
    return json_body()


class Fields:
    """Collects per-field errors while reading a payload, then raises them together."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, str] = {}

    def string(
        self, name: str, *, required: bool = True, max_length: int = 255, default: str = ""
    ) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                self.errors[name] = "This field is required."
            return default
        try:
            return clean_text(value, max_length=max_length, required=required)
        except InvalidText as error:
            self.errors[name] = error.message
            return default

    def integer(
        self,
        name: str,
        *,
        required: bool = True,
        minimum: int | None = None,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.errors[name] = "This field is required."
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors[name] = "Must be a whole number."
            return default
        minimum = MIN_INT if minimum is None else max(minimum, MIN_INT)
        maximum = MAX_INT if maximum is None else min(maximum, MAX_INT)
        if value < minimum:
            self.errors[name] = f"Must be at least {minimum}."
        elif value > maximum:
            self.errors[name] = f"Must be at most {maximum}."
        return value

    def boolean(self, name: str, *, default: bool = False) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            self.errors[name] = "Must be true or false."
            return default
        return value

    def check(self) -> None:
        if self.errors:
            raise ApiError(422, "validation_error", "Some fields are invalid.", self.errors)


def bearer_user(session: Session) -> User:
    """The user named by the request's bearer token, or a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Send an access token: Authorization: Bearer <token>.")
    try:
        user = user_from_access_token(session, token.strip(), get_settings().app.secret_key)
    except InvalidToken as error:
        raise ApiError(401, "invalid_token", error.message) from error
    set_context(user_id=user.id)
    return user


def require_user(view: F) -> F:
    """Decorator: the view runs only with a valid bearer token; ``g.user`` is the account."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user = bearer_user(get_session())
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_professional(view: F) -> F:
    """Like :func:`require_user`, and the account must have the professional role."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = bearer_user(get_session())
        if not user.is_professional:
            raise ApiError(403, "forbidden", "Only professionals can do this.")
        g.user = user
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_operator(view: F) -> F:
    """Like :func:`require_user`, and the account must be an operator; anyone else
    gets the 404 of a URL that does not exist, so the area is not revealed."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = bearer_user(get_session())
        if not user.is_operator:
            abort(404)
        g.user = user
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def client_ip() -> str:
    return request.remote_addr or "unknown"
