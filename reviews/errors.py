"""Errors of reviews and no-shows::

ReviewError
├── ReviewNotFound      no such review or booking, or not the caller's (404)
├── ReviewInvalid       a rating or text that cannot be saved; ``fields`` says why (422)
└── ReviewConflict      the rule of the moment forbids it (409), with a code:
    ├── ReviewNotOpen       the session has not ended, was cancelled or was a no-show
    ├── AlreadyReviewed     the booking has its review
    ├── ReviewLocked        the 14 days to edit are over
    ├── AlreadyReplied      the professional replied already
    └── NoShowNotAllowed    too early, too late, cancelled, or nothing to undo or contest
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "HTTP_STATUS",
    "AlreadyReplied",
    "AlreadyReviewed",
    "NoShowNotAllowed",
    "ReviewConflict",
    "ReviewError",
    "ReviewInvalid",
    "ReviewLocked",
    "ReviewNotFound",
    "ReviewNotOpen",
]


class ReviewError(Exception):
    """Base class; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReviewNotFound(ReviewError):
    def __init__(self, what: str = "review") -> None:
        super().__init__(f"No such {what}.")


class ReviewInvalid(ReviewError):
    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("Some fields are invalid.")
        self.fields = dict(fields)


class ReviewConflict(ReviewError):
    """The request is well formed but the booking's state forbids it now."""


class ReviewNotOpen(ReviewConflict):
    pass


class AlreadyReviewed(ReviewConflict):
    def __init__(self) -> None:
        super().__init__("This booking has been reviewed already; edit that review instead.")


class ReviewLocked(ReviewConflict):
    pass


class AlreadyReplied(ReviewConflict):
    def __init__(self) -> None:
        super().__init__("You have replied to this review already.")


class NoShowNotAllowed(ReviewConflict):
    pass


HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        ReviewNotFound: (404, "not_found"),
        ReviewInvalid: (422, "validation_error"),
        ReviewNotOpen: (409, "review_not_open"),
        AlreadyReviewed: (409, "already_reviewed"),
        ReviewLocked: (409, "review_locked"),
        AlreadyReplied: (409, "already_replied"),
        NoShowNotAllowed: (409, "no_show_not_allowed"),
    }
)
