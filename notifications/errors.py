"""Errors of the notifications package.

::

    NotificationError
    ├── UnknownRecipient        notify() named a user that does not exist
    ├── TemplateMissing         no template for a kind (a programming error in the caller)
    ├── NotificationNotFound    no such in-app notification, or not the caller's (404)
    ├── InvalidReminderOffsets  a professional's reminder offsets cannot be used (422)
    └── MailError               the mailer could not hand a message over
        ├── TransientMailError  try again later (4xx, connection refused, timeout)
        └── PermanentMailError  never retry (5xx: unknown mailbox, rejected content)

Adapters wrap smtplib and OS errors in :class:`MailError` subclasses with
``raise ... from``; nothing from smtplib reaches the delivery code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class NotificationError(Exception):
    """Base class; ``message`` is safe to show to the person who caused it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownRecipient(NotificationError):
    pass


class TemplateMissing(NotificationError):
    pass


class NotificationNotFound(NotificationError):
    def __init__(self, message: str = "No such notification.") -> None:
        super().__init__(message)


class InvalidReminderOffsets(NotificationError):
    """``fields`` maps the form field to what is wrong with it."""

    def __init__(self, message: str, field: str = "offsets") -> None:
        super().__init__(message)
        self.fields: Mapping[str, str] = {field: message}


class MailError(NotificationError):
    """``code`` is the SMTP reply code when the server gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientMailError(MailError):
    pass


class PermanentMailError(MailError):
    pass


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        NotificationNotFound: (404, "not_found"),
        InvalidReminderOffsets: (422, "validation_error"),
    }
)
