"""Connecting, listing, changing and removing outside calendars.

These functions take the caller's session and never commit; the views commit and
then enqueue the jobs (:mod:`sync.tasks`) that do network work. Every
lookup is scoped to the professional: another person's connection is reported as
:class:`ConnectionNotFound`, exactly like one that does not exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from accounts.models import User
from caldav_server.store import CalendarStore
from consult.config import Settings
from consult.db import utcnow
from consult.text import InvalidText, clean_text, has_control_characters
from sync.errors import (
    AuthorizationFailed,
    ConnectionNotFound,
    ConnectionNotReady,
    InvalidConnection,
    UnsafeUrl,
)
from sync.models import (
    AUTHORIZING,
    ICS,
    KINDS,
    OAUTH_KINDS,
    PENDING,
    WRITABLE_KINDS,
    ExternalCalendar,
    ExternalCalendarItem,
    ExternalCalendarPush,
)
from sync.oauth import authorization_url, provider_for, require_configured
from sync.secrets import open_secret, seal_secret
from sync.urls import check_url

__all__ = [
    "MAX_CONNECTIONS",
    "Connected",
    "ConnectRequest",
    "PendingAuthorization",
    "callback_url",
    "connect",
    "finish_authorization",
    "get_connection",
    "list_connections",
    "parse_connect_input",
    "parse_update_input",
    "pending_authorization",
    "remove_connection",
    "request_sync",
    "update_connection",
]

MAX_CONNECTIONS = 20
MAX_PASSWORD = 1000
# How long the professional has to finish signing in at Google or Microsoft.
AUTHORIZATION_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class ConnectRequest:
    """Validated input for :func:`connect`."""

    kind: str
    url: str = ""
    username: str = ""
    password: str = ""
    show_titles: bool = False
    writeback: bool = False


def _string(data: dict[str, Any], name: str, errors: dict[str, str], limit: int) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if name == "password":  # a secret is sent as typed, but never with control characters
        if not isinstance(value, str) or has_control_characters(value):
            errors[name] = "Must be a string without control characters."
            return ""
        if len(value) > limit:
            errors[name] = f"Use at most {limit} characters (this has {len(value)})."
        return value
    try:
        return clean_text(value, max_length=limit, required=False)
    except InvalidText as error:
        errors[name] = error.message
        return ""


def _boolean(data: dict[str, Any], name: str, errors: dict[str, str]) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        errors[name] = "Must be true or false."
        return False
    return value


def parse_connect_input(data: dict[str, Any], settings: Settings) -> ConnectRequest:
    """Validate a connect payload ``{kind, url?, username?, password?, show_titles?,
    writeback?}``. Raises :class:`InvalidConnection` naming every bad field, or
    :class:`ProviderNotConfigured` for an OAuth kind the operator has not set up."""
    errors: dict[str, str] = {}
    kind = data.get("kind")
    if kind not in KINDS:
        errors["kind"] = "Choose one of: " + ", ".join(KINDS) + "."
        raise InvalidConnection(errors)
    url = _string(data, "url", errors, 2000)
    username = _string(data, "username", errors, 255)
    password = _string(data, "password", errors, MAX_PASSWORD)
    show_titles = _boolean(data, "show_titles", errors)
    writeback = _boolean(data, "writeback", errors)
    if kind in OAUTH_KINDS:
        for name, value in (("url", url), ("username", username), ("password", password)):
            if value:
                errors[name] = "Not used for this kind: you sign in at the provider instead."
        require_configured(provider_for(settings, kind))
    elif not url:
        errors.setdefault("url", "This field is required.")
    elif "url" not in errors:
        try:
            url = check_url(url, allow_private=settings.sync.allow_private_addresses)
        except UnsafeUrl as error:
            errors["url"] = str(error)
    if password and not username:
        errors.setdefault("username", "Give the user name that goes with the password.")
    if writeback and kind not in WRITABLE_KINDS:
        errors["writeback"] = "Bookings cannot be written to an ICS subscription (read-only)."
    if errors:
        raise InvalidConnection(errors)
    return ConnectRequest(kind, url, username, password, show_titles, writeback)


def parse_update_input(data: dict[str, Any]) -> dict[str, bool]:
    """Validate a change payload ``{show_titles?, writeback?}``; returns what was given."""
    errors: dict[str, str] = {}
    changes: dict[str, bool] = {}
    for name in ("show_titles", "writeback"):
        if name in data:
            changes[name] = _boolean(data, name, errors)
    unknown = sorted(set(data) - {"show_titles", "writeback"})
    for name in unknown[:5]:
        errors[name] = "This field cannot be changed; remove the calendar and connect it again."
    if not changes and not errors:
        errors["show_titles"] = "Send show_titles and/or writeback."
    if errors:
        raise InvalidConnection(errors)
    return changes


@dataclass(frozen=True)
class Connected:
    """A new connection, and for OAuth kinds where to send the professional."""

    connection: ExternalCalendar
    authorization_url: str | None = None
    callback_url: str | None = None


def callback_url(base_url: str, kind: str) -> str:
    """The OAuth redirect URI registered with the provider for ``kind``."""
    return f"{base_url.rstrip('/')}/calendars/oauth/{kind}/callback"


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def connect(session: Session, settings: Settings, user: User, request: ConnectRequest) -> Connected:
    """Create the connection for ``user`` (a professional with a principal).

    CalDAV and ICS connections are due for their first sync at once. OAuth ones wait
    in ``authorizing`` for the provider's callback; the result carries the
    authorization URL (with a fresh ``state`` and PKCE verifier) and the callback.
    """
    count = session.scalar(
        select(func.count())
        .select_from(ExternalCalendar)
        .where(ExternalCalendar.user_id == user.id)
    )
    if (count or 0) >= MAX_CONNECTIONS:
        raise InvalidConnection(
            {"kind": f"You can connect at most {MAX_CONNECTIONS} calendars. Remove one first."}
        )
    key = settings.app.secret_key
    now = utcnow()
    connection = ExternalCalendar(
        user_id=user.id,
        kind=request.kind,
        url=request.url,
        username=request.username,
        show_titles=request.show_titles,
        status=PENDING,
        next_sync_at=now,
    )
    if request.password:
        connection.secret = seal_secret(key, {"password": request.password})
    result_url: str | None = None
    redirect: str | None = None
    if request.kind in OAUTH_KINDS:
        provider = provider_for(settings, request.kind)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        redirect = callback_url(settings.app.base_url, request.kind)
        connection.status = AUTHORIZING
        connection.next_sync_at = None
        connection.oauth_state_hash = _hash(state)
        connection.secret = seal_secret(key, {"code_verifier": verifier})
        result_url = authorization_url(provider, redirect, state, verifier)
    session.add(connection)
    session.flush()
    if request.writeback:
        _set_writeback(session, connection, True)
    return Connected(connection, result_url, redirect)


def list_connections(session: Session, user: User) -> list[ExternalCalendar]:
    """The user's connections, oldest first."""
    return list(
        session.scalars(
            select(ExternalCalendar)
            .where(ExternalCalendar.user_id == user.id)
            .order_by(ExternalCalendar.id)
        )
    )


def get_connection(session: Session, user: User, connection_id: int) -> ExternalCalendar:
    """The user's connection ``connection_id``; :class:`ConnectionNotFound` otherwise."""
    connection = session.get(ExternalCalendar, connection_id)
    if connection is None or connection.user_id != user.id:
        raise ConnectionNotFound()
    return connection


def mirror_path(user: User, connection: ExternalCalendar) -> str:
    """The CalDAV path of the connection's mirror calendar."""
    return f"{user.principal}/{connection.mirror_name}"


def count_mirrored(session: Session, user: User, connection: ExternalCalendar) -> int:
    """How many items the mirror calendar holds (0 before the first sync)."""
    store = CalendarStore(session)
    path = mirror_path(user, connection)
    return store.count_items(path) if store.collection_exists(path) else 0


def _set_writeback(session: Session, connection: ExternalCalendar, enabled: bool) -> None:
    if enabled and connection.kind not in WRITABLE_KINDS:
        raise InvalidConnection(
            {"writeback": "Bookings cannot be written to an ICS subscription (read-only)."}
        )
    if enabled:
        # One target per professional: the partial unique index backs this up.
        session.execute(
            update(ExternalCalendar)
            .where(
                ExternalCalendar.user_id == connection.user_id,
                ExternalCalendar.id != connection.id,
                ExternalCalendar.writeback.is_(True),
            )
            .values(writeback=False)
            .execution_options(synchronize_session="fetch")
        )
        session.flush()
    connection.writeback = enabled
    session.flush()


def update_connection(
    session: Session, user: User, connection_id: int, changes: dict[str, bool]
) -> ExternalCalendar:
    """Change titles and the write-back choice. Turning titles on or off re-mirrors
    every event at the next sync (which is due at once)."""
    connection = get_connection(session, user, connection_id)
    if "writeback" in changes:
        _set_writeback(session, connection, changes["writeback"])
    if "show_titles" in changes and changes["show_titles"] != connection.show_titles:
        connection.show_titles = changes["show_titles"]
        _forget_sync_state(session, connection)
    session.flush()
    return connection


def _forget_sync_state(session: Session, connection: ExternalCalendar) -> None:
    """Make the next sync read and rewrite everything (the mirror stays meanwhile)."""
    connection.sync_token = ""
    connection.http_etag = ""
    connection.http_last_modified = ""
    connection.content_digest = ""
    connection.window_start = None
    connection.next_sync_at = utcnow()
    session.execute(
        update(ExternalCalendarItem)
        .where(ExternalCalendarItem.calendar_id == connection.id)
        .values(etag="", vevents="-")
        .execution_options(synchronize_session=False)
    )


def request_sync(session: Session, user: User, connection_id: int) -> ExternalCalendar:
    """Check the connection can be synced now (not waiting for its OAuth sign-in)."""
    connection = get_connection(session, user, connection_id)
    if connection.status == AUTHORIZING:
        raise ConnectionNotReady()
    return connection


@dataclass(frozen=True)
class Removed:
    """What is left to do after the removal commits: revoke ``secret`` at the provider."""

    kind: str
    secret: str


def remove_connection(session: Session, user: User, connection_id: int) -> Removed:
    """Delete the connection, its mirror calendar (so its busy time goes too) and its
    bookkeeping. Returns the sealed secret, for revocation after the commit."""
    connection = get_connection(session, user, connection_id)
    store = CalendarStore(session)
    path = mirror_path(user, connection)
    store.lock_collection(path)
    store.delete_collection(path, actor="sync")
    removed = Removed(connection.kind, connection.secret)
    session.execute(
        delete(ExternalCalendarItem).where(ExternalCalendarItem.calendar_id == connection.id)
    )
    session.execute(
        delete(ExternalCalendarPush).where(ExternalCalendarPush.calendar_id == connection.id)
    )
    session.delete(connection)
    session.flush()
    return removed


# --- OAuth callback ---------------------------------------------------------------------


@dataclass(frozen=True)
class PendingAuthorization:
    """A connection waiting for its code exchange."""

    connection_id: int
    user_id: int
    kind: str
    code_verifier: str
    redirect_uri: str


def pending_authorization(
    session: Session, settings: Settings, kind: str, state: str
) -> PendingAuthorization:
    """The connection a callback's ``state`` belongs to. Raises
    :class:`AuthorizationFailed` for an unknown, used or expired state."""
    if kind not in OAUTH_KINDS or not state or len(state) > 200:
        raise AuthorizationFailed(_expired())
    connection = session.scalar(
        select(ExternalCalendar).where(
            ExternalCalendar.oauth_state_hash == _hash(state),
            ExternalCalendar.kind == kind,
            ExternalCalendar.status == AUTHORIZING,
        )
    )
    if connection is None:
        raise AuthorizationFailed(_expired())
    data = open_secret(settings.app.secret_key, connection.secret)
    if utcnow() - connection.created_at > AUTHORIZATION_TTL or not data.get("code_verifier"):
        raise AuthorizationFailed(_expired())
    return PendingAuthorization(
        connection.id,
        connection.user_id,
        kind,
        str(data["code_verifier"]),
        callback_url(settings.app.base_url, kind),
    )


def _expired() -> str:
    return (
        "This sign-in link has expired or was already used. Remove the calendar and connect "
        "it again."
    )


def abandon_authorization(session: Session, connection_id: int) -> None:
    """The professional refused access at the provider: nothing is connected."""
    connection = session.get(ExternalCalendar, connection_id)
    if connection is not None and connection.status == AUTHORIZING:
        session.delete(connection)
        session.flush()


def finish_authorization(
    session: Session, settings: Settings, connection_id: int, token: dict[str, Any]
) -> ExternalCalendar:
    """Store the tokens (encrypted) and make the connection due for its first sync.
    Raises :class:`AuthorizationFailed` when it was removed or finished meanwhile."""
    connection = session.get(ExternalCalendar, connection_id, populate_existing=True)
    if connection is None or connection.status != AUTHORIZING:
        raise AuthorizationFailed(_expired())
    connection.secret = seal_secret(settings.app.secret_key, {"token": token})
    connection.oauth_state_hash = None
    connection.status = PENDING
    connection.next_sync_at = utcnow()
    session.flush()
    return connection


def display_kind(kind: str) -> str:
    """How a kind is named on the page."""
    return {
        "caldav": "CalDAV",
        ICS: "ICS subscription",
        "google": "Google",
        "microsoft": "Outlook",
    }[kind]
