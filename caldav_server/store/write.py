"""The write path: parse, check (size, UID), store, index, record the change, tell the hooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from radicale import item as radicale_item
from sqlalchemy import (
    ColumnElement,
    delete,
    insert,
    or_,
    select,
    update,
)

from caldav_server.errors import (
    InvalidCalendarData,
    InvalidPath,
    ItemTooLarge,
    NotACalendar,
    UidConflict,
)
from caldav_server.limits import check_listed_dates
from caldav_server.models import (
    DavItem,
    DavOccurrence,
)
from caldav_server.spans import (
    CalendarObject,
    calendar_object_from_item,
    default_href,
    is_safe_href,
    parse_calendar_object,
)
from caldav_server.store.history import SyncHistory
from caldav_server.store.rows import (
    CHUNK,
    ITEM_COLUMNS,
    StoredRow,
    chunks,
    piece_rows,
    stored_from_row,
)
from caldav_server.store.values import CollectionRecord, StoredItem
from consult.hookspecs import CalendarItemChanged


class ItemWrites(SyncHistory):
    """Put and delete items, one or many in one statement each."""

    def parse(self, text: str, tag: str = "VCALENDAR") -> CalendarObject:
        """Parse and validate ``text`` as one object for a ``tag`` collection.
        Raises :class:`InvalidCalendarData` or :class:`ItemTooLarge`."""
        if self.max_item_size is not None:
            size = len(text.encode())
            if size > self.max_item_size:
                raise ItemTooLarge(size, self.max_item_size)
        check_listed_dates(text)
        return parse_calendar_object(
            text,
            tag=tag,
            max_occurrences=self.max_occurrences,
            now=self.clock(),
            horizon=self.index_horizon,
        )

    def object_from_item(self, item: radicale_item.Item) -> CalendarObject:
        """A storable object from a Radicale item that Radicale already validated
        (our DAV app bounded its listed dates before parsing; Radicale run on its own
        did not, so the bound is checked again on the text it produced)."""
        check_listed_dates(item.serialize())
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
        existing: dict[str, StoredRow] = {}
        for chunk in chunks([] if fresh else planned, CHUNK // 2):  # two per object
            chunk_hrefs = [href for href, _ in chunk]
            chunk_uids = [obj.uid for _, obj in chunk if obj.uid]
            matches: ColumnElement[bool] = DavItem.href.in_(chunk_hrefs)
            if chunk_uids:
                matches = or_(matches, DavItem.uid.in_(chunk_uids))
            found = self.session.execute(
                select(*ITEM_COLUMNS).where(DavItem.collection_id == record.id, matches)
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
                pieces.extend(piece_rows(old_row.id, record.id, obj))
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
            results.append(
                (new, stored_from_row(old_row, record.path) if old_row is not None else None)
            )
        for chunk in chunks(updated_ids):
            self.session.execute(delete(DavOccurrence).where(DavOccurrence.item_id.in_(chunk)))
        if inserts:
            new_ids = self._insert_items(inserts)
            objects = dict(planned)
            for row in inserts:
                pieces.extend(piece_rows(new_ids[row["href"]], record.id, objects[row["href"]]))
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
        for chunk in chunks(rows):
            result = self.session.execute(
                insert(DavItem).returning(DavItem.id, DavItem.href), list(chunk)
            )
            for item_id, href in result:
                ids[href] = item_id
        return ids

    def _rows_by_href(self, record: CollectionRecord, hrefs: Sequence[str]) -> list[StoredRow]:
        rows: list[StoredRow] = []
        for chunk in chunks(sorted(hrefs)):
            rows.extend(
                self.session.execute(
                    select(*ITEM_COLUMNS).where(
                        DavItem.collection_id == record.id, DavItem.href.in_(chunk)
                    )
                ).all()
            )
        return rows

    def _delete_hrefs(self, record: CollectionRecord, hrefs: Sequence[str], actor: str) -> None:
        rows = self._rows_by_href(record, hrefs)
        ids = [row.id for row in rows]
        for chunk in chunks(ids):
            self.session.execute(delete(DavOccurrence).where(DavOccurrence.item_id.in_(chunk)))
            self.session.execute(delete(DavItem).where(DavItem.id.in_(chunk)))
        self._record_changes(record, [(row.href, True) for row in rows])
        self._prune_history(record)
        for row in rows:
            self._notify(
                CalendarItemChanged(record.path, row.href, row.uid, row.text, None, actor, "delete")
            )
