"""Moving an item between collections (WebDAV MOVE): one row, two sync histories."""

from __future__ import annotations

from sqlalchemy import (
    delete,
    select,
    update,
)

from caldav_server.errors import (
    InvalidPath,
    UidConflict,
)
from caldav_server.models import (
    DavItem,
    DavOccurrence,
)
from caldav_server.spans import (
    is_safe_href,
)
from caldav_server.store.history import SyncHistory
from caldav_server.store.rows import ITEM_COLUMNS, principal_of, stored_from_row
from caldav_server.store.values import CollectionRecord, StoredItem
from consult.hookspecs import CalendarItemChanged


class ItemMoves(SyncHistory):
    """Move items, keeping etag and index."""

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
            select(*ITEM_COLUMNS).where(DavItem.collection_id == source.id, DavItem.href == href)
        ).first()
        if row is None:
            raise InvalidPath(f"no item {href!r} in {source.path!r}")
        if source.id == target.id and href == to_href:
            return stored_from_row(row, source.path)
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
            select(*ITEM_COLUMNS).where(DavItem.collection_id == target.id, DavItem.href == to_href)
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
