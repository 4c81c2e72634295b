"""Accounts: people who use the platform, their passwords, app passwords for
calendar apps, API tokens and login throttling.

One account can be a professional, a client, or both (two role flags, not a
type). Views call :mod:`accounts.services`; nothing here imports Flask.
"""

from accounts.errors import (
    HTTP_STATUS,
    AccountError,
    AccountSuspended,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    TooManyAttempts,
    ValidationError,
)
from accounts.models import AppPassword, LoginAttempt, RefreshToken, User
from consult.hookspecs import ErrorStatuses, hookimpl
from consult.platform import Platform

__all__ = [
    "AccountError",
    "AccountSuspended",
    "AppPassword",
    "EmailTaken",
    "InvalidCredentials",
    "InvalidToken",
    "LoginAttempt",
    "RefreshToken",
    "TooManyAttempts",
    "User",
    "ValidationError",
    "include",
]


class AccountHooks:
    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Wire accounts into ``platform`` (their errors' HTTP statuses)."""
    platform.register(AccountHooks(), "accounts")
