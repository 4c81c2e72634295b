"""The web app's side of the media relay: a small port and its HTTP adapter.

The relay (``consult video``, :mod:`video.relay`) runs in its own asyncio process;
the app's signalling forwards a browser's offer and ICE candidates to it and the
relay's answer back, so the browser talks to the relay exactly as it would to the
other person. Only this module knows the relay's wire format.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from video.errors import RelayError, RelayFull


class RelayPort(Protocol):
    """Media relay control: one peer connection per (room, role)."""

    def offer(self, room: int, role: str, session_id: str, sdp: str) -> str:
        """Answer SDP for the browser's offer; replaces that role's previous connection."""
        ...

    def add_candidate(
        self, room: int, role: str, session_id: str, candidate: dict[str, Any]
    ) -> None: ...

    def close_peer(self, room: int, role: str, session_id: str) -> None: ...

    def status(self) -> dict[str, Any]: ...


class HttpRelay:
    """Talks to the relay's control API over HTTP with a bearer key."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 20.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout

    def offer(self, room: int, role: str, session_id: str, sdp: str) -> str:
        answer = self._call(
            "POST", f"/rooms/{room}/{role}/offer", {"session": session_id, "sdp": sdp}
        )
        return str(answer["sdp"])

    def add_candidate(
        self, room: int, role: str, session_id: str, candidate: dict[str, Any]
    ) -> None:
        self._call(
            "POST",
            f"/rooms/{room}/{role}/candidate",
            {"session": session_id, "candidate": candidate},
        )

    def close_peer(self, room: int, role: str, session_id: str) -> None:
        self._call("POST", f"/rooms/{room}/{role}/close", {"session": session_id})

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status", None)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read() or b"{}")
            except ValueError:
                detail = {}
            if error.code == 503 and detail.get("code") == "relay_full":
                raise RelayFull() from error
            raise RelayError(f"The media relay refused the request ({error.code}).") from error
        except (OSError, ValueError) as error:
            raise RelayError() from error


def create_relay(relay_url: str, api_key: str) -> RelayPort | None:
    """The relay adapter for ``relay_url``, or None when no relay is configured."""
    return HttpRelay(relay_url, api_key) if relay_url else None
