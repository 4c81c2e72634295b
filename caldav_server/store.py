"""The transactional calendar store: the one code path that reads and writes the
CalDAV data, used by the Radicale plugin (:mod:`plugins.storage`) for requests
over HTTP and by the platform (booking, provisioning, import) directly.

A :class:`CalendarStore` works inside the caller's SQLAlchemy session and never
commits: a booking row and its calendar event commit or roll back together, and
CalDAV clients see the change at once because the same write updates the
item's etag, the collection's ctag, the sync history and the time-range index.

Paths are Radicale's, without slashes: ``alice`` is a principal,
``alice/bookings`` a calendar, and items are named by ``href`` inside it.

Writers are serialised per principal (:meth:`CalendarStore.lock_collection`):
on PostgreSQL with a transaction-scoped advisory lock, so app processes on
several machines can share the database; on SQLite every write transaction
already holds the database's single write lock.

The ``calendar_item_changed`` hook (:mod:`consult.hookspecs`) of the session's
platform is called, inside the writing transaction, for every item put, deleted
or moved, whether through this API or over CalDAV, so the booking layer can react
(a professional deleting a booked event from their phone cancels the booking). An
exception raised by an implementation aborts the write.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from radicale import item as radicale_item
from radicale import pathutils
from sqlalchemy import (
    ColumnElement,
    Row,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from caldav_server.errors import (
    CollectionExists,
    CollectionNotFound,
    InvalidCalendarData,
    InvalidPath,
    InvalidSyncToken,
    ItemTooLarge,
    NotACalendar,
    UidConflict,
)
from caldav_server.models import (
    DATETIME_MAX,
    DATETIME_MIN,
    OCCURRENCE_PIECE,
    DavChange,
    DavCollection,
    DavItem,
    DavOccurrence,
)
from caldav_server.spans import (
    DEFAULT_INDEX_HORIZON,
    CalendarObject,
    calendar_object_from_item,
    compute_time_index,
    default_href,
    is_safe_href,
    parse_calendar_object,
)
from consult.db import advisory_lock, utcnow
from consult.hookspecs import CalendarItemChanged, hooks_of

__all__ = [
    "CalendarInfo",
    "CalendarStore",
    "Candidate",
    "CollectionRecord",
    "StoredItem",
    "SyncChange",
    "SyncResult",
]

logger = logging.getLogger(__name__)

SYNC_TOKEN_PREFIX = "urn:x-consult:sync:"
MAX_PATH_LENGTH = 1024
# Keeps IN (...) lists well under SQLite's bound-parameter limit.
_CHUNK = 500


# --- values ------------------------------------------------------------------------


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


# --- helpers -----------------------------------------------------------------------

# Any result row (SQLAlchemy 2.1 types rows by their columns).
_Row = Row[*tuple[Any, ...]]

_ITEM_COLUMNS = (
    DavItem.id,
    DavItem.collection_id,
    DavItem.href,
    DavItem.uid,
    DavItem.etag,
    DavItem.object_name,
    DavItem.component_name,
    DavItem.text,
    DavItem.span_start,
    DavItem.span_end,
    DavItem.last_modified,
)

_COLLECTION_COLUMNS = (
    DavCollection.id,
    DavCollection.path,
    DavCollection.parent_id,
    DavCollection.tag,
    DavCollection.props,
    DavCollection.ctag,
    DavCollection.sync_id,
    DavCollection.sync_seq,
    DavCollection.history_floor,
    DavCollection.modified_at,
)


def _record(row: _Row) -> CollectionRecord:
    props = json.loads(row.props)
    if row.tag:
        props["tag"] = row.tag
    return CollectionRecord(
        row.id,
        row.path,
        row.parent_id,
        row.tag,
        props,
        row.ctag,
        row.sync_id,
        row.sync_seq,
        row.history_floor,
        row.modified_at,
    )


def _stored(row: _Row, collection_path: str) -> StoredItem:
    return StoredItem(
        collection_path=collection_path,
        href=row.href,
        uid=row.uid,
        etag=row.etag,
        text=row.text,
        last_modified=row.last_modified,
        component_name=row.component_name,
        object_name=row.object_name,
        span_start=row.span_start,
        span_end=row.span_end,
    )


def _new_token() -> str:
    return secrets.token_hex(16)


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for index in range(0, len(values), size):
        yield values[index : index + size]


def clean_path(path: str) -> str:
    """``path`` without surrounding slashes, checked to be a safe collection path.

    Raises :class:`InvalidPath` for empty parts, ``.``/``..``, control characters
    or paths longer than 1024 characters. The empty string is the root.
    """
    stripped = path.strip("/")
    if len(stripped) > MAX_PATH_LENGTH:
        raise InvalidPath(f"the path is longer than {MAX_PATH_LENGTH} characters")
    if not stripped:
        return ""
    for part in stripped.split("/"):
        if not pathutils.is_safe_path_component(part) or len(part) > 255:
            raise InvalidPath(f"{path!r} is not a valid collection path")
        if any(ord(c) < 32 or ord(c) == 127 for c in part):
            raise InvalidPath(f"{path!r} contains control characters")
    return stripped


def principal_of(path: str) -> str:
    """The principal (first segment) of a collection or item path."""
    return path.strip("/").split("/", 1)[0]


def parse_sync_token(token: str) -> tuple[str, int]:
    """``(sync_id, seq)`` from a token made by :attr:`CollectionRecord.sync_token`."""
    if not token.startswith(SYNC_TOKEN_PREFIX):
        raise InvalidSyncToken(f"unknown sync token {token[:100]!r}")
    sync_id, _, seq = token[len(SYNC_TOKEN_PREFIX) :].partition(":")
    if not sync_id or not seq.isdigit() or len(seq) > 18:
        raise InvalidSyncToken(f"malformed sync token {token[:100]!r}")
    return sync_id, int(seq)


# --- the store ---------------------------------------------------------------------


class CalendarStore:
    """Read and write calendars in ``session``'s transaction (never commits).

    ``max_occurrences`` bounds recurrence expansion (Radicale's
    ``max_vevent_rrule_occurrence``, and the index rows of one item);
    ``max_item_size`` (bytes, ``None`` for no limit) bounds one object;
    deleted items are remembered for sync for ``history_max_age``; unbounded
    rules are indexed for ``index_horizon`` beyond now (or their first
    occurrence when later).
    """

    def __init__(
        self,
        session: Session,
        *,
        max_occurrences: int = 5000,
        max_item_size: int | None = None,
        history_max_age: timedelta = timedelta(days=30),
        index_horizon: timedelta = DEFAULT_INDEX_HORIZON,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.session = session
        self._hooks = hooks_of(session)
        self.max_occurrences = max_occurrences
        self.max_item_size = max_item_size
        self.history_max_age = history_max_age
        self.index_horizon = index_horizon
        self.clock = clock

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    # --- locking -------------------------------------------------------------------

    def lock_collection(self, path: str) -> None:
        """Hold the write lock of ``path``'s principal until the transaction ends.

        Every write through the store takes it, so read-check-write sequences (the
        UID check, the sync counter) are never interleaved, across processes too.
        Locking the principal rather than the row also covers collections that do
        not exist yet. Take it before reading what a write depends on.

        Lock order: a CalDAV write takes this lock first and item listeners then
        lock the platform's rows, so platform code must also take it *before*
        locking its own rows (bookings, seats) in the same transaction; the other
        order can deadlock against a calendar app's write on PostgreSQL.
        """
        advisory_lock(self.session, "dav:" + (principal_of(path) or "/"))

    # --- collections -------------------------------------------------------------

    def get_collection(self, path: str) -> CollectionRecord | None:
        """The collection at ``path``, or ``None``. The root (``""``) is not stored."""
        path = clean_path(path)
        row = self.session.execute(
            select(*_COLLECTION_COLUMNS).where(DavCollection.path == path)
        ).first()
        return _record(row) if row is not None else None

    def collection_exists(self, path: str) -> bool:
        """Whether a collection exists at ``path``."""
        return self.get_collection(path) is not None

    def _require(self, path: str | CollectionRecord) -> CollectionRecord:
        if isinstance(path, CollectionRecord):
            return path
        record = self.get_collection(path)
        if record is None:
            raise CollectionNotFound(clean_path(path))
        return record

    def refresh(self, record: CollectionRecord) -> CollectionRecord:
        """The collection re-read from the database (after writes in this transaction)."""
        row = self.session.execute(
            select(*_COLLECTION_COLUMNS).where(DavCollection.id == record.id)
        ).first()
        if row is None:
            raise CollectionNotFound(record.path)
        return _record(row)

    def child_collections(self, path: str) -> list[CollectionRecord]:
        """The collections directly under ``path`` (principals for the root), by path."""
        path = clean_path(path)
        query = select(*_COLLECTION_COLUMNS).order_by(DavCollection.path)
        if not path:
            query = query.where(DavCollection.parent_id.is_(None))
            return [_record(row) for row in self.session.execute(query)]
        parent_id = select(DavCollection.id).where(DavCollection.path == path).scalar_subquery()
        query = query.where(DavCollection.parent_id == parent_id)
        children = [_record(row) for row in self.session.execute(query)]
        if not children:
            self._require(path)  # none, or no such collection
        return children

    def ensure_principal(self, principal: str) -> CollectionRecord:
        """The principal collection ``/principal/``, created when missing."""
        path = clean_path(principal)
        if not path or "/" in path:
            raise InvalidPath(f"{principal!r} is not a principal name")
        return self.ensure_collection(path)

    def ensure_collection(self, path: str) -> CollectionRecord:
        """The collection at ``path``; it and missing ancestors are created as plain
        collections (no tag), as Radicale's file storage does with ``makedirs``."""
        path = clean_path(path)
        if not path:
            raise InvalidPath("the root collection always exists and is not stored")
        existing = self.get_collection(path)
        if existing is not None:
            return existing
        self.lock_collection(path)
        parent_id: int | None = None
        record: CollectionRecord | None = None
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            record = self.get_collection(prefix)
            if record is None:
                record = self._insert_collection(prefix, parent_id, {})
            parent_id = record.id
        assert record is not None
        return record

    def _insert_collection(
        self, path: str, parent_id: int | None, props: Mapping[str, str]
    ) -> CollectionRecord:
        props = dict(props)
        tag = props.pop("tag", "")
        now = self.clock()
        self.session.execute(
            insert(DavCollection).values(
                path=path,
                parent_id=parent_id,
                tag=tag,
                props=json.dumps(props, sort_keys=True),
                ctag=_new_token(),
                sync_id=_new_token(),
                sync_seq=0,
                history_floor=0,
                created_at=now,
                modified_at=now,
            )
        )
        record = self.get_collection(path)
        assert record is not None
        return record

    def create_calendar(self, path: str, props: Mapping[str, str]) -> CollectionRecord:
        """Create the calendar ``path`` with Radicale properties such as
        ``D:displayname``, ``ICAL:calendar-color``,
        ``C:supported-calendar-component-set``. Missing ancestors are created.
        Raises :class:`CollectionExists` when something is already there."""
        path = clean_path(path)
        if "/" not in path:
            raise InvalidPath("a calendar lives under a principal: 'principal/calendar'")
        self.lock_collection(path)
        if self.get_collection(path) is not None:
            raise CollectionExists(path)
        record, _, _ = self.create_collection(
            path, {**_sanitize_props(props), "tag": "VCALENDAR"}, None
        )
        return record

    def create_collection(
        self,
        path: str,
        props: Mapping[str, str] | None = None,
        objects: Iterable[CalendarObject] | None = None,
        *,
        actor: str = "platform",
    ) -> tuple[CollectionRecord, dict[str, StoredItem], list[str]]:
        """Radicale's ``create_collection``: without ``props``, make sure the collection
        exists; with them, replace it: new properties and exactly ``objects`` as its
        items (existing ones that are not replaced are deleted, with tombstones so
        sync clients learn about it).

        Returns the collection, the replaced items by href, and the new hrefs.
        Hrefs are chosen as Radicale's file storage does (``<uid>.ics``).
        """
        path = clean_path(path)
        if not props:
            return self.ensure_collection(path), {}, []
        props = _sanitize_props(props)
        self.lock_collection(path)
        existing = self.get_collection(path)
        if existing is None:
            parent = path.rpartition("/")[0]
            parent_id = self.ensure_collection(parent).id if parent else None
            record = self._insert_collection(path, parent_id, props)
        else:
            record = self._replace_props(existing, props)
        tag = record.tag
        suffix = {"VCALENDAR": ".ics", "VADDRESSBOOK": ".vcf"}.get(tag)
        planned: list[tuple[str, CalendarObject]] = []
        if objects is not None and suffix is not None:
            taken: set[str] = set()
            for obj in objects:
                href = _free_href(obj.uid, suffix, taken)
                taken.add(href)
                planned.append((href, obj))
        keep = {href for href, _ in planned}
        old_hrefs = set(
            self.session.scalars(select(DavItem.href).where(DavItem.collection_id == record.id))
        )
        gone = sorted(old_hrefs - keep)
        if gone:
            self._delete_hrefs(record, gone, actor)
        results = self._write_objects(record, planned, actor) if planned else []
        replaced = {new.href: old for new, old in results if old is not None}
        new_hrefs = [new.href for new, old in results if old is None]
        return self.refresh(record), replaced, new_hrefs

    def calendar_collections(self, principal: str) -> list[CollectionRecord]:
        """The calendars (``VCALENDAR`` collections) directly under ``principal``."""
        return [record for record in self.child_collections(principal) if record.tag == "VCALENDAR"]

    def list_calendars(self, principal: str) -> list[CalendarInfo]:
        """The calendars directly under ``principal``: path and properties."""
        return [
            CalendarInfo(record.path, record.props)
            for record in self.calendar_collections(principal)
        ]

    def get_props(self, path: str) -> dict[str, str]:
        """The Radicale properties of the collection (``tag`` included)."""
        return dict(self._require(path).props)

    def set_props(
        self,
        path: str | CollectionRecord,
        props: Mapping[str, str | None],
        *,
        replace: bool = False,
    ) -> CollectionRecord:
        """Change properties: merged into the current ones (``None`` removes a key), or
        replacing them all with ``replace=True`` (Radicale's ``set_meta``)."""
        record = self._require(path)
        self.lock_collection(record.path)
        record = self.refresh(record)
        merged: dict[str, str | None] = {} if replace else dict(record.props)
        merged.update(props)
        clean = {key: value for key, value in merged.items() if value is not None}
        return self._replace_props(record, _sanitize_props(clean))

    def _replace_props(
        self, record: CollectionRecord, props: Mapping[str, str]
    ) -> CollectionRecord:
        props = dict(props)
        tag = props.pop("tag", "")
        self.session.execute(
            update(DavCollection)
            .where(DavCollection.id == record.id)
            .values(
                tag=tag,
                props=json.dumps(props, sort_keys=True),
                ctag=_new_token(),
                modified_at=self.clock(),
            )
        )
        return self.refresh(record)

    def delete_collection(self, path: str, *, actor: str = "platform") -> bool:
        """Delete the collection, its items and everything below it.

        Listeners hear of each deleted item. Returns whether it existed.
        """
        path = clean_path(path)
        if not path:
            raise InvalidPath("the root collection cannot be deleted")
        self.lock_collection(path)
        if self.get_collection(path) is None:
            return False
        subtree = self.session.execute(
            select(DavCollection.id, DavCollection.path).where(
                or_(
                    DavCollection.path == path,
                    DavCollection.path.startswith(path + "/", autoescape=True),
                )
            )
        ).all()
        ids = [row.id for row in subtree]
        if self._hooks.calendar_item_changed.get_hookimpls():
            paths = {row.id: row.path for row in subtree}
            rows = self.session.execute(
                select(*_ITEM_COLUMNS)
                .where(DavItem.collection_id.in_(ids))
                .order_by(DavItem.collection_id, DavItem.href)
            ).all()
            for row in rows:
                self._notify(
                    CalendarItemChanged(
                        paths[row.collection_id], row.href, row.uid, row.text, None, actor, "delete"
                    )
                )
        # The foreign keys cascade too; explicit deletes keep this independent of
        # SQLite's foreign_keys pragma and avoid ORM-less cascade surprises.
        for chunk in _chunks(ids):
            self.session.execute(
                delete(DavOccurrence).where(DavOccurrence.collection_id.in_(chunk))
            )
            self.session.execute(delete(DavChange).where(DavChange.collection_id.in_(chunk)))
            self.session.execute(delete(DavItem).where(DavItem.collection_id.in_(chunk)))
        for collection in sorted(subtree, key=lambda r: r.path.count("/"), reverse=True):
            self.session.execute(delete(DavCollection).where(DavCollection.id == collection.id))
        return True

    # --- items: reading ----------------------------------------------------------

    def get_item(self, path: str, href: str) -> StoredItem | None:
        """The item ``href`` of the collection ``path``, or ``None`` when there is none.
        Raises :class:`CollectionNotFound` when the collection itself is missing."""
        record = self._require(path)
        row = self.session.execute(
            select(*_ITEM_COLUMNS).where(DavItem.collection_id == record.id, DavItem.href == href)
        ).first()
        return _stored(row, record.path) if row is not None else None

    def get_item_by_uid(self, path: str, uid: str) -> StoredItem | None:
        """The item of the collection whose object has ``uid``, or ``None``."""
        record = self._require(path)
        row = self.session.execute(
            select(*_ITEM_COLUMNS).where(DavItem.collection_id == record.id, DavItem.uid == uid)
        ).first()
        return _stored(row, record.path) if row is not None else None

    def has_uid(self, path: str | CollectionRecord, uid: str) -> bool:
        """Whether an item of the collection has ``uid``."""
        record = self._require(path)
        return (
            self.session.execute(
                select(DavItem.id).where(DavItem.collection_id == record.id, DavItem.uid == uid)
            ).first()
            is not None
        )

    def list_items(self, path: str | CollectionRecord) -> list[StoredItem]:
        """Every item of the collection, ordered by href."""
        record = self._require(path)
        rows = self.session.execute(
            select(*_ITEM_COLUMNS).where(DavItem.collection_id == record.id).order_by(DavItem.href)
        )
        return [_stored(row, record.path) for row in rows]

    def get_items(
        self, path: str | CollectionRecord, hrefs: Iterable[str]
    ) -> dict[str, StoredItem]:
        """The existing items among ``hrefs``, by href."""
        record = self._require(path)
        wanted = sorted(set(hrefs))
        found: dict[str, StoredItem] = {}
        for chunk in _chunks(wanted):
            rows = self.session.execute(
                select(*_ITEM_COLUMNS).where(
                    DavItem.collection_id == record.id, DavItem.href.in_(chunk)
                )
            )
            for row in rows:
                found[row.href] = _stored(row, record.path)
        return found

    def count_items(self, path: str | CollectionRecord) -> int:
        """How many items the collection has."""
        record = self._require(path)
        return int(
            self.session.scalar(
                select(func.count()).select_from(DavItem).where(DavItem.collection_id == record.id)
            )
            or 0
        )

    def candidates(
        self, collections: Sequence[str | CollectionRecord], start: datetime, end: datetime
    ) -> list[Candidate]:
        """Items of ``collections`` that may have an occurrence overlapping [start, end).

        Two indexed queries: occurrence pieces inside the window (``exact``), and
        items whose index stops before ``end`` and whose span overlaps (to be
        checked by parsing). Nothing else is read. ``start`` and ``end`` must be
        aware datetimes.
        """
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("time ranges need aware datetimes (UTC or with a zone)")
        records = [self._require(c) for c in collections]
        paths = {record.id: record.path for record in records}
        if not paths or start >= end:
            return []
        ids = list(paths)
        # A piece is never longer than OCCURRENCE_PIECE, so it overlaps the window
        # only if it starts after start - OCCURRENCE_PIECE: a tight index range.
        lowest = (
            start - OCCURRENCE_PIECE if start > DATETIME_MIN + OCCURRENCE_PIECE else DATETIME_MIN
        )
        pieces = select(DavOccurrence.item_id).where(
            DavOccurrence.collection_id.in_(ids),
            DavOccurrence.starts_at > lowest,
            DavOccurrence.starts_at < end,
            DavOccurrence.ends_at > start,
        )
        exact = select(*_ITEM_COLUMNS, literal(True).label("exact")).where(DavItem.id.in_(pieces))
        unindexed = select(*_ITEM_COLUMNS, literal(False).label("exact")).where(
            DavItem.collection_id.in_(ids),
            DavItem.indexed_until < end,
            DavItem.span_start < end,
            DavItem.span_end > start,
            DavItem.id.not_in(pieces),
        )
        # One round trip, through Core: this is the hot path of every time-range REPORT.
        rows = self.session.connection().execute(union_all(exact, unindexed)).all()
        return [Candidate(_stored(row, paths[row.collection_id]), row.exact) for row in rows]

    def items_in_range(
        self, paths: Sequence[str], start: datetime, end: datetime
    ) -> list[StoredItem]:
        """Items of the collections ``paths`` that may overlap [start, end).

        Indexed: the items with an occurrence in the window, plus the few whose
        occurrences are not all indexed (unbounded rules beyond the index horizon,
        very long events) when their span overlaps. Callers expanding occurrences
        still filter by time; nothing outside the window's candidates is read.
        """
        return [candidate.item for candidate in self.candidates(paths, start, end)]

    # --- items: writing ----------------------------------------------------------

    def parse(self, text: str, tag: str = "VCALENDAR") -> CalendarObject:
        """Parse and validate ``text`` as one object for a ``tag`` collection.
        Raises :class:`InvalidCalendarData` or :class:`ItemTooLarge`."""
        if self.max_item_size is not None:
            size = len(text.encode())
            if size > self.max_item_size:
                raise ItemTooLarge(size, self.max_item_size)
        return parse_calendar_object(
            text,
            tag=tag,
            max_occurrences=self.max_occurrences,
            now=self.clock(),
            horizon=self.index_horizon,
        )

    def object_from_item(self, item: radicale_item.Item) -> CalendarObject:
        """A storable object from a Radicale item that Radicale already validated."""
        return calendar_object_from_item(
            item, max_occurrences=self.max_occurrences, now=self.clock(), horizon=self.index_horizon
        )

    def put_item(
        self, path: str, ics_text: str, href: str | None = None, *, actor: str = "platform"
    ) -> StoredItem:
        """Create or replace a calendar object and return it as stored.

        ``href`` defaults to ``<UID>.ics``. Raises :class:`InvalidCalendarData`,
        :class:`ItemTooLarge`, :class:`UidConflict` (the UID belongs to another
        href), :class:`NotACalendar` or :class:`CollectionNotFound`; all before
        writing anything.
        """
        record = self._require(path)
        if record.tag != "VCALENDAR":
            raise NotACalendar(record.path)
        obj = self.parse(ics_text)
        new, _old = self.put_object(record, href or default_href(obj.uid), obj, actor=actor)
        return new

    def put_object(
        self,
        path: str | CollectionRecord,
        href: str,
        obj: CalendarObject,
        *,
        actor: str = "platform",
        fresh: bool = False,
    ) -> tuple[StoredItem, StoredItem | None]:
        """Store an already parsed object at ``href``; returns (new, replaced or None).

        ``fresh``: the caller generated href and UID just now (random), so nothing
        can be there yet and the lookup is skipped; the unique constraints still hold.
        """
        record = self._require(path)
        ((new, old),) = self._write_objects(record, [(href, obj)], actor, fresh=fresh)
        return new, old

    def put_objects(
        self,
        path: str | CollectionRecord,
        objects: Sequence[tuple[str, CalendarObject]],
        *,
        actor: str = "platform",
    ) -> list[tuple[StoredItem, StoredItem | None]]:
        """Store many parsed objects (href, object) in one step: one sync change,
        bulk inserts. All or nothing: any conflict raises before writing."""
        return self._write_objects(self._require(path), objects, actor) if objects else []

    def delete_item(
        self, path: str | CollectionRecord, href: str, *, actor: str = "platform"
    ) -> bool:
        """Delete the item ``href``; returns whether it existed. Sync clients see a
        tombstone; listeners are told."""
        record = self._require(path)
        self.lock_collection(record.path)
        exists = self.session.execute(
            select(DavItem.id).where(DavItem.collection_id == record.id, DavItem.href == href)
        ).first()
        if exists is None:
            return False
        self._delete_hrefs(record, [href], actor)
        return True

    def move_item(
        self,
        path: str | CollectionRecord,
        href: str,
        to_path: str | CollectionRecord,
        to_href: str,
        *,
        actor: str = "platform",
    ) -> StoredItem:
        """Move (or rename) an item, replacing whatever is at the target href.

        Raises :class:`UidConflict` when another item of the target collection has
        the same UID, :class:`InvalidPath` when the item does not exist.
        """
        source = self._require(path)
        target = self._require(to_path)
        if not is_safe_href(to_href):
            raise InvalidPath(f"{to_href!r} is not a valid item name")
        for principal in sorted({principal_of(source.path), principal_of(target.path)}):
            self.lock_collection(principal)
        row = self.session.execute(
            select(*_ITEM_COLUMNS).where(DavItem.collection_id == source.id, DavItem.href == href)
        ).first()
        if row is None:
            raise InvalidPath(f"no item {href!r} in {source.path!r}")
        if source.id == target.id and href == to_href:
            return _stored(row, source.path)
        if row.uid:
            clash = self.session.execute(
                select(DavItem.href).where(
                    DavItem.collection_id == target.id,
                    DavItem.uid == row.uid,
                    DavItem.href != to_href,
                    DavItem.id != row.id,
                )
            ).first()
            if clash is not None:
                raise UidConflict(target.path, row.uid, clash.href)
        replaced = self.session.execute(
            select(*_ITEM_COLUMNS).where(
                DavItem.collection_id == target.id, DavItem.href == to_href
            )
        ).first()
        if replaced is not None:
            self.session.execute(delete(DavOccurrence).where(DavOccurrence.item_id == replaced.id))
            self.session.execute(delete(DavItem).where(DavItem.id == replaced.id))
        now = self.clock()
        self.session.execute(
            update(DavItem)
            .where(DavItem.id == row.id)
            .values(collection_id=target.id, href=to_href, last_modified=now)
        )
        self.session.execute(
            update(DavOccurrence)
            .where(DavOccurrence.item_id == row.id)
            .values(collection_id=target.id)
        )
        if source.id == target.id:
            self._record_changes(source, [(href, True), (to_href, False)])
        else:
            self._record_changes(source, [(href, True)])
            self._record_changes(target, [(to_href, False)])
        self._prune_history(source)
        moved = StoredItem(
            target.path,
            to_href,
            row.uid,
            row.etag,
            row.text,
            now,
            row.component_name,
            row.object_name,
            row.span_start,
            row.span_end,
        )
        self._notify(
            CalendarItemChanged(
                source.path, href, row.uid, row.text, None, actor, "move", moved_to=moved.path
            )
        )
        self._notify(
            CalendarItemChanged(
                target.path,
                to_href,
                row.uid,
                replaced.text if replaced is not None else None,
                row.text,
                actor,
                "move",
                moved_from=f"{source.path}/{href}",
            )
        )
        return moved

    def _write_objects(
        self,
        record: CollectionRecord,
        planned: Sequence[tuple[str, CalendarObject]],
        actor: str,
        *,
        fresh: bool = False,
    ) -> list[tuple[StoredItem, StoredItem | None]]:
        """The single write path: size, href and UID checks, then item rows, index
        rows, one sync step and the listeners."""
        if record.tag not in ("VCALENDAR", "VADDRESSBOOK"):
            raise NotACalendar(record.path)
        hrefs = [href for href, _ in planned]
        if len(set(hrefs)) != len(hrefs):
            raise InvalidPath("the same href twice in one write")
        for href, obj in planned:
            if not is_safe_href(href):
                raise InvalidPath(f"{href!r} is not a valid item name")
            if self.max_item_size is not None and obj.size > self.max_item_size:
                raise ItemTooLarge(obj.size, self.max_item_size)
            expected = "VCALENDAR" if record.tag == "VCALENDAR" else obj.object_name
            if obj.object_name != expected:
                raise InvalidCalendarData(f"a {obj.object_name} does not belong in {record.path!r}")
        uids = [obj.uid for _, obj in planned if obj.uid]
        if len(set(uids)) != len(uids):
            raise InvalidCalendarData("two objects with the same UID in one write")
        self.lock_collection(record.path)

        # One query per chunk finds both the items being replaced and UID clashes.
        href_of_uid = {obj.uid: href for href, obj in planned if obj.uid}
        wanted = set(hrefs)
        existing: dict[str, _Row] = {}
        for chunk in _chunks([] if fresh else planned, _CHUNK // 2):  # two per object
            chunk_hrefs = [href for href, _ in chunk]
            chunk_uids = [obj.uid for _, obj in chunk if obj.uid]
            matches: ColumnElement[bool] = DavItem.href.in_(chunk_hrefs)
            if chunk_uids:
                matches = or_(matches, DavItem.uid.in_(chunk_uids))
            found = self.session.execute(
                select(*_ITEM_COLUMNS).where(DavItem.collection_id == record.id, matches)
            )
            for item in found:
                if item.href in wanted:
                    existing[item.href] = item
                # Conservative: a UID may only stay where it is (no swaps between
                # hrefs in one write), so no statement ever violates the constraint.
                if item.uid in href_of_uid and item.href != href_of_uid[item.uid]:
                    raise UidConflict(record.path, item.uid, item.href)

        now = self.clock()
        results: list[tuple[StoredItem, StoredItem | None]] = []
        inserts: list[dict[str, Any]] = []
        pieces: list[dict[str, Any]] = []
        updated_ids: list[int] = []
        for href, obj in planned:
            index = obj.time_index
            values = {
                "uid": obj.uid or None,
                "etag": obj.etag,
                "object_name": obj.object_name,
                "component_name": obj.component_name,
                "text": obj.text,
                "size": obj.size,
                "span_start": index.span_start,
                "span_end": index.span_end,
                "indexed_until": index.indexed_until,
                "last_modified": now,
            }
            old_row = existing.get(href)
            if old_row is not None:
                updated_ids.append(old_row.id)
                self.session.execute(
                    update(DavItem).where(DavItem.id == old_row.id).values(**values)
                )
                pieces.extend(_piece_rows(old_row.id, record.id, obj))
            else:
                inserts.append({"collection_id": record.id, "href": href, **values})
            new = StoredItem(
                record.path,
                href,
                obj.uid or None,
                obj.etag,
                obj.text,
                now,
                obj.component_name,
                obj.object_name,
                index.span_start,
                index.span_end,
            )
            results.append((new, _stored(old_row, record.path) if old_row is not None else None))
        for chunk in _chunks(updated_ids):
            self.session.execute(delete(DavOccurrence).where(DavOccurrence.item_id.in_(chunk)))
        if inserts:
            new_ids = self._insert_items(inserts)
            objects = dict(planned)
            for row in inserts:
                pieces.extend(_piece_rows(new_ids[row["href"]], record.id, objects[row["href"]]))
        if pieces:
            self.session.execute(insert(DavOccurrence), pieces)
        self._record_changes(record, [(href, False) for href in hrefs])
        for new, old in results:
            self._notify(
                CalendarItemChanged(
                    record.path,
                    new.href,
                    new.uid,
                    old.text if old else None,
                    new.text,
                    actor,
                    "put",
                )
            )
        return results

    def _insert_items(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for chunk in _chunks(rows):
            result = self.session.execute(
                insert(DavItem).returning(DavItem.id, DavItem.href), list(chunk)
            )
            for item_id, href in result:
                ids[href] = item_id
        return ids

    def _rows_by_href(self, record: CollectionRecord, hrefs: Sequence[str]) -> list[_Row]:
        rows: list[_Row] = []
        for chunk in _chunks(sorted(hrefs)):
            rows.extend(
                self.session.execute(
                    select(*_ITEM_COLUMNS).where(
                        DavItem.collection_id == record.id, DavItem.href.in_(chunk)
                    )
                ).all()
            )
        return rows

    def _delete_hrefs(self, record: CollectionRecord, hrefs: Sequence[str], actor: str) -> None:
        rows = self._rows_by_href(record, hrefs)
        ids = [row.id for row in rows]
        for chunk in _chunks(ids):
            self.session.execute(delete(DavOccurrence).where(DavOccurrence.item_id.in_(chunk)))
            self.session.execute(delete(DavItem).where(DavItem.id.in_(chunk)))
        self._record_changes(record, [(row.href, True) for row in rows])
        self._prune_history(record)
        for row in rows:
            self._notify(
                CalendarItemChanged(record.path, row.href, row.uid, row.text, None, actor, "delete")
            )

    # --- sync ----------------------------------------------------------------------

    def _record_changes(self, record: CollectionRecord, changes: Sequence[tuple[str, bool]]) -> int:
        """One step of the collection's change counter for ``changes`` (href, deleted)."""
        now = self.clock()
        seq = self.session.execute(
            update(DavCollection)
            .where(DavCollection.id == record.id)
            .values(sync_seq=DavCollection.sync_seq + 1, ctag=_new_token(), modified_at=now)
            .returning(DavCollection.sync_seq)
        ).scalar_one()
        if changes:
            rows = [
                {
                    "collection_id": record.id,
                    "href": href,
                    "seq": seq,
                    "deleted": deleted,
                    "changed_at": now,
                }
                for href, deleted in changes
            ]
            upsert = (
                pg_insert(DavChange) if self._dialect == "postgresql" else sqlite_insert(DavChange)
            )
            statement = upsert.on_conflict_do_update(
                index_elements=[DavChange.collection_id, DavChange.href],
                set_={
                    "seq": upsert.excluded.seq,
                    "deleted": upsert.excluded.deleted,
                    "changed_at": upsert.excluded.changed_at,
                },
            )
            for chunk in _chunks(rows):
                self.session.execute(statement, list(chunk))
        return int(seq)

    def _prune_history(self, record: CollectionRecord) -> None:
        """Forget tombstones older than ``history_max_age``; tokens from before the
        newest forgotten one become invalid (``history_floor``)."""
        cutoff = self.clock() - self.history_max_age
        expired = (
            DavChange.collection_id == record.id,
            DavChange.deleted.is_(True),
            DavChange.changed_at < cutoff,
        )
        newest = self.session.scalar(select(func.max(DavChange.seq)).where(*expired))
        if newest is None:
            return
        self.session.execute(delete(DavChange).where(*expired))
        self.session.execute(
            update(DavCollection)
            .where(DavCollection.id == record.id, DavCollection.history_floor < newest)
            .values(history_floor=newest)
        )

    def sync_token(self, path: str | CollectionRecord) -> str:
        """The collection's current sync token."""
        return self.refresh(self._require(path)).sync_token

    def changes_since(self, path: str | CollectionRecord, token: str | None) -> SyncResult:
        """RFC 6578: the current token and the hrefs changed (or deleted) since ``token``.

        An empty token lists every item. Raises :class:`InvalidSyncToken` for a
        token that is malformed, from another collection (or an earlier incarnation
        of this one) or older than the retained history.
        """
        record = self.refresh(self._require(path))
        if not token:
            hrefs = self.session.scalars(
                select(DavItem.href)
                .where(DavItem.collection_id == record.id)
                .order_by(DavItem.href)
            )
            return SyncResult(record.sync_token, [SyncChange(href, False) for href in hrefs])
        sync_id, seq = parse_sync_token(token)
        if sync_id != record.sync_id or seq > record.sync_seq:
            raise InvalidSyncToken("the sync token does not belong to this collection")
        if seq < record.history_floor:
            raise InvalidSyncToken("the sync token is older than the kept history")
        if seq == record.sync_seq:
            return SyncResult(record.sync_token, [])
        rows = self.session.execute(
            select(DavChange.href, DavChange.deleted)
            .where(DavChange.collection_id == record.id, DavChange.seq > seq)
            .order_by(DavChange.seq, DavChange.href)
        )
        return SyncResult(record.sync_token, [SyncChange(row.href, row.deleted) for row in rows])

    # --- maintenance ---------------------------------------------------------------

    def reindex(self, path: str | None = None, *, stale_before: datetime | None = None) -> int:
        """Recompute spans and occurrence rows (all items, or those of ``path``; only
        items indexed until before ``stale_before`` when given, e.g. to extend
        unbounded rules past the horizon). Content, etags and sync state are
        untouched. Returns how many items were reindexed."""
        query = select(DavItem.id, DavItem.collection_id, DavItem.text, DavCollection.tag).join(
            DavCollection, DavCollection.id == DavItem.collection_id
        )
        if path is not None:
            query = query.where(DavItem.collection_id == self._require(path).id)
        if stale_before is not None:
            query = query.where(
                DavItem.indexed_until < stale_before, DavItem.indexed_until > DATETIME_MIN
            )
        rows = self.session.execute(query.order_by(DavItem.id)).all()
        if rows:
            principals = self.session.scalars(
                select(DavCollection.path).where(
                    DavCollection.id.in_({row.collection_id for row in rows})
                )
            )
            for principal in sorted({principal_of(p) for p in principals}):
                self.lock_collection(principal)
        count = 0
        for row in rows:
            vobject_item = radicale_item.Item(collection_path="-", text=row.text).vobject_item
            component_name = radicale_item.find_tag(vobject_item)
            index = compute_time_index(
                vobject_item,
                component_name,
                max_occurrences=self.max_occurrences,
                now=self.clock(),
                horizon=self.index_horizon,
            )
            self.session.execute(
                update(DavItem)
                .where(DavItem.id == row.id)
                .values(
                    span_start=index.span_start,
                    span_end=index.span_end,
                    indexed_until=index.indexed_until,
                )
            )
            self.session.execute(delete(DavOccurrence).where(DavOccurrence.item_id == row.id))
            pieces = [
                {
                    "item_id": row.id,
                    "collection_id": row.collection_id,
                    "starts_at": s,
                    "ends_at": e,
                    "fbtype": fbtype,
                }
                for s, e, fbtype in index.piece_types()
            ]
            if pieces:
                self.session.execute(insert(DavOccurrence), pieces)
            count += 1
        return count

    def _notify(self, change: CalendarItemChanged) -> None:
        self._hooks.calendar_item_changed(session=self.session, change=change)


def _piece_rows(item_id: int, collection_id: int, obj: CalendarObject) -> list[dict[str, Any]]:
    return [
        {
            "item_id": item_id,
            "collection_id": collection_id,
            "starts_at": s,
            "ends_at": e,
            "fbtype": fbtype,
        }
        for s, e, fbtype in obj.time_index.piece_types()
    ]


def _sanitize_props(props: Mapping[str, Any]) -> dict[str, str]:
    try:
        return dict(radicale_item.check_and_sanitize_props(dict(props)))
    except ValueError as error:
        raise InvalidCalendarData(f"invalid collection properties: {error}") from error


def _free_href(uid: str, suffix: str, taken: set[str]) -> str:
    """Radicale's choice of href for an object of a whole-collection upload."""
    href = default_href(uid, suffix) if uid else ""
    if href and href not in taken:
        return href
    fallback = radicale_item.get_etag(uid).strip('"') + suffix
    if uid and fallback not in taken:
        return fallback
    return radicale_item.find_available_uid(taken.__contains__, suffix)
