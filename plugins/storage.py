"""Radicale storage in the platform's database (``[storage] type = plugins.storage``).

Implements what Radicale's ``multifilesystem`` implements, on the tables of
:mod:`caldav_server.models`, and does every read and write through
:class:`caldav_server.store.CalendarStore`, the code path the platform itself
uses, so validation, etags, sync history, the time-range index and item
listeners are the same whether a change comes over CalDAV or from a booking.

Each request runs in one database transaction opened by :meth:`Storage.acquire_lock`
(bound to the current thread's context): committed when Radicale leaves the lock,
rolled back when a storage call failed. Writers lock the principals they touch
(PostgreSQL advisory locks; SQLite's single writer), so app processes on several
machines share one database safely.

Options in ``[storage]``: ``database_url`` (when loaded by dotted path), ``max_occurrences``
(defaults to ``[server] max_vevent_rrule_occurrence``); Radicale's own
``max_sync_token_age`` sets how long deletions are remembered for sync.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import radicale.item as radicale_item
import sqlalchemy as sa
from radicale import config, pathutils, storage, types
from radicale.app.report import freebusy_periods, render_freebusy
from radicale.item import filter as radicale_filter
from sqlalchemy.orm import Session

from caldav_server.errors import InvalidPath, StoreError
from caldav_server.freebusy import indexed_free_busy
from caldav_server.models import DavCollection
from caldav_server.spans import (
    CalendarObject,
    from_timestamp,
    is_safe_href,
    timestamp_range,
    to_utc,
)
from caldav_server.store import CalendarStore, CollectionRecord, StoredItem, principal_of
from consult.db import Database
from plugins.standalone import standalone_database

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _http_date(value: datetime) -> str:
    return email.utils.format_datetime(value.astimezone(UTC), usegmt=True)


@dataclass
class _Request:
    """The database transaction of one Radicale request."""

    session: Session
    store: CalendarStore
    mode: str
    actor: str
    failed: bool = False


class _Item(radicale_item.Item):
    """A Radicale item made from a stored row, with everything Radicale would parse
    the text for already filled in (UID, etag, component, time range).

    Built directly rather than through ``Item.__init__``: that re-validates the
    collection path for every item, which dominated listing large calendars.
    The attributes are those ``Item.__init__`` sets (Radicale 3.x).
    """

    def __init__(self, collection: Collection, stored: StoredItem) -> None:
        self._collection_path = collection.path
        self.collection = collection
        self.href = stored.href
        self._modified = stored.last_modified
        self._last_modified: str | None = None
        self._text = stored.text
        self._vobject_item = None
        self._etag = stored.etag
        self._uid = stored.uid or ""
        self._name = stored.object_name
        self._component_name = stored.component_name
        self._time_range = timestamp_range(stored.span_start, stored.span_end)

    # Radicale reads last_modified for GET and PROPFIND only; format it on demand.
    @property  # type: ignore[override]
    def last_modified(self) -> str:
        if self._last_modified is None:
            self._last_modified = _http_date(self._modified)
        return self._last_modified

    @last_modified.setter
    def last_modified(self, value: str | None) -> None:
        self._last_modified = value


class Collection(storage.BaseCollection):
    """A collection, read when discovered; DB-backed methods need the request's lock."""

    def __init__(self, storage_: Storage, record: CollectionRecord | None) -> None:
        self._storage = storage_
        # None: the root, which always exists and is not stored.
        self._record = record

    @property
    def path(self) -> str:
        return self._record.path if self._record is not None else ""

    def _current(self) -> CollectionRecord | None:
        """The row, re-read in write requests where this request may have changed it
        (as the file storage recomputes its caches under the write lock)."""
        request = self._storage._current.get()
        if self._record is not None and request is not None and request.mode == "w":
            self._record = request.store.refresh(self._record)
        return self._record

    def _item(self, stored: StoredItem) -> radicale_item.Item:
        return _Item(self, stored)

    def _servable(self, stored: StoredItem) -> bool:
        """Whether to serve an item: within ``max_resource_size``, like the file storage,
        which skips an object stored before the limit was lowered (GET, multiget,
        listings, REPORTs). Write requests still see it, so it can be deleted or
        replaced (the file storage answers 404 to its DELETE)."""
        request = self._storage._current.get()
        limit = self._storage._max_item_size
        if (request is not None and request.mode == "w") or _within(stored.text, limit):
            return True
        logger.warning(
            "Item %r in %r skipped: larger than max_resource_size (%d bytes)",
            stored.href,
            self.path,
            limit,
        )
        return False

    # --- properties ------------------------------------------------------------

    @property
    def etag(self) -> str:
        record = self._current()
        if record is None:
            return '"root"'
        return f'"{record.ctag}"'

    @property
    def last_modified(self) -> str:
        record = self._current()
        if record is not None:
            return _http_date(record.modified_at)
        with self._storage._reading() as store:
            newest = store.session.scalar(
                sa.select(sa.func.max(DavCollection.modified_at)).where(
                    DavCollection.parent_id.is_(None)
                )
            )
        return _http_date(newest or _EPOCH)

    @overload
    def get_meta(self, key: None = None) -> Mapping[str, str]: ...

    @overload
    def get_meta(self, key: str) -> str | None: ...

    def get_meta(self, key: str | None = None) -> Mapping[str, str] | str | None:
        record = self._record
        props: Mapping[str, str] = record.props if record is not None else {}
        return props if key is None else props.get(key)

    def set_meta(self, props: Mapping[str, str]) -> None:
        if self._record is None:
            raise ValueError("the root collection has no properties")
        with self._storage._writing() as store:
            self._record = store.set_props(self._record, props, replace=True)

    # --- items -----------------------------------------------------------------

    def get_multi(self, hrefs: Iterable[str]) -> Iterator[tuple[str, radicale_item.Item | None]]:
        wanted = list(dict.fromkeys(hrefs))
        if self._record is None:
            for href in wanted:
                yield href, None
            return
        with self._storage._reading() as store:
            found = store.get_items(self._record, [href for href in wanted if is_safe_href(href)])
        for href in wanted:
            stored = found.get(href)
            if stored is None:
                yield href, None
            elif self._servable(stored):
                yield href, self._item(stored)
            # An oversized item is left out altogether, as the file storage does.

    def get_all(self) -> Iterator[radicale_item.Item]:
        if self._record is None:
            return
        with self._storage._reading() as store:
            items = store.list_items(self._record)
        for stored in items:
            if self._servable(stored):
                yield self._item(stored)

    def get_filtered(self, filters: Iterable[Any]) -> Iterator[tuple[radicale_item.Item, bool]]:
        """Only the candidates of the filter's time range, from the index.

        ``filters_matched`` is True when Radicale need not test the item: the
        filter is a plain time range and an indexed occurrence overlaps it (the
        index holds exactly the intervals Radicale's filter would test), or the
        item's span proves it as in Radicale's own prefilter.
        """
        record = self._record
        if record is None or not record.tag:
            return
        tag, start, end, simple = radicale_filter.simplify_prefilters(filters, record.tag)
        if start <= radicale_filter.TIMESTAMP_MIN and end >= radicale_filter.TIMESTAMP_MAX:
            with self._storage._reading() as store:
                items = store.list_items(record)
            for stored in items:
                if (tag is None or stored.component_name == tag) and self._servable(stored):
                    yield self._item(stored), simple
            return
        if start >= end:
            # An empty or inverted range (end before start): the index holds no
            # occurrence for it, yet RFC 4791's rules (a VTODO with only CREATED
            # matches when start <= CREATED) can still hold. Answer exactly as the file
            # storage does: its prefilter on each item's span, then Radicale's filter.
            with self._storage._reading() as store:
                items = store.list_items(record)
            for stored in items:
                item_start, item_end = timestamp_range(stored.span_start, stored.span_end)
                if tag is not None and stored.component_name != tag:
                    continue
                if item_start >= end or item_end <= start or not self._servable(stored):
                    continue
                yield self._item(stored), False
            return
        with self._storage._reading() as store:
            candidates = store.candidates([record], from_timestamp(start), from_timestamp(end))
        for candidate in candidates:
            stored = candidate.item
            if tag is not None and stored.component_name != tag:
                continue
            item_start, item_end = timestamp_range(stored.span_start, stored.span_end)
            if item_start >= end or item_end <= start or not self._servable(stored):
                continue
            matched = simple and (candidate.exact or start <= item_start or item_end <= end)
            yield self._item(stored), matched

    def free_busy(self, start: datetime, end: datetime, max_occurrence: int) -> str:
        """The VFREEBUSY answer of a ``free-busy-query`` for [start, end), as Radicale's
        ``freebusy_collection_text`` renders it, from the index (only items whose
        occurrences are not all indexed are parsed). Raises ValueError when more than
        ``max_occurrence`` (> 0) busy occurrences fall in the window."""
        start, end = to_utc(start), to_utc(end)
        record = self._record
        periods: list[tuple[datetime, datetime, str]] = []
        if record is not None and start < end:
            with self._storage._reading() as store:
                found = indexed_free_busy(store.session, record.id, start, end)
            periods = found.periods
            for text in found.unindexed:
                item = radicale_item.Item(collection_path=record.path, text=text)
                periods.extend(freebusy_periods(item, start, end, max_occurrence))
        if 0 < max_occurrence <= len(periods):
            raise ValueError(f"FREEBUSY occurrences limit of {max_occurrence} hit")
        return str(render_freebusy(periods, start, end))

    def has_uid(self, uid: str) -> bool:
        if self._record is None:
            return False
        with self._storage._reading() as store:
            return store.has_uid(self._record, uid)

    def upload(
        self, href: str, item: radicale_item.Item
    ) -> tuple[radicale_item.Item, radicale_item.Item | None]:
        if self._record is None:
            raise ValueError("items cannot be stored in the root collection")
        with self._storage._writing() as store:
            obj = self._storage._object(item)
            new, old = store.put_object(
                self._record, href, obj, actor=self._storage._request().actor
            )
        return self._item(new), self._item(old) if old is not None else None

    def delete(self, href: str | None = None) -> None:
        if self._record is None:
            raise ValueError("the root collection cannot be deleted")
        actor = self._storage._request().actor
        with self._storage._writing() as store:
            if href is None:
                store.delete_collection(self._record.path, actor=actor)
                return
            if not store.delete_item(self._record, href, actor=actor):
                raise storage.ComponentNotFoundError(href)

    def sync(self, old_token: str = "") -> tuple[str, Iterable[str]]:
        record = self._record
        if record is None:
            raise ValueError("the root collection has no sync token")
        try:
            with self._storage._reading() as store:
                result = store.changes_since(record, old_token)
        except StoreError as error:
            raise ValueError(error.message) from error
        return result.token, [change.href for change in result.changes]


class Storage(storage.BaseStorage):
    """Radicale's storage interface on the platform database (see the module docstring)."""

    # Names never touch a file system here, but export writes them as files:
    # keep the file storage's safe subset.
    _is_collision_free = True
    _supports_unicode = True
    _supports_trailing_whitespace = False
    _supports_problematic_chars = False

    def __init__(
        self, configuration: config.Configuration, database: Database | None = None
    ) -> None:
        super().__init__(configuration)
        self._database = database or standalone_database(configuration, "storage")
        try:
            max_occurrences = int(configuration.get("storage", "max_occurrences"))
        except KeyError:
            max_occurrences = int(configuration.get("server", "max_vevent_rrule_occurrence"))
        self._max_occurrences = max_occurrences
        self._max_item_size = int(configuration.get("server", "max_resource_size"))
        self._history_max_age = timedelta(
            seconds=int(configuration.get("storage", "max_sync_token_age"))
        )
        # Per instance: two Radicale apps in one process (tests) never share a request.
        self._current: ContextVar[_Request | None] = ContextVar(
            f"dav_storage_request_{id(self)}", default=None
        )
        logger.info("CalDAV storage: database %s", self._database.engine.url.render_as_string())

    # --- the request's transaction --------------------------------------------

    def _request(self) -> _Request:
        request = self._current.get()
        if request is None:
            raise RuntimeError("the storage was used outside acquire_lock()")
        return request

    @contextlib.contextmanager
    def _reading(self) -> Iterator[CalendarStore]:
        """The request's store; outside a request a short read-only transaction,
        because Radicale renders PROPFIND answers after releasing its lock."""
        request = self._current.get()
        if request is not None:
            yield request.store
            return
        with self._database.session(readonly=True) as session:
            yield self._new_store(session)

    def _new_store(self, session: Session) -> CalendarStore:
        return CalendarStore(
            session,
            max_occurrences=self._max_occurrences,
            max_item_size=self._max_item_size,
            history_max_age=self._history_max_age,
        )

    @contextlib.contextmanager
    def _writing(self) -> Iterator[CalendarStore]:
        """Run a write; any failure marks the request for rollback, and store errors
        become ValueError, which Radicale answers with a 4xx."""
        request = self._request()
        if request.mode != "w":
            raise RuntimeError("a write under a read lock")
        try:
            yield request.store
        except StoreError as error:
            request.failed = True
            raise ValueError(error.message) from error
        except BaseException:
            request.failed = True
            raise

    def _object(self, item: radicale_item.Item) -> CalendarObject:
        return self._request().store.object_from_item(item)

    @types.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args: Any, **kwargs: Any) -> Iterator[None]:
        """One transaction per request: REPEATABLE READ snapshot for reads on
        PostgreSQL; for writes, the locks of the principals of ``path``/``to_path``
        (or of ``user``) first. Commits on exit unless a storage call failed."""
        outer = self._current.get()
        if outer is not None:
            # Radicale nests read locks (shared collections): reuse the transaction.
            if mode == "w" and outer.mode != "w":
                raise RuntimeError("cannot take the write lock inside a read lock")
            yield
            return
        factory = self._database.sessionmaker if mode == "w" else self._database.read_sessionmaker
        session = factory()
        request = _Request(
            session, self._new_store(session), mode, f"dav:{user}" if user else "dav"
        )
        token = self._current.set(request)
        try:
            if mode == "w":
                targets = [kwargs.get("path") or "", kwargs.get("to_path") or ""]
                principals = {principal_of(t) for t in targets if t} or {user or ""}
                for principal in sorted(principals):
                    request.store.lock_collection(principal)
            elif self._database.engine.dialect.name == "postgresql":
                # One consistent snapshot per request, like the file storage's shared lock.
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield
            if request.failed:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            self._current.reset(token)
            session.close()

    # --- the storage interface -------------------------------------------------

    def discover(
        self,
        path: str,
        depth: str = "0",
        child_context_manager: Callable[[str, str | None], AbstractContextManager[None]]
        | None = None,
        user_groups: set[str] = set(),  # noqa: B006 - Radicale's signature
    ) -> Iterator[types.CollectionOrItem]:
        store = self._request().store
        manager = child_context_manager or _null_context
        sane_path = pathutils.strip_path(path)
        record: CollectionRecord | None = None
        if sane_path:
            try:
                record = store.get_collection(sane_path)
            except InvalidPath:
                return
            if record is None:
                parent_path, _, href = sane_path.rpartition("/")
                if not parent_path or not is_safe_href(href):
                    return
                parent = store.get_collection(parent_path)
                if parent is None:
                    return
                stored = store.get_items(parent, [href]).get(href)
                collection = Collection(self, parent)
                if stored is not None and collection._servable(stored):
                    yield collection._item(stored)
                return
        collection = Collection(self, record)
        yield collection
        if depth == "0":
            return
        if record is not None:
            for stored in store.list_items(record):
                if collection._servable(stored):
                    with manager(sane_path, stored.href):
                        yield collection._item(stored)
        for child in store.child_collections(sane_path):
            with manager(child.path, None):
                yield Collection(self, child)

    def create_collection(
        self,
        href: str,
        items: Iterable[radicale_item.Item] | None = None,
        props: Mapping[str, str] | None = None,
    ) -> tuple[Collection, dict[str, radicale_item.Item], list[str]]:
        sane_path = pathutils.strip_path(href)
        with self._writing() as store:
            objects = None
            if props and items is not None and props.get("tag") in ("VCALENDAR", "VADDRESSBOOK"):
                objects = [self._object(item) for item in items]
            record, replaced, new_hrefs = store.create_collection(
                sane_path, props, objects, actor=self._request().actor
            )
        collection = Collection(self, record)
        return (
            collection,
            {href: collection._item(old) for href, old in replaced.items()},
            new_hrefs,
        )

    def move(
        self, item: radicale_item.Item, to_collection: storage.BaseCollection, to_href: str
    ) -> None:
        assert isinstance(item.collection, Collection) and isinstance(to_collection, Collection)
        source, target = item.collection._record, to_collection._record
        if source is None or target is None or item.href is None:
            raise ValueError("items live in calendars, not in the root")
        with self._writing() as store:
            store.move_item(source, item.href, target, to_href, actor=self._request().actor)

    def verify(self) -> bool:
        """Re-validate every stored object (parse, UID, etag) and every collection's
        sync state; log what is wrong and return whether everything is fine."""
        errors = 0
        checked = 0
        with self.acquire_lock("r"):
            store = self._request().store
            pending = [""]
            while pending:
                path = pending.pop()
                for record in store.child_collections(path):
                    pending.append(record.path)
                    if not record.tag:
                        continue
                    for stored in store.list_items(record):
                        checked += 1
                        try:
                            _verify_item(stored, record.tag, self._max_occurrences)
                        except Exception as error:
                            errors += 1
                            logger.error(
                                "Invalid item %r in %r: %s", stored.href, record.path, error
                            )
                    try:
                        store.changes_since(record, None)
                    except Exception as error:
                        errors += 1
                        logger.error("Invalid collection %r: %s", record.path, error)
        logger.info("Verified %d items, %d errors", checked, errors)
        return errors == 0


def _verify_item(stored: StoredItem, tag: str, max_occurrences: int) -> None:
    vobject_items = radicale_item.read_components(stored.text)
    radicale_item.check_and_sanitize_items(
        vobject_items, max_vevent_rrule_occurrence=max_occurrences, tag=tag
    )
    if radicale_item.get_etag(stored.text) != stored.etag:
        raise ValueError("the stored etag does not match the text")
    (vobject_item,) = vobject_items
    uid = radicale_item.get_uid_from_object(vobject_item)
    if (uid or None) != stored.uid:
        raise ValueError(f"the stored UID {stored.uid!r} does not match {uid!r}")


def _within(text: str, limit: int) -> bool:
    """Whether ``text`` encodes to at most ``limit`` bytes, encoding only when the
    length in characters cannot tell (UTF-8 takes one to four bytes each)."""
    if len(text) > limit:
        return False
    return len(text) * 4 <= limit or len(text.encode()) <= limit


@contextlib.contextmanager
def _null_context(path: str, href: str | None) -> Iterator[None]:
    yield
