"""The OAuth 2.0 side of the Google and Microsoft stand-ins.

The real services cannot be reached from the test machines, so these local servers
speak their documented wire format instead, and the platform talks to them with the
same client library it uses in production (authlib's requests client): the
authorization endpoint (redirecting back with ``code`` and ``state``), the token
endpoint (authorization code with PKCE S256, refresh tokens, JSON errors such as
``invalid_grant``), bearer checks on API calls, and Google's revocation endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from werkzeug.serving import make_server

from tests.helpers import free_port


@dataclass
class Grant:
    refresh_token: str
    scope: str
    revoked: bool = False


class OAuthStandIn:
    """Authorization codes, access and refresh tokens for one registered client."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        access_lifetime: int = 3600,
        rotate_refresh_tokens: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_lifetime = access_lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.codes: dict[str, dict[str, str]] = {}
        self.access: dict[str, tuple[float, Grant]] = {}
        self.grants: dict[str, Grant] = {}
        self.token_requests: Counter[str] = Counter()
        self.lock = threading.Lock()

    def authorize(self, args: Any) -> tuple[int, dict[str, str] | str]:
        """The consent screen, approved at once: (302, location) or (400, error)."""
        if args.get("client_id") != self.client_id or args.get("response_type") != "code":
            return 400, {"error": "invalid_request"}
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            return 400, {"error": "invalid_request", "error_description": "PKCE required"}
        redirect_uri = args.get("redirect_uri", "")
        if args.get("deny"):
            query = urlencode({"error": "access_denied", "state": args.get("state", "")})
            return 302, f"{redirect_uri}?{query}"
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {
                "redirect_uri": redirect_uri,
                "challenge": args["code_challenge"],
                "scope": args.get("scope", ""),
            }
        return 302, f"{redirect_uri}?{urlencode({'code': code, 'state': args.get('state', '')})}"

    def _client_ok(self, form: Any, headers: Any) -> bool:
        header = headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return (user, password) == (self.client_id, self.client_secret)
        return (form.get("client_id"), form.get("client_secret")) == (
            self.client_id,
            self.client_secret,
        )

    def _issue(self, grant: Grant) -> dict[str, Any]:
        access = secrets.token_urlsafe(24)
        self.access[access] = (time.time() + self.access_lifetime, grant)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
            "scope": grant.scope,
        }

    def token(self, form: Any, headers: Any) -> tuple[int, dict[str, Any]]:
        """The token endpoint: (status, JSON body)."""
        grant_type = form.get("grant_type", "")
        with self.lock:
            self.token_requests[grant_type] += 1
            if not self._client_ok(form, headers):
                return 401, {"error": "invalid_client"}
            if grant_type == "authorization_code":
                code = self.codes.pop(form.get("code", ""), None)
                if code is None or code["redirect_uri"] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant", "error_description": "Bad code."}
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
                if challenge != code["challenge"]:
                    return 400, {"error": "invalid_grant", "error_description": "PKCE failed."}
                grant = Grant(secrets.token_urlsafe(24), code["scope"])
                self.grants[grant.refresh_token] = grant
                return 200, {**self._issue(grant), "refresh_token": grant.refresh_token}
            if grant_type == "refresh_token":
                grant = self.grants.get(form.get("refresh_token", ""))
                if grant is None or grant.revoked:
                    return 400, {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    }
                body = self._issue(grant)
                if self.rotate_refresh_tokens:
                    del self.grants[grant.refresh_token]
                    grant.refresh_token = secrets.token_urlsafe(24)
                    self.grants[grant.refresh_token] = grant
                    body["refresh_token"] = grant.refresh_token
                return 200, body
            return 400, {"error": "unsupported_grant_type"}

    def check(self, headers: Any) -> bool:
        """Whether the request carries a valid, unexpired bearer token."""
        header = headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return False
        with self.lock:
            found = self.access.get(header[7:])
        return found is not None and found[0] > time.time() and not found[1].revoked

    def expire_access_tokens(self) -> None:
        """Make every issued access token invalid (as if revoked early or expired)."""
        with self.lock:
            self.access.clear()

    def revoke(self, token: str) -> bool:
        """Revoke the grant a refresh or access token belongs to."""
        with self.lock:
            grant = self.grants.get(token)
            if grant is None and token in self.access:
                grant = self.access[token][1]
            if grant is None:
                return False
            grant.revoked = True
            return True

    @property
    def revoked_grants(self) -> int:
        with self.lock:
            return sum(1 for grant in self.grants.values() if grant.revoked)


class ServedApp:
    """Serve a Flask app on a free loopback port in a thread."""

    def __init__(self, app: Flask) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
