"""Errors of the directory (professional profiles and search)::

DirectoryError
├── SearchParamError   bad search parameters; ``fields`` names each (HTTP 400)
└── ProfileInvalid     a profile or photo that cannot be saved; ``fields`` says why (422)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["HTTP_STATUS", "DirectoryError", "ProfileInvalid", "SearchParamError"]


class DirectoryError(Exception):
    """Base class; ``fields`` maps each bad input to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str], message: str) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields)


class SearchParamError(DirectoryError):
    """The search parameters are invalid."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(fields, "; ".join(f"{name}: {text}" for name, text in fields.items()))


class ProfileInvalid(DirectoryError):
    """A profile form or photo upload failed validation."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(fields, "Some fields are invalid.")


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        SearchParamError: (400, "bad_request"),
        ProfileInvalid: (422, "validation_error"),
    }
)
