"""Signed links that let a client manage a booking from an email without signing in,
and the secret ICS feed of a professional's bookings."""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from accounts.models import User
from booking.models import Booking, FeedToken

_MANAGE_SALT = "booking-manage"


def manage_token(booking: Booking, secret_key: str) -> str:
    """A token naming the booking, signed with the app's secret (no expiry: it works
    as long as the booking can change, and only for that booking)."""
    return str(URLSafeSerializer(secret_key, salt=_MANAGE_SALT).dumps({"b": booking.id}))


def booking_from_manage_token(session: Session, token: str, secret_key: str) -> Booking | None:
    """The booking a manage token names, or None when the token is forged or malformed."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    try:
        payload = URLSafeSerializer(secret_key, salt=_MANAGE_SALT).loads(token)
    except BadSignature:
        return None
    booking_id = payload.get("b") if isinstance(payload, dict) else None
    if not isinstance(booking_id, int):
        return None
    return session.get(Booking, booking_id)


# --- ICS feed -----------------------------------------------------------------------


def _feed_mac(user_id: int, version: int, secret_key: str) -> str:
    message = f"feed:{user_id}:{version}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def get_feed_token(session: Session, user: User, secret_key: str) -> str | None:
    """The professional's current feed token, or None when the feed is turned off."""
    row = session.get(FeedToken, user.id)
    if row is None:
        row = FeedToken(user_id=user.id)
        session.add(row)
        session.flush()
    if not row.enabled:
        return None
    return f"{user.id}-{_feed_mac(user.id, row.version, secret_key)}"


def rotate_feed_token(session: Session, user: User, secret_key: str) -> str:
    """Revoke the current feed URL and return a new one."""
    row = session.get(FeedToken, user.id)
    if row is None:
        row = FeedToken(user_id=user.id, version=1)
        session.add(row)
    else:
        row.version += 1
        row.enabled = True
    session.flush()
    token = get_feed_token(session, user, secret_key)
    assert token is not None
    return token


def disable_feed(session: Session, user: User) -> None:
    row = session.get(FeedToken, user.id)
    if row is None:
        row = FeedToken(user_id=user.id, enabled=False)
        session.add(row)
    else:
        row.version += 1
        row.enabled = False
    session.flush()


def user_from_feed_token(session: Session, token: str, secret_key: str) -> User | None:
    """The professional whose live feed token this is, or None."""
    user_part, _, mac = token.partition("-")
    if not user_part.isdigit() or len(mac) != 40:
        return None
    row = session.get(FeedToken, int(user_part))
    if row is None or not row.enabled:
        return None
    expected = _feed_mac(row.user_id, row.version, secret_key)
    if not hmac.compare_digest(expected, mac):
        return None
    return session.get(User, row.user_id)
