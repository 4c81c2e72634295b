"""Account operations. Each takes the SQLAlchemy session; the caller owns the
transaction (except failed logins, which are committed at once so that a
rolled-back request still counts against the attacker)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.errors import (
    AccountSuspended,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    TooManyAttempts,
    ValidationError,
)
from accounts.models import AppPassword, BrowserSession, LoginAttempt, RefreshToken, User
from caldav_server.provisioning import provision_principal
from consult.db import utcnow
from consult.text import InvalidText, clean_text, has_control_characters

ROLES = ("professional", "client")
MAX_PASSWORD_LENGTH = 1024  # argon2 copes, but an unbounded body is a DoS vector
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()
# Verified when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


# --- validation ---------------------------------------------------------------


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA zone known here, else raise ValidationError."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        raise ValidationError({"timezone": "Unknown time zone."})
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            {"timezone": f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin."}
        ) from None
    return name


def _check_password(password: Any, min_length: int, field: str = "password") -> dict[str, str]:
    if not isinstance(password, str) or not password:
        return {field: "Enter a password."}
    if len(password) < min_length:
        return {field: f"Use at least {min_length} characters."}
    if len(password) > MAX_PASSWORD_LENGTH:
        return {field: f"Use at most {MAX_PASSWORD_LENGTH} characters."}
    return {}


def email_problem(email: Any) -> str | None:
    """Why ``email`` is not an address an account can have, or None when it is."""
    if not isinstance(email, str) or not email.strip():
        return "Enter your email address."
    if len(email) > 254 or has_control_characters(email) or not _EMAIL_RE.match(email.strip()):
        return "Enter a valid email address."
    return None


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    name: str
    # "professional" or "client"; "" makes an account with neither role (an operator
    # made by ``consult admin create-operator``).
    role: str
    timezone: str = "UTC"


def validate_registration(data: Mapping[str, Any], min_password_length: int) -> Registration:
    """Check a registration payload; raise ValidationError listing every bad field."""
    errors: dict[str, str] = {}
    email = data.get("email")
    problem = email_problem(email)
    if problem is not None:
        errors["email"] = problem
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "Enter your name."
    else:
        try:
            name = clean_text(name, max_length=120)
        except InvalidText as error:
            errors["name"] = error.message
    errors.update(_check_password(data.get("password"), min_password_length))
    role = data.get("role", "client")
    if role not in ROLES:
        errors["role"] = "Choose professional or client."
    timezone = data.get("timezone") or "UTC"
    try:
        validate_timezone(timezone)
    except ValidationError as error:
        errors.update(error.fields)
    if errors:
        raise ValidationError(errors)
    assert isinstance(email, str) and isinstance(name, str)
    return Registration(email.strip(), str(data["password"]), name.strip(), str(role), timezone)


# --- registration and passwords ------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def register(session: Session, registration: Registration) -> User:
    """Create the account (and, for a professional, its CalDAV principal and calendars).

    Raises EmailTaken when the email exists in any letter case, also when two
    registrations race (the unique constraint decides).
    """
    normalized = normalize_email(registration.email)
    if session.scalar(select(User.id).where(User.email_normalized == normalized)) is not None:
        raise EmailTaken()
    user = User(
        email=registration.email,
        email_normalized=normalized,
        name=registration.name,
        password_hash=hash_password(registration.password),
        timezone=registration.timezone,
        is_professional=registration.role == "professional",
        is_client=registration.role == "client",
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise EmailTaken() from error
    if user.is_professional:
        make_professional(session, user)
    return user


def make_professional(session: Session, user: User) -> None:
    """Give ``user`` the professional role, a principal and its default calendars."""
    user.is_professional = True
    if user.principal is None:
        user.principal = _new_principal_name(session, user.name)
        session.flush()
    provision_principal(session, user.principal)


def _new_principal_name(session: Session, name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40] or "pro"
    while True:
        candidate = f"{slug}-{secrets.token_hex(3)}"
        if session.scalar(select(User.id).where(User.principal == candidate)) is None:
            return candidate


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def change_password(
    session: Session,
    user: User,
    current: Any,
    new: Any,
    min_length: int,
    keep_browser_session: int | None = None,
) -> None:
    """Replace the password after checking the current one.

    Ends every browser session but ``keep_browser_session`` (the one making the
    change), every API access token (credentials_version bump) and refresh token.
    App passwords stay: they are per device, revoked one by one.
    """
    if not isinstance(current, str) or not verify_password(user, current):
        raise ValidationError({"current_password": "Your current password is incorrect."})
    errors = _check_password(new, min_length, field="new_password")
    if errors:
        raise ValidationError(errors)
    assert isinstance(new, str)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    user.credentials_version += 1
    user.token_version += 1
    _revoke_refresh_tokens(session, user.id, utcnow())
    _end_browser_sessions(session, user.id, keep=keep_browser_session)


def _revoke_refresh_tokens(session: Session, user_id: int, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _end_browser_sessions(session: Session, user_id: int, keep: int | None = None) -> None:
    condition = BrowserSession.user_id == user_id
    if keep is not None:
        condition = condition & (BrowserSession.id != keep)
    session.execute(delete(BrowserSession).where(condition))


def sign_out_everywhere(session: Session, user: User) -> None:
    """End every browser session and API token of ``user``, this one included.

    Refresh tokens are revoked; the credentials_version bump also stops access
    tokens already handed out, which would otherwise live until they expire.
    """
    user.credentials_version += 1
    user.token_version += 1
    _revoke_refresh_tokens(session, user.id, utcnow())
    _end_browser_sessions(session, user.id)


# --- browser sessions -------------------------------------------------------------

# How stale ``last_used_at`` may get: a write per minute, not per page view.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
# (pattern, name), first match wins: Edge and Opera also say "Chrome", Chrome says "Safari".
_BROWSERS: tuple[tuple[str, str], ...] = (
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
)
_SYSTEMS: tuple[tuple[str, str], ...] = (
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Android", "Android"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
)


def summarize_user_agent(user_agent: str | None) -> str:
    """ "Firefox on Linux" from a User-Agent header: enough to recognise a device in
    a list, without keeping the full (fingerprintable) string."""
    text = user_agent or ""
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, text)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, text)), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def start_browser_session(
    session: Session, user: User, user_agent: str | None
) -> tuple[BrowserSession, str]:
    """Record a sign-in on the web pages; return it and the id for the cookie, which
    is never stored."""
    token = secrets.token_urlsafe(32)
    browser_session = BrowserSession(
        user_id=user.id, token_hash=_sha256(token), user_agent=summarize_user_agent(user_agent)
    )
    session.add(browser_session)
    session.flush()
    return browser_session, token


def find_browser_session(session: Session, token: Any) -> tuple[BrowserSession, User] | None:
    """The live session a cookie's id names, and its user; None once it has ended."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = session.execute(
        select(BrowserSession, User)
        .join(User, User.id == BrowserSession.user_id)
        .where(BrowserSession.token_hash == _sha256(token), User.suspended_at.is_(None))
    ).first()
    return None if row is None else (row[0], row[1])


def touch_browser_session(browser_session: BrowserSession, now: datetime | None = None) -> bool:
    """Move ``last_used_at`` to now when it is over a minute old; True when it wrote."""
    now = now or utcnow()
    if now - browser_session.last_used_at < SESSION_TOUCH_INTERVAL:
        return False
    browser_session.last_used_at = now
    return True


def end_browser_session(session: Session, token: Any) -> None:
    """Sign one browser out: its cookie no longer names a session."""
    if isinstance(token, str) and token:
        session.execute(delete(BrowserSession).where(BrowserSession.token_hash == _sha256(token)))


def list_browser_sessions(session: Session, user: User) -> list[BrowserSession]:
    return list(
        session.scalars(
            select(BrowserSession)
            .where(BrowserSession.user_id == user.id)
            .order_by(BrowserSession.last_used_at.desc())
        )
    )


# --- login throttling -------------------------------------------------------------


@dataclass(frozen=True)
class LoginPolicy:
    """Login throttling from ``[auth]`` (every value from the settings schema)."""

    window: timedelta
    per_account_and_ip: int
    per_ip: int
    per_account: int

    @classmethod
    def from_settings(cls, auth: Mapping[str, Any]) -> LoginPolicy:
        return cls(
            window=timedelta(minutes=auth["login_window_minutes"]),
            per_account_and_ip=auth["max_failures_per_account_and_ip"],
            per_ip=auth["max_failures_per_ip"],
            per_account=auth["max_failures_per_account"],
        )


def _throttle_keys(email: str, ip: str, policy: LoginPolicy) -> list[tuple[str, int]]:
    # The per-account limit is far above the per-(account, address) one, so someone
    # hammering an account from elsewhere locks the owner out for one window at most.
    return [
        (f"acct-ip:{email}|{ip}", policy.per_account_and_ip),
        (f"ip:{ip}", policy.per_ip),
        (f"acct:{email}", policy.per_account),
    ]


def _check_throttle(
    session: Session, keys: list[tuple[str, int]], policy: LoginPolicy, now: datetime
) -> None:
    since = now - policy.window
    for key, limit in keys:
        count, oldest = session.execute(
            select(func.count(), func.min(LoginAttempt.attempted_at)).where(
                LoginAttempt.key == key, LoginAttempt.attempted_at > since
            )
        ).one()
        if count >= limit:
            # min() keeps the column's type, so ``oldest`` is an aware UTC datetime.
            retry_after = int(((oldest or now) + policy.window - now).total_seconds()) + 1
            raise TooManyAttempts(max(1, retry_after))


def _record_failure(
    session: Session, keys: list[tuple[str, int]], policy: LoginPolicy, now: datetime
) -> None:
    session.add_all([LoginAttempt(key=key, attempted_at=now) for key, _ in keys])
    # Old rows are useless; pruning a few on each failure keeps the table small.
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - 4 * policy.window))
    session.commit()


def authenticate(
    session: Session,
    email: Any,
    password: Any,
    ip: str,
    policy: LoginPolicy,
    now: datetime | None = None,
) -> User:
    """Return the user whose email and account password match.

    Raises TooManyAttempts before checking anything when a limit is reached,
    InvalidCredentials (recording the failure) for a wrong email or password, and
    AccountSuspended for the right password of a suspended account (only someone
    who knows the password learns that it is suspended).
    """
    now = now or utcnow()
    if not isinstance(email, str) or not isinstance(password, str) or len(email) > 254:
        raise InvalidCredentials()
    normalized = normalize_email(email)
    keys = _throttle_keys(normalized, ip, policy)
    _check_throttle(session, keys, policy, now)
    user = session.scalar(select(User).where(User.email_normalized == normalized))
    password = password[:MAX_PASSWORD_LENGTH]
    if user is None:
        _safe_verify(_DUMMY_HASH, password)
        ok = False
    else:
        ok = verify_password(user, password)
    if not ok or user is None:
        _record_failure(session, keys, policy, now)
        raise InvalidCredentials()
    # A success clears this address's strikes on this account, not the others.
    session.execute(delete(LoginAttempt).where(LoginAttempt.key == keys[0][0]))
    if user.suspended_at is not None:
        raise AccountSuspended()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _safe_verify(hashed: str, password: str) -> None:
    try:
        _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        pass


def authenticate_dav(
    session: Session, login: str, password: str, ip: str, policy: LoginPolicy
) -> tuple[User, AppPassword | None]:
    """Authenticate a calendar app: an app password, or else the account password.

    ``login`` is the email (or the principal name, which CalDAV clients sometimes
    send back). Returns the user and the app password used (None for the account
    password). Same throttling as :func:`authenticate`.
    """
    now = utcnow()
    normalized = normalize_email(login)
    keys = _throttle_keys(normalized, ip, policy)
    _check_throttle(session, keys, policy, now)
    user = session.scalar(
        select(User).where((User.email_normalized == normalized) | (User.principal == login))
    )
    if user is not None and password:
        app_password = session.scalar(
            select(AppPassword).where(
                AppPassword.user_id == user.id,
                AppPassword.secret_hash == _sha256(_canonical_app_password(password)),
                AppPassword.revoked_at.is_(None),
            )
        )
        if app_password is not None:
            if user.suspended_at is not None:
                raise AccountSuspended()
            app_password.last_used_at = now
            return user, app_password
    return authenticate(session, user.email if user else login, password, ip, policy, now), None


# --- app passwords ----------------------------------------------------------------


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _canonical_app_password(password: str) -> str:
    # People retype these on phones: ignore spaces, dashes and case.
    return re.sub(r"[\s-]", "", password).lower()


def create_app_password(session: Session, user: User, name: Any) -> tuple[AppPassword, str]:
    """Create a named app password; return it and the secret, which is never stored."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "Name the device, e.g. “Maya’s iPhone”."})
    try:
        name = clean_text(name, max_length=80)
    except InvalidText as error:
        raise ValidationError({"name": error.message}) from error
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o/1/l look-alikes
    raw = "".join(secrets.choice(alphabet) for _ in range(24))  # ~120 bits
    secret = "-".join(raw[i : i + 4] for i in range(0, 24, 4))
    app_password = AppPassword(
        user_id=user.id, name=name.strip(), secret_hash=_sha256(_canonical_app_password(secret))
    )
    session.add(app_password)
    session.flush()
    return app_password, secret


def list_app_passwords(session: Session, user: User) -> list[AppPassword]:
    return list(
        session.scalars(
            select(AppPassword)
            .where(AppPassword.user_id == user.id, AppPassword.revoked_at.is_(None))
            .order_by(AppPassword.created_at)
        )
    )


def revoke_app_password(session: Session, user: User, app_password_id: int) -> AppPassword | None:
    """Revoke one of ``user``'s app passwords; None when it is not theirs or unknown."""
    app_password = session.get(AppPassword, app_password_id)
    if app_password is None or app_password.user_id != user.id:
        return None
    if app_password.revoked_at is None:
        app_password.revoked_at = utcnow()
    return app_password


# --- API tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def issue_tokens(
    session: Session, user: User, secret_key: str, access_ttl: timedelta, refresh_ttl: timedelta
) -> TokenPair:
    """A short-lived signed access token plus an opaque, stored refresh token."""
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "cv": user.credentials_version,
        "tv": user.token_version,
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + access_ttl).timestamp()),
    }
    access = jwt.encode(claims, secret_key, algorithm="HS256")
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(user_id=user.id, token_hash=_sha256(refresh), expires_at=now + refresh_ttl)
    )
    session.flush()
    return TokenPair(access, refresh, int(access_ttl.total_seconds()))


def user_from_access_token(session: Session, token: str, secret_key: str) -> User:
    """The user an access token names; InvalidToken if it is bad, expired or outdated."""
    try:
        claims = jwt.decode(
            token, secret_key, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired; refresh it.") from None
    except jwt.PyJWTError:
        raise InvalidToken("The access token is not valid.") from None
    if claims.get("typ") != "access" or not str(claims.get("sub", "")).isdigit():
        raise InvalidToken("The access token is not valid.")
    user = session.get(User, int(claims["sub"]))
    # Both versions live in the row just loaded: checking them costs no query.
    if (
        user is None
        or claims.get("cv") != user.credentials_version
        or claims.get("tv") != user.token_version
    ):
        raise InvalidToken("The access token is no longer valid; sign in again.")
    if user.suspended_at is not None:  # suspending bumps the versions; this is the backstop
        raise InvalidToken("This account is suspended.")
    return user


def refresh_tokens(
    session: Session, refresh: Any, secret_key: str, access_ttl: timedelta, refresh_ttl: timedelta
) -> TokenPair:
    """Trade a refresh token for a new pair; the old one stops working.

    Replaying a used refresh token revokes every token of that account: it means
    the token was copied. That covers the access tokens too (``token_version``), or
    whoever copied it would keep access for up to their lifetime.
    """
    if not isinstance(refresh, str) or not refresh or len(refresh) > 200:
        raise InvalidToken("The refresh token is not valid.")
    stored = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _sha256(refresh)))
    now = utcnow()
    if stored is None:
        raise InvalidToken("The refresh token is not valid.")
    if stored.revoked_at is not None:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == stored.user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        # In SQL, not read-modify-write: concurrent replays must each bump it.
        session.execute(
            update(User)
            .where(User.id == stored.user_id)
            .values(token_version=User.token_version + 1)
        )
        session.commit()
        raise InvalidToken("The refresh token was already used; sign in again.")
    if stored.expires_at <= now:
        raise InvalidToken("The refresh token has expired; sign in again.")
    # Conditional update: of two concurrent refreshes with the same token, one wins.
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidToken("The refresh token was already used; sign in again.")
    user = session.get(User, stored.user_id)
    if user is None:
        raise InvalidToken("The refresh token is not valid.")
    if user.suspended_at is not None:
        raise AccountSuspended()
    return issue_tokens(session, user, secret_key, access_ttl, refresh_ttl)


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)
