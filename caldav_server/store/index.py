"""Maintenance of the time-range index: rebuild rows after a rule or horizon change."""

from __future__ import annotations

from datetime import datetime

from radicale import item as radicale_item
from sqlalchemy import (
    delete,
    insert,
    select,
    update,
)

from caldav_server.models import (
    DATETIME_MIN,
    DavCollection,
    DavItem,
    DavOccurrence,
)
from caldav_server.spans import (
    compute_time_index,
)
from caldav_server.store.base import StoreBase
from caldav_server.store.rows import principal_of


class TimeIndexing(StoreBase):
    """Rebuild the occurrence index of items."""

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
