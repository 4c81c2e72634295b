"""Signed, short-lived join tokens for video rooms.

The app issues a token only after :func:`video.rooms.check_room_access` said yes;
the WebSocket then accepts a connection only with a token for *its* room that has
not expired and that has not admitted anyone yet. The token is a JWT (HS256)
signed with a key derived from the app's secret key for this purpose alone; its
``jti`` is remembered in :class:`~video.models.UsedJoinToken` from first use until
expiry (the database, not Redis: the embedded default has none).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consult.db import Database
from video.config import VideoConfig
from video.errors import InvalidJoinToken, JoinTokenUsed
from video.models import UsedJoinToken
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
    jti: str


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
        # 128 bits: jtis of all live tokens share one table, so they must never collide.
        "jti": secrets.token_urlsafe(16),
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
            options={"verify_exp": False, "require": ["exp", "sub", "bid", "role", "jti"]},
        )
    except jwt.PyJWTError as error:
        raise InvalidJoinToken() from error
    if int(claims["exp"]) <= int(now.timestamp()):
        raise InvalidJoinToken("This join token has expired. Reload the page to rejoin.")
    if claims.get("bid") != booking_id:
        raise InvalidJoinToken("This join token is for another room.")
    role = claims.get("role")
    jti = claims["jti"]
    if role not in ("client", "professional") or not str(claims["sub"]).isdigit():
        raise InvalidJoinToken()
    if not isinstance(jti, str) or not 0 < len(jti) <= 64:
        raise InvalidJoinToken()
    return JoinClaims(booking_id, int(claims["sub"]), role, int(claims["exp"]), jti)


def consume_join_token(session: Session, claims: JoinClaims) -> None:
    """Mark the token as used inside ``session``'s transaction, or raise
    :class:`JoinTokenUsed` if it already admitted someone. The insert itself decides
    (primary key), so two concurrent joins with one token cannot both pass; on
    failure the caller's transaction is spoiled and must be rolled back."""
    session.add(
        UsedJoinToken(jti=claims.jti, expires_at=datetime.fromtimestamp(claims.expires_at, UTC))
    )
    try:
        session.flush()
    except IntegrityError:
        raise JoinTokenUsed() from None


def purge_used_join_tokens(database: Database, now: datetime) -> int:
    """Forget used tokens that have expired (they are refused for that anyway)."""
    with database.session() as session:
        result = session.execute(delete(UsedJoinToken).where(UsedJoinToken.expires_at <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]
