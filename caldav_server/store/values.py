"""What the store hands out: collection records, stored items, sync results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from caldav_server.models import (
    DATETIME_MAX,
    DATETIME_MIN,
)

SYNC_TOKEN_PREFIX = "urn:x-consult:sync:"
MAX_PATH_LENGTH = 1024
# Keeps IN (...) lists well under SQLite's bound-parameter limit.


@dataclass(frozen=True)
class CollectionRecord:
    """A collection as stored. ``props`` are Radicale's properties, ``tag`` included."""

    id: int
    path: str
    parent_id: int | None
    tag: str
    props: Mapping[str, str]
    ctag: str
    sync_id: str
    sync_seq: int
    history_floor: int
    modified_at: datetime

    @property
    def sync_token(self) -> str:
        """The RFC 6578 token of the collection's current state."""
        return f"{SYNC_TOKEN_PREFIX}{self.sync_id}:{self.sync_seq}"


@dataclass(frozen=True)
class CalendarInfo:
    """A calendar of a principal: its path and Radicale properties."""

    path: str
    props: Mapping[str, str]

    @property
    def display_name(self) -> str:
        return self.props.get("D:displayname") or self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class StoredItem:
    """An item as stored: its iCalendar ``text`` and what was derived from it.

    ``span_start``/``span_end`` enclose every occurrence (``DATETIME_MAX`` for
    unbounded rules).
    """

    collection_path: str
    href: str
    uid: str | None
    etag: str
    text: str
    last_modified: datetime
    component_name: str = ""
    object_name: str = "VCALENDAR"
    span_start: datetime = DATETIME_MIN
    span_end: datetime = DATETIME_MAX

    @property
    def path(self) -> str:
        return f"{self.collection_path}/{self.href}"


@dataclass(frozen=True)
class Candidate:
    """An item that may overlap a window. ``exact``: an indexed occurrence overlaps it,
    so Radicale's time-range filter would match without parsing the item."""

    item: StoredItem
    exact: bool


@dataclass(frozen=True)
class SyncChange:
    """One member that changed since a sync token; ``deleted`` when it is gone."""

    href: str
    deleted: bool


@dataclass(frozen=True)
class SyncResult:
    """The collection's current sync token and the members changed since the old one."""

    token: str
    changes: list[SyncChange] = field(default_factory=list)
