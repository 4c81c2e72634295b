"""Principals, calendars and their properties; deleting a collection with its items."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from sqlalchemy import (
    delete,
    insert,
    or_,
    select,
    update,
)

from caldav_server.errors import (
    CollectionExists,
    InvalidPath,
)
from caldav_server.models import (
    DavChange,
    DavCollection,
    DavItem,
    DavOccurrence,
)
from caldav_server.spans import (
    CalendarObject,
)
from caldav_server.store.rows import (
    COLLECTION_COLUMNS,
    ITEM_COLUMNS,
    chunks,
    clean_path,
    free_href,
    new_token,
    record_from_row,
    sanitize_props,
)
from caldav_server.store.values import CalendarInfo, CollectionRecord, StoredItem
from caldav_server.store.write import ItemWrites
from consult.hookspecs import CalendarItemChanged


class Collections(ItemWrites):
    """Create, list, describe and delete collections."""

    def child_collections(self, path: str) -> list[CollectionRecord]:
        """The collections directly under ``path`` (principals for the root), by path."""
        path = clean_path(path)
        query = select(*COLLECTION_COLUMNS).order_by(DavCollection.path)
        if not path:
            query = query.where(DavCollection.parent_id.is_(None))
            return [record_from_row(row) for row in self.session.execute(query)]
        parent_id = select(DavCollection.id).where(DavCollection.path == path).scalar_subquery()
        query = query.where(DavCollection.parent_id == parent_id)
        children = [record_from_row(row) for row in self.session.execute(query)]
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
                ctag=new_token(),
                sync_id=new_token(),
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
            path, {**sanitize_props(props), "tag": "VCALENDAR"}, None
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
        props = sanitize_props(props)
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
                href = free_href(obj.uid, suffix, taken)
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
        return self._replace_props(record, sanitize_props(clean))

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
                ctag=new_token(),
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
                select(*ITEM_COLUMNS)
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
        for chunk in chunks(ids):
            self.session.execute(
                delete(DavOccurrence).where(DavOccurrence.collection_id.in_(chunk))
            )
            self.session.execute(delete(DavChange).where(DavChange.collection_id.in_(chunk)))
            self.session.execute(delete(DavItem).where(DavItem.collection_id.in_(chunk)))
        for collection in sorted(subtree, key=lambda r: r.path.count("/"), reverse=True):
            self.session.execute(delete(DavCollection).where(DavCollection.id == collection.id))
        return True
