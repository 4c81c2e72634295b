"""The sync history (RFC 6578): one change row per item change, tokens, pruning."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from caldav_server.errors import (
    InvalidSyncToken,
)
from caldav_server.models import (
    DavChange,
    DavCollection,
    DavItem,
)
from caldav_server.store.base import StoreBase
from caldav_server.store.rows import chunks, new_token, parse_sync_token
from caldav_server.store.values import CollectionRecord, SyncChange, SyncResult


class SyncHistory(StoreBase):
    """Record changes and answer sync-collection requests."""

    def _record_changes(self, record: CollectionRecord, changes: Sequence[tuple[str, bool]]) -> int:
        """One step of the collection's change counter for ``changes`` (href, deleted)."""
        now = self.clock()
        seq = self.session.execute(
            update(DavCollection)
            .where(DavCollection.id == record.id)
            .values(sync_seq=DavCollection.sync_seq + 1, ctag=new_token(), modified_at=now)
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
            for chunk in chunks(rows):
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
