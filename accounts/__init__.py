"""Accounts: people who use the platform, their passwords, app passwords for
calendar apps, API tokens and login throttling.

One account can be a professional, a client, or both (two role flags, not a
type). Views call :mod:`accounts.services`; nothing here imports Flask.
"""

from accounts.errors import (
    AccountError,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    TooManyAttempts,
    ValidationError,
)
from accounts.models import AppPassword, LoginAttempt, RefreshToken, User

__all__ = [
    "AccountError",
    "AppPassword",
    "EmailTaken",
    "InvalidCredentials",
    "InvalidToken",
    "LoginAttempt",
    "RefreshToken",
    "TooManyAttempts",
    "User",
    "ValidationError",
]
