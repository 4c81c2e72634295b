"""Reading items: by href or UID, whole collections, and time-range candidates from the index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import (
    func,
    literal,
    select,
    union_all,
)

from caldav_server.models import (
    DATETIME_MIN,
    OCCURRENCE_PIECE,
    DavItem,
    DavOccurrence,
)
from caldav_server.store.base import StoreBase
from caldav_server.store.rows import ITEM_COLUMNS, chunks, stored_from_row
from caldav_server.store.values import Candidate, CollectionRecord, StoredItem


class ItemReads(StoreBase):
    """Read stored items without writing anything."""

    def get_item(self, path: str, href: str) -> StoredItem | None:
        """The item ``href`` of the collection ``path``, or ``None`` when there is none.
        Raises :class:`CollectionNotFound` when the collection itself is missing."""
        record = self._require(path)
        row = self.session.execute(
            select(*ITEM_COLUMNS).where(DavItem.collection_id == record.id, DavItem.href == href)
        ).first()
        return stored_from_row(row, record.path) if row is not None else None

    def get_item_by_uid(self, path: str, uid: str) -> StoredItem | None:
        """The item of the collection whose object has ``uid``, or ``None``."""
        record = self._require(path)
        row = self.session.execute(
            select(*ITEM_COLUMNS).where(DavItem.collection_id == record.id, DavItem.uid == uid)
        ).first()
        return stored_from_row(row, record.path) if row is not None else None

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
            select(*ITEM_COLUMNS).where(DavItem.collection_id == record.id).order_by(DavItem.href)
        )
        return [stored_from_row(row, record.path) for row in rows]

    def get_items(
        self, path: str | CollectionRecord, hrefs: Iterable[str]
    ) -> dict[str, StoredItem]:
        """The existing items among ``hrefs``, by href."""
        record = self._require(path)
        wanted = sorted(set(hrefs))
        found: dict[str, StoredItem] = {}
        for chunk in chunks(wanted):
            rows = self.session.execute(
                select(*ITEM_COLUMNS).where(
                    DavItem.collection_id == record.id, DavItem.href.in_(chunk)
                )
            )
            for row in rows:
                found[row.href] = stored_from_row(row, record.path)
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
        exact = select(*ITEM_COLUMNS, literal(True).label("exact")).where(DavItem.id.in_(pieces))
        unindexed = select(*ITEM_COLUMNS, literal(False).label("exact")).where(
            DavItem.collection_id.in_(ids),
            DavItem.indexed_until < end,
            DavItem.span_start < end,
            DavItem.span_end > start,
            DavItem.id.not_in(pieces),
        )
        # One round trip, through Core: this is the hot path of every time-range REPORT.
        rows = self.session.connection().execute(union_all(exact, unindexed)).all()
        return [
            Candidate(stored_from_row(row, paths[row.collection_id]), row.exact) for row in rows
        ]

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
