"""OAuth 2.0 with Google and Microsoft, through ``authlib``'s ``requests`` client.

The flow: connecting a Google or Microsoft calendar creates the connection in the
``authorizing`` state with a random ``state`` (stored hashed) and a PKCE verifier
(stored encrypted), and answers with the provider's authorization URL. The
provider sends the browser back to ``/calendars/oauth/<provider>/callback`` with a
code; :func:`exchange_code` turns it into tokens, stored encrypted. During syncs
``authlib`` refreshes the access token before it expires and the new token is
stored again. Removing the connection revokes the grant where the provider offers
an endpoint for it (Google; Microsoft has none for a single grant, so the tokens
are only deleted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from consult.config import Settings
from sync.errors import AuthorizationFailed, ProviderNotConfigured, SourceAuthError
from sync.models import GOOGLE, MICROSOFT
from sync.sources.base import Limits
from sync.sources.http import guard_session, mapped

__all__ = [
    "OAuthProvider",
    "api_calls",
    "authorization_url",
    "exchange_code",
    "oauth_session",
    "provider_for",
    "refresh_now",
    "require_configured",
]

# Google and Microsoft both accept the client secret in the form body.
_AUTH_METHOD = "client_secret_post"


class _Session(OAuth2Session):  # type: ignore[misc]
    """authlib's session with a default timeout on every request, including the token
    refresh authlib makes on its own (which passes none)."""

    default_timeout: float = 30.0

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


@dataclass(frozen=True)
class OAuthProvider:
    """One provider's OAuth client and endpoints (from ``[sync]`` settings)."""

    kind: str
    label: str
    client_id: str
    client_secret: str
    auth_url: str
    token_url: str
    api_url: str
    scope: str
    revoke_url: str = ""
    extra_authorize: Mapping[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.client_id)


def provider_for(settings: Settings, kind: str) -> OAuthProvider:
    """The provider for ``kind`` (``google`` or ``microsoft``) as configured."""
    sync = settings.sync
    if kind == GOOGLE:
        return OAuthProvider(
            kind=GOOGLE,
            label="Google",
            client_id=sync.google_client_id,
            client_secret=sync.google_client_secret,
            auth_url=sync.google_auth_url,
            token_url=sync.google_token_url,
            api_url=sync.google_api_url,
            revoke_url=sync.google_revoke_url,
            # Read events and the calendar's name; write the bookings pushed back.
            scope="https://www.googleapis.com/auth/calendar.events "
            "https://www.googleapis.com/auth/calendar.readonly",
            # A refresh token is only issued with offline access, and again on re-consent.
            extra_authorize={"access_type": "offline", "prompt": "consent"},
        )
    if kind == MICROSOFT:
        return OAuthProvider(
            kind=MICROSOFT,
            label="Microsoft",
            client_id=sync.microsoft_client_id,
            client_secret=sync.microsoft_client_secret,
            auth_url=sync.microsoft_auth_url,
            token_url=sync.microsoft_token_url,
            api_url=sync.microsoft_graph_url,
            scope="offline_access Calendars.ReadWrite User.Read",
            extra_authorize={"response_mode": "query"},
        )
    raise ValueError(f"{kind!r} is not an OAuth calendar kind")


def require_configured(provider: OAuthProvider) -> None:
    """Raise :class:`ProviderNotConfigured` when the operator has not set it up."""
    if not provider.configured:
        raise ProviderNotConfigured(provider.label)


def authorization_url(
    provider: OAuthProvider, redirect_uri: str, state: str, code_verifier: str
) -> str:
    """The URL to send the professional's browser to (PKCE S256, our ``state``)."""
    client = _Session(
        provider.client_id,
        provider.client_secret,
        scope=provider.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=_AUTH_METHOD,
    )
    url, _ = client.create_authorization_url(
        provider.auth_url, state=state, code_verifier=code_verifier, **provider.extra_authorize
    )
    return str(url)


def exchange_code(
    provider: OAuthProvider, redirect_uri: str, code: str, code_verifier: str, limits: Limits
) -> dict[str, Any]:
    """Exchange an authorization code for tokens; returns the token dict.

    Raises :class:`AuthorizationFailed` when the provider refuses the code, or a
    ``SourceError`` when it cannot be reached.
    """
    with _Session(
        provider.client_id,
        provider.client_secret,
        scope=provider.scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=_AUTH_METHOD,
    ) as client:
        client.default_timeout = limits.timeout()
        guard_session(client, limits)
        with mapped(f"{provider.label}'s sign-in service"):
            try:
                token = client.fetch_token(
                    provider.token_url,
                    code=code,
                    code_verifier=code_verifier,
                    timeout=limits.timeout(),
                )
            except AuthlibBaseError as error:
                raise AuthorizationFailed(
                    f"{provider.label} did not accept the sign-in ({error.error}). "
                    "Please connect the calendar again."
                ) from error
    if not token.get("refresh_token"):
        raise AuthorizationFailed(
            f"{provider.label} gave no refresh token, so the calendar could not be kept in "
            "sync. Remove the platform's access in your account settings there and connect "
            "again."
        )
    return dict(token)


def oauth_session(
    provider: OAuthProvider,
    token: Mapping[str, Any],
    on_refresh: Callable[[dict[str, Any]], None],
    limits: Limits,
) -> OAuth2Session:
    """A ``requests`` session that signs calls with ``token`` and refreshes it when it
    is about to expire, calling ``on_refresh(new_token)`` so it can be stored."""

    def update_token(new: dict[str, Any], refresh_token: str | None = None, **_: Any) -> None:
        merged = dict(new)
        # Google does not repeat the refresh token when refreshing; keep the old one.
        merged.setdefault("refresh_token", token.get("refresh_token"))
        on_refresh(merged)

    session = _Session(
        provider.client_id,
        provider.client_secret,
        scope=provider.scope,
        token=dict(token),
        token_endpoint=provider.token_url,
        token_endpoint_auth_method=_AUTH_METHOD,
        update_token=update_token,
        leeway=60,
    )
    session.default_timeout = limits.request_timeout
    guard_session(session, limits)
    return session


def refresh_now(session: OAuth2Session, provider: OAuthProvider, limits: Limits) -> None:
    """Refresh the access token at once (after a 401 from the API: revoked early)."""
    refresh_token = (session.token or {}).get("refresh_token")
    if not refresh_token:
        raise SourceAuthError(_reconnect(provider))
    with mapped(f"{provider.label}'s sign-in service"):
        try:
            session.refresh_token(
                provider.token_url, refresh_token=refresh_token, timeout=limits.timeout()
            )
        except AuthlibBaseError as error:
            raise SourceAuthError(_reconnect(provider)) from error


def _reconnect(provider: OAuthProvider) -> str:
    return (
        f"{provider.label} no longer accepts this connection (access revoked or expired). "
        "Remove the calendar and connect it again."
    )


@contextmanager
def api_calls(provider: OAuthProvider, what: str) -> Iterator[None]:
    """Map network errors (naming ``what``) and authlib's refresh failures inside the
    block to ``SourceError``s."""
    with mapped(what):
        try:
            yield
        except AuthlibBaseError as error:
            raise SourceAuthError(_reconnect(provider)) from error
