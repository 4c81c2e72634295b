"""Errors raised by the accounts services.

AccountError
├── ValidationError      input is malformed; ``fields`` maps field → message
├── EmailTaken           another account uses this email (any letter case)
├── InvalidCredentials   wrong email or password (never says which)
├── InvalidToken         an API token or signed link is bad, expired or revoked
├── AccountSuspended     the password is right but an operator suspended the account
└── TooManyAttempts      login throttled; ``retry_after`` seconds until it may work
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class AccountError(Exception):
    """Base class; ``message`` is safe to show to the person who caused it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(AccountError):
    def __init__(
        self, fields: Mapping[str, str], message: str = "Some fields are invalid."
    ) -> None:
        super().__init__(message)
        self.fields = dict(fields)


class EmailTaken(AccountError):
    def __init__(self) -> None:
        super().__init__("An account with this email already exists.")


class InvalidCredentials(AccountError):
    def __init__(self) -> None:
        super().__init__("Email or password is incorrect.")


class InvalidToken(AccountError):
    pass


class AccountSuspended(AccountError):
    def __init__(self) -> None:
        super().__init__(
            "This account is suspended, so it cannot sign in. "
            "Write to the platform's support if you think this is a mistake."
        )


class TooManyAttempts(AccountError):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many failed login attempts. Try again in {minutes} {unit}.")
        self.retry_after = retry_after


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        ValidationError: (422, "validation_error"),
        EmailTaken: (409, "email_taken"),
        InvalidCredentials: (401, "invalid_credentials"),
        InvalidToken: (401, "invalid_token"),
        AccountSuspended: (403, "account_suspended"),
        TooManyAttempts: (429, "too_many_attempts"),
    }
)
