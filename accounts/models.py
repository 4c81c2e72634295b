"""Account tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consult.db import Base, UTCDateTime, utcnow


class User(Base):
    """A person. ``is_professional`` and ``is_client`` are independent roles;
    ``is_operator`` (moderation) is granted only by ``consult admin create-operator``.
    A suspended account (``suspended_at``) cannot sign in and is not listed."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique case-insensitively: the lower-cased copy carries the constraint.
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    is_professional: Mapped[bool] = mapped_column(Boolean, default=False)
    is_client: Mapped[bool] = mapped_column(Boolean, default=False)
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The CalDAV principal (/dav/<principal>/); set when the account becomes a professional.
    principal: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # Bumped on password change: API tokens and sessions minted before it stop working.
    credentials_version: Mapped[int] = mapped_column(Integer, default=1)
    # API access tokens carry it as ``tv``: bumped when a refresh token is replayed (its
    # family is revoked) or the password changes, so access tokens already handed out
    # stop at once instead of living out their 15 minutes. Browser sessions and
    # calendar apps are unaffected by a replay: only the API credentials leaked.
    token_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set by an operator; the reason is for the operators' records, not shown publicly.
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspension_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    app_passwords: Mapped[list[AppPassword]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="AppPassword.id"
    )

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.is_professional:
            roles.append("professional")
        if self.is_client:
            roles.append("client")
        return roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email_normalized}>"


class AppPassword(Base):
    """A per-device password for calendar apps; shown once, stored as a hash."""

    __tablename__ = "app_password"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    # SHA-256 of a 128-bit random secret: brute force is hopeless, so a fast hash is
    # enough, and it lets a login look the password up instead of trying each one.
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    user: Mapped[User] = relationship(back_populates="app_passwords")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class RefreshToken(Base):
    """An API refresh token; each use rotates it (the old one is revoked)."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class BrowserSession(Base):
    """One sign-in on the web pages. The signed cookie carries a random id; only its
    hash is stored, so a database leak gives no usable cookie. Deleting the row
    ends the session even though the cookie itself stays validly signed."""

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of 256 random bits: looked up directly, no slow hash needed.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Refreshed at most once a minute, so reading pages does not write on every hit.
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "Firefox on Linux": enough to recognise a device; no IP address is kept.
    user_agent: Mapped[str] = mapped_column(String(80), default="")


class LoginAttempt(Base):
    """A failed login, counted per key ("acct:<email>", "ip:<addr>", ...) in a window.

    Kept in the database, not in process memory, so every app server sees the
    same counts.
    """

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "attempted_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
