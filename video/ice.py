"""ICE servers for browsers: STUN and TURN from settings, with time-limited TURN
credentials in the scheme of coturn's ``use-auth-secret`` (the "TURN REST API"):

- username   = "<unix expiry>:<opaque user reference>"
- credential = base64(HMAC-SHA1(static-auth-secret, username))

coturn recomputes the credential from the username and refuses it once the
expiry has passed, so nothing is stored and a leaked credential dies by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from video.config import VideoConfig


def turn_credentials(secret: str, user_ref: str, expires: int) -> tuple[str, str]:
    """(username, credential) valid until the unix time ``expires`` for ``user_ref``
    (any string without a colon; it shows up in coturn's logs, so no personal data)."""
    username = f"{expires}:{user_ref}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers(config: VideoConfig, user_ref: str, now: datetime) -> list[dict[str, Any]]:
    """RTCIceServer dictionaries for a browser: STUN as configured, TURN with fresh
    credentials when both TURN URLs and the shared secret are set."""
    servers: list[dict[str, Any]] = []
    if config.stun_urls:
        servers.append({"urls": list(config.stun_urls)})
    if config.turn_urls and config.turn_secret:
        expires = int(now.timestamp() + config.turn_ttl.total_seconds())
        username, credential = turn_credentials(config.turn_secret, user_ref, expires)
        servers.append(
            {"urls": list(config.turn_urls), "username": username, "credential": credential}
        )
    return servers


def peer_ice_config(config: VideoConfig, user_ref: str, now: datetime) -> dict[str, Any]:
    """The RTCConfiguration for the browser-to-browser connection."""
    return {
        "iceServers": ice_servers(config, user_ref, now),
        "iceTransportPolicy": config.ice_transport_policy,
    }


def relay_ice_config() -> dict[str, Any]:
    """The RTCConfiguration for a connection to the platform's relay: the relay
    offers its own (public) addresses, so no STUN or TURN is needed and every
    candidate type is allowed, whatever the direct policy is."""
    return {"iceServers": [], "iceTransportPolicy": "all"}
