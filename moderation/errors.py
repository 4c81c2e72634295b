"""Errors of moderation::

ModerationError
├── ModerationNotFound     no such review, account or contested no-show (404)
├── ModerationInvalid      a reason or email that cannot be used; ``fields`` says why (422)
└── ModerationConflict     the target's state forbids it now (409):
    ├── ActionNotAllowed       already hidden, nothing to restore, suspending oneself ...
    └── ConfirmationRequired   suspending cancels bookings; ``bookings`` says how many
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "HTTP_STATUS",
    "ActionNotAllowed",
    "ConfirmationRequired",
    "ModerationConflict",
    "ModerationError",
    "ModerationInvalid",
    "ModerationNotFound",
]


class ModerationError(Exception):
    """Base class; ``message`` is safe to show to the operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModerationNotFound(ModerationError):
    def __init__(self, what: str) -> None:
        super().__init__(f"No such {what}.")


class ModerationInvalid(ModerationError):
    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("Some fields are invalid.")
        self.fields = dict(fields)


class ModerationConflict(ModerationError):
    """Well formed, but the target's state forbids it now."""


class ActionNotAllowed(ModerationConflict):
    pass


class ConfirmationRequired(ModerationConflict):
    """Suspending would cancel ``bookings`` future bookings; ask again with confirm."""

    def __init__(self, bookings: int) -> None:
        noun = "booking" if bookings == 1 else "bookings"
        super().__init__(
            f"Suspending this account cancels {bookings} future {noun}; "
            "send confirm: true to go ahead."
        )
        self.bookings = bookings


HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        ModerationNotFound: (404, "not_found"),
        ModerationInvalid: (422, "validation_error"),
        ActionNotAllowed: (409, "action_not_allowed"),
        ConfirmationRequired: (409, "confirmation_required"),
    }
)
