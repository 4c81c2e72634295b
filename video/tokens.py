"""Signed, short-lived join tokens for video rooms.

The app issues a token only after :func:`video.rooms.check_room_access` said yes;
the WebSocket then accepts a connection only with a token for *its* room that has
not expired. The token is a JWT (HS256) signed with a key derived from the app's
secret key for this purpose alone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import jwt

from video.config import VideoConfig
from video.errors import InvalidJoinToken
from video.rooms import Role

AUDIENCE = "consult-video-room"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class JoinClaims:
    """What a valid join token says: who joins which room, in which role, until when."""

    booking_id: int
    user_id: int
    role: Role
    expires_at: int


def issue_join_token(
    config: VideoConfig, *, booking_id: int, user_id: int, role: Role, now: datetime
) -> str:
    """A token admitting ``user_id`` to room ``booking_id`` until now + join_token_ttl.

    Assumes the caller has checked access; the token only carries that decision."""
    issued = int(now.timestamp())
    claims = {
        "aud": AUDIENCE,
        "sub": str(user_id),
        "bid": booking_id,
        "role": role,
        "iat": issued,
        "exp": issued + int(config.join_token_ttl.total_seconds()),
        "jti": secrets.token_urlsafe(8),
    }
    return jwt.encode(claims, config.derived_key("video-join-token"), algorithm=_ALGORITHM)


def read_join_token(
    config: VideoConfig, token: object, *, booking_id: int, now: datetime
) -> JoinClaims:
    """The claims of ``token`` if it is well signed, unexpired at ``now`` and for room
    ``booking_id``; else :class:`InvalidJoinToken` saying which."""
    if not isinstance(token, str) or not token:
        raise InvalidJoinToken("Send a join token to enter the room.")
    try:
        # Expiry is checked below against ``now`` so that callers (and tests) own the clock.
        claims = jwt.decode(
            token,
            config.derived_key("video-join-token"),
            algorithms=[_ALGORITHM],
            audience=AUDIENCE,
            options={"verify_exp": False, "require": ["exp", "sub", "bid", "role"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidJoinToken() from error
    if int(claims["exp"]) <= int(now.timestamp()):
        raise InvalidJoinToken("This join token has expired. Reload the page to rejoin.")
    if claims.get("bid") != booking_id:
        raise InvalidJoinToken("This join token is for another room.")
    role = claims.get("role")
    if role not in ("client", "professional") or not str(claims["sub"]).isdigit():
        raise InvalidJoinToken()
    return JoinClaims(booking_id, int(claims["sub"]), role, int(claims["exp"]))
