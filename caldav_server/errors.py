"""Errors of the calendar store (:mod:`caldav_server.store`).

Every error the store raises on purpose is a :class:`StoreError`::

    StoreError
    ├── InvalidPath            a collection path or item href that is not a safe name
    ├── CollectionNotFound     no collection at the path
    ├── CollectionExists       a collection is already at the path
    ├── NotACalendar           calendar objects written into a collection that is not a calendar
    ├── InvalidCalendarData    the iCalendar text does not parse or breaks a rule
    │   └── TooManyListedDates a component lists more EXDATE/RDATE dates than allowed
    ├── ItemTooLarge           the object is larger than the configured limit
    ├── UidConflict            another item of the collection already has this UID
    ├── InvalidSyncToken       a sync token that is malformed, from elsewhere or too old
    └── TransferError          a folder that cannot be imported from or exported to

The Radicale plugin (:mod:`plugins.storage`) turns them into ``ValueError`` so
that Radicale answers with a 4xx; the web layer maps them to HTTP statuses by
class. Errors raised before the store wrote anything (all validation, the UID
check) leave the caller's transaction as it was.
"""

from __future__ import annotations

__all__ = [
    "CollectionExists",
    "CollectionNotFound",
    "InvalidCalendarData",
    "InvalidPath",
    "InvalidSyncToken",
    "ItemTooLarge",
    "NotACalendar",
    "StoreError",
    "TooManyListedDates",
    "TransferError",
    "UidConflict",
]


class StoreError(Exception):
    """Base class of the calendar store's errors; ``message`` is safe to show to users."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidPath(StoreError):
    """A collection path or an item href is empty, has unsafe parts or is too long."""


class CollectionNotFound(StoreError):
    """No collection exists at the given path."""

    def __init__(self, path: str) -> None:
        super().__init__(f"no collection at {path!r}")
        self.path = path


class CollectionExists(StoreError):
    """A collection already exists at the given path."""

    def __init__(self, path: str) -> None:
        super().__init__(f"a collection already exists at {path!r}")
        self.path = path


class NotACalendar(StoreError):
    """The collection is not a calendar (its tag is not ``VCALENDAR``)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path!r} is not a calendar")
        self.path = path


class InvalidCalendarData(StoreError):
    """The text is not a single valid calendar object (RFC 4791 section 4.1)."""


class TooManyListedDates(InvalidCalendarData):
    """A component lists more EXDATE and RDATE values than the store accepts
    (:data:`caldav_server.limits.MAX_LISTED_DATES`); refused before parsing."""

    def __init__(self, component: str, count: int, limit: int) -> None:
        super().__init__(
            f"a {component} lists more than {limit} EXDATE and RDATE dates "
            f"({count} counted so far); use a shorter rule or split the event"
        )
        self.component = component
        self.limit = limit


class ItemTooLarge(StoreError):
    """The object is larger than the store's ``max_item_size``."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the calendar object has {size} bytes; the limit is {limit}")
        self.size = size
        self.limit = limit


class UidConflict(StoreError):
    """Another item of the same collection already uses the UID (RFC 4791 ``no-uid-conflict``)."""

    def __init__(self, path: str, uid: str, href: str) -> None:
        super().__init__(f"UID {uid!r} is already used by {href!r} in {path!r}")
        self.path = path
        self.uid = uid
        self.href = href


class InvalidSyncToken(StoreError):
    """The sync token is malformed, belongs to another collection, or is older than
    the retained history (RFC 6578 ``valid-sync-token``): the client must resync."""


class TransferError(StoreError):
    """Import or export cannot start: not a Radicale storage folder, or the export
    target already holds one."""
