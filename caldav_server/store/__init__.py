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

The store is one class built from one module per operation, the way Radicale's
``multifilesystem`` storage is: :mod:`.base` (state, lock, lookup), :mod:`.collections`,
:mod:`.items` (reads), :mod:`.write`, :mod:`.move`, :mod:`.history` (sync) and
:mod:`.index`; :mod:`.values` and :mod:`.rows` hold what they share.
"""

from __future__ import annotations

from caldav_server.store.collections import Collections
from caldav_server.store.index import TimeIndexing
from caldav_server.store.items import ItemReads
from caldav_server.store.move import ItemMoves
from caldav_server.store.rows import clean_path, parse_sync_token, principal_of
from caldav_server.store.values import (
    MAX_PATH_LENGTH,
    SYNC_TOKEN_PREFIX,
    CalendarInfo,
    Candidate,
    CollectionRecord,
    StoredItem,
    SyncChange,
    SyncResult,
)

__all__ = [
    "MAX_PATH_LENGTH",
    "SYNC_TOKEN_PREFIX",
    "CalendarInfo",
    "CalendarStore",
    "Candidate",
    "CollectionRecord",
    "StoredItem",
    "SyncChange",
    "SyncResult",
    "clean_path",
    "parse_sync_token",
    "principal_of",
]


class CalendarStore(Collections, ItemReads, ItemMoves, TimeIndexing):
    """Read and write calendars in ``session``'s transaction (never commits).

    ``max_occurrences`` bounds recurrence expansion (Radicale's
    ``max_vevent_rrule_occurrence``, and the index rows of one item);
    ``max_item_size`` (bytes, ``None`` for no limit) bounds one object;
    deleted items are remembered for sync for ``history_max_age``; unbounded
    rules are indexed for ``index_horizon`` beyond now (or their first
    occurrence when later).
    """
