"""Domain errors of calendar sync::

    SyncError
    ├── ConnectionNotFound      no such connection, or another person's (HTTP 404)
    ├── InvalidConnection       bad input to connect or update; ``fields`` says where (422)
    ├── ProviderNotConfigured   Google / Microsoft is not set up on this platform (422)
    ├── ConnectionNotReady      still waiting for its OAuth sign-in: cannot sync yet (409)
    ├── AuthorizationFailed     an OAuth callback that cannot complete the connection (400)
    ├── UnsafeUrl               a URL we may not fetch (internal: becomes one of the others)
    └── SourceError             talking to the outside calendar failed; recorded and shown
        ├── SourceAuthError         credentials refused, revoked or expired
        ├── SourceUnavailable       network error, timeout, server error (5xx)
        ├── SourceDataError         malformed, oversized or unusable data
        ├── CredentialsUnreadable   stored credentials cannot be decrypted (key changed)
        └── SyncTokenExpired        the source forgot our sync token (internal: a full
                                    sync follows at once)

Adapters raise only :class:`SourceError` subclasses (wrapping library errors with
``raise ... from``), so the sync loop can record any failure without knowing the
library behind it. Messages are meant for the professional: they say what went
wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "HTTP_STATUS",
    "AuthorizationFailed",
    "ConnectionNotFound",
    "ConnectionNotReady",
    "CredentialsUnreadable",
    "InvalidConnection",
    "ProviderNotConfigured",
    "SourceAuthError",
    "SourceDataError",
    "SourceError",
    "SourceUnavailable",
    "SyncError",
    "SyncTokenExpired",
    "UnsafeUrl",
]


class SyncError(Exception):
    """Base class of every error raised on purpose by :mod:`sync`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionNotFound(SyncError):
    """No such connection, or it belongs to someone else (both answer 404)."""

    def __init__(self) -> None:
        super().__init__("There is no such connected calendar.")


class InvalidConnection(SyncError):
    """Input to connect or change a calendar is invalid; ``fields`` maps names to messages."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("Some fields are invalid.")
        self.fields = fields


class ProviderNotConfigured(SyncError):
    """The platform has no OAuth client for this provider."""

    def __init__(self, provider: str) -> None:
        super().__init__(
            f"{provider} calendars cannot be connected on this platform yet: the operator "
            "has not set up its OAuth client. Use a CalDAV or ICS link instead."
        )
        self.fields = {"kind": self.message}


class ConnectionNotReady(SyncError):
    """The connection is still waiting for its OAuth sign-in at the provider."""

    def __init__(self) -> None:
        super().__init__(
            "This calendar is waiting for you to sign in at the provider. Finish connecting "
            "it, or remove it and connect again."
        )


class UnsafeUrl(SyncError, ValueError):
    """A URL the sync worker may not fetch (a private address, a bad scheme); the
    message says why. Callers turn it into InvalidConnection or SourceError."""


class AuthorizationFailed(SyncError):
    """The OAuth callback carried an error, an unknown state, or a code the provider refused."""


class SourceError(SyncError):
    """Reading or writing the outside calendar failed; the message is shown as is."""


class SourceAuthError(SourceError):
    """The outside server refused the credentials (or the OAuth grant was revoked)."""


class SourceUnavailable(SourceError):
    """The outside server could not be reached, timed out or answered with an error."""


class SourceDataError(SourceError):
    """The outside calendar sent data that cannot be used (invalid, too large)."""


class CredentialsUnreadable(SourceError):
    """The stored credentials cannot be decrypted with the current app key."""

    def __init__(self) -> None:
        super().__init__(
            "The saved credentials for this calendar can no longer be read (the platform's "
            "key changed). Remove the calendar and connect it again."
        )


class SyncTokenExpired(SourceError):
    """The source no longer knows our sync token; the caller starts a full sync."""


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        ConnectionNotFound: (404, "not_found"),
        InvalidConnection: (422, "validation_error"),
        ProviderNotConfigured: (422, "provider_not_configured"),
        AuthorizationFailed: (400, "authorization_failed"),
        ConnectionNotReady: (409, "not_ready"),
        SourceError: (502, "calendar_unavailable"),
    }
)
