"""What the Google Calendar and Microsoft Graph sources share: an OAuth session
from the connection's stored token, API calls whose 401 gets one forced refresh,
and reading the answer to a push or a delete."""

from __future__ import annotations

from typing import Any

import requests

from sync.errors import SourceAuthError, SourceDataError
from sync.oauth import OAuthProvider, api_calls, oauth_session, refresh_now
from sync.sources.base import Limits, SourceConfig
from sync.sources.http import raise_for_status, read_json


def escape_text(text: str) -> str:
    """``text`` as an RFC 5545 TEXT value (for the VEVENT lines built from JSON)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


class OAuthApiSource:
    """Base of the JSON calendar APIs signed in with OAuth."""

    what: str  # the service, in error messages ("Google Calendar")
    calendar_name: str  # the connected calendar, in messages ("Google calendar")
    version_field: str  # the pushed event's version in the API's answer

    def __init__(self, provider: OAuthProvider) -> None:
        self.provider = provider

    def _session(self, config: SourceConfig, limits: Limits) -> requests.Session:
        token = config.credentials.data.get("token")
        if not isinstance(token, dict) or not token.get("access_token"):
            raise SourceAuthError(
                f"This {self.calendar_name} is not connected yet. Connect it again."
            )
        return oauth_session(
            self.provider,
            token,
            lambda new: config.credentials.replace({**config.credentials.data, "token": new}),
            limits,
        )

    def _call(
        self, session: requests.Session, limits: Limits, method: str, url: str, **kwargs: Any
    ) -> requests.Response:
        """One API call; a 401 gets one forced token refresh and a retry."""
        with api_calls(self.provider, self.what):
            response = session.request(method, url, timeout=limits.timeout(), **kwargs)
            if response.status_code == 401:
                response.close()
                refresh_now(session, self.provider, limits)  # type: ignore[arg-type]
                response = session.request(method, url, timeout=limits.timeout(), **kwargs)
        return response

    def _pushed(self, response: requests.Response, limits: Limits) -> tuple[str, str]:
        """(event id, version) from the answer to a create or update."""
        with response:
            raise_for_status(response, self.what)
            body = read_json(response, limits, self.what)
        if not body.get("id"):
            raise SourceDataError(f"{self.what} did not say which event it created.")
        return str(body["id"]), str(body.get(self.version_field, ""))[:255]

    def _delete(self, config: SourceConfig, limits: Limits, url: str) -> None:
        """Delete the event at ``url`` (already gone is fine)."""
        with self._session(config, limits) as session:
            response = self._call(session, limits, "DELETE", url)
            with response:
                if response.status_code not in (404, 410):
                    raise_for_status(response, self.what)
