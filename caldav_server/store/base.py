"""The store's state and what every operation needs first: the session, the limits, the
principal's write lock and the collection lookup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from caldav_server.errors import (
    CollectionNotFound,
)
from caldav_server.models import (
    DavCollection,
)
from caldav_server.spans import (
    DEFAULT_INDEX_HORIZON,
)
from caldav_server.store.rows import COLLECTION_COLUMNS, clean_path, principal_of, record_from_row
from caldav_server.store.values import CollectionRecord
from consult.db import advisory_lock, utcnow
from consult.hookspecs import CalendarItemChanged, hooks_of


class StoreBase:
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

    # --- the collection lookup every operation starts from ------------------------

    def get_collection(self, path: str) -> CollectionRecord | None:
        """The collection at ``path``, or ``None``. The root (``""``) is not stored."""
        path = clean_path(path)
        row = self.session.execute(
            select(*COLLECTION_COLUMNS).where(DavCollection.path == path)
        ).first()
        return record_from_row(row) if row is not None else None

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
            select(*COLLECTION_COLUMNS).where(DavCollection.id == record.id)
        ).first()
        if row is None:
            raise CollectionNotFound(record.path)
        return record_from_row(row)

    def _notify(self, change: CalendarItemChanged) -> None:
        self._hooks.calendar_item_changed(session=self.session, change=change)
