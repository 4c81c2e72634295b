"""From "what changed upstream" to writes in the mirror calendar.

:func:`compute_changes` compares a fetch result with the snapshot of what was last
mirrored (:class:`KnownItem` rows) and prepares everything outside any database
transaction: normalised events, rebuilt mirror items, parsed and indexed objects.
:func:`apply_changes` then only writes, inside the transaction that also checks
the snapshot is still current (see :mod:`sync.syncing`).

Mirror items are named by their series: ``<group key>.ics`` with UID
``<group key>@mirror``, where the group key is a hash of the source's series id,
so the same upstream event always lands on the same item and one series never
clashes with another.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session

from booking.busy_index import expect_blocks
from booking.core.intervals import Interval
from caldav_server.errors import InvalidCalendarData, ItemTooLarge
from caldav_server.spans import CalendarObject, parse_calendar_object
from caldav_server.store import CalendarStore
from sync.events import Findings, ZoneReader, mirror_calendar_text, normalize_event
from sync.models import ExternalCalendarItem
from sync.sources.base import FetchResult

__all__ = [
    "KnownItem",
    "MirrorChanges",
    "apply_changes",
    "compute_changes",
    "group_key",
    "mirror_href",
    "remote_key",
]

_CHUNK = 500


def remote_key(remote_id: str) -> str:
    """The indexed key of a remote id (ids can be long URLs)."""
    return hashlib.sha256(remote_id.encode()).hexdigest()


def group_key(group_id: str) -> str:
    """The key of a series: names its mirror item."""
    return hashlib.sha256(group_id.encode()).hexdigest()[:40]


def mirror_href(group: str) -> str:
    """The href of a series' item in the mirror calendar."""
    return f"{group}.ics"


def mirror_uid(group: str) -> str:
    """The UID of a series' item in the mirror calendar."""
    return f"{group}@mirror"


@dataclass(frozen=True)
class KnownItem:
    """A remote event as last mirrored (one ``external_calendar_item`` row)."""

    remote_key: str
    remote_id: str
    group_key: str
    etag: str
    vevents: str


@dataclass
class MirrorChanges:
    """The writes one sync will make: item rows to replace, etags to refresh, rows to
    delete, mirror objects to store and mirror hrefs to remove."""

    upserts: list[KnownItem] = field(default_factory=list)
    etags: dict[str, str] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    puts: list[tuple[str, CalendarObject]] = field(default_factory=list)
    removals: list[str] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    # Busy time of items known without parsing them again (href -> UTC intervals).
    blocks: dict[str, tuple[tuple[datetime, datetime], ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.upserts or self.etags or self.deletes or self.puts or self.removals)


def compute_changes(
    known: Mapping[str, KnownItem],
    result: FetchResult,
    *,
    show_titles: bool,
    now: datetime,
    skip_remote_ids: frozenset[str] = frozenset(),
    max_occurrences: int = 5000,
    max_item_size: int | None = None,
) -> MirrorChanges:
    """Compare ``result`` with ``known`` (rows by remote key) and prepare the writes.

    Unchanged events (``components is None``) keep their rows; a complete listing
    deletes what it no longer lists; events the platform pushed itself
    (``skip_remote_ids``) are removed from the mirror. A rebuilt item the store would
    refuse keeps its previous version and is reported in ``findings``.
    """
    reader = result.reader or ZoneReader(own_zone=ZoneInfo("UTC"))
    changes = MirrorChanges(findings=reader.findings)
    after = dict(known)
    hints: dict[str, tuple[tuple[datetime, datetime], ...]] = {}
    affected: set[str] = set()
    seen: set[str] = set()
    for event in result.events:
        key = remote_key(event.remote_id)
        seen.add(key)
        old = known.get(key)
        if event.components is None:
            continue
        group = group_key(event.group_id)
        normalized = normalize_event(
            event.components, uid=mirror_uid(group), reader=reader, show_titles=show_titles, now=now
        )
        text = normalized.text
        if normalized.blocks is not None:
            hints[group] = normalized.blocks
        item = KnownItem(key, event.remote_id, group, event.etag, text)
        if old == item:
            continue
        after[key] = item
        if old is not None and old.vevents == text and old.group_key == group:
            changes.etags[key] = event.etag
            continue
        changes.upserts.append(item)
        affected.add(group)
        if old is not None:
            affected.add(old.group_key)
    gone = {remote_key(remote_id) for remote_id in result.deleted}
    if result.complete:
        gone |= set(known) - seen
    gone |= {key for key, item in known.items() if item.remote_id in skip_remote_ids}
    for key in sorted(gone):
        if key in known:
            changes.deletes.append(key)
            affected.add(known[key].group_key)
            after.pop(key, None)
            changes.etags.pop(key, None)
    changes.upserts = [item for item in changes.upserts if item.remote_key not in gone]
    members: dict[str, list[KnownItem]] = defaultdict(list)
    for item in after.values():
        if item.group_key in affected:
            members[item.group_key].append(item)
    for group in sorted(affected):
        texts = [m.vevents for m in sorted(members[group], key=lambda m: m.remote_id) if m.vevents]
        if not texts:
            changes.removals.append(mirror_href(group))
            continue
        calendar_text = mirror_calendar_text(texts, now=now)
        try:
            if max_item_size is not None and len(calendar_text.encode()) > max_item_size:
                raise ItemTooLarge(len(calendar_text.encode()), max_item_size)
            obj = parse_calendar_object(calendar_text, max_occurrences=max_occurrences, now=now)
        except (InvalidCalendarData, ItemTooLarge) as error:
            reason = "the calendar store refused it"
            if isinstance(error, ItemTooLarge):
                reason = "it is too large"
            elif "recurrence" in str(error).lower():
                reason = "it recurs too many times"
            changes.findings.skip(reason, "an event")
            continue
        changes.puts.append((mirror_href(group), obj))
        texts_hinted = len(texts) == 1 and group in hints
        if texts_hinted:
            changes.blocks[mirror_href(group)] = hints[group]
    return changes


def load_known(session: Session, calendar_id: int) -> dict[str, KnownItem]:
    """The snapshot of what is mirrored for a connection, by remote key."""
    rows = session.execute(
        ExternalCalendarItem.__table__.select().where(
            ExternalCalendarItem.calendar_id == calendar_id
        )
    )
    items = (
        KnownItem(row.remote_key, row.remote_id, row.group_key, row.etag, row.vevents)
        for row in rows
    )
    return {item.remote_key: item for item in items}


def _chunks(values: Sequence[object], size: int = _CHUNK) -> list[Sequence[object]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def apply_changes(
    session: Session,
    store: CalendarStore,
    *,
    calendar_id: int,
    mirror_path: str,
    changes: MirrorChanges,
) -> tuple[int, int]:
    """Write ``changes`` in the caller's transaction (which holds the principal's
    calendar lock and has checked the snapshot). Returns (items written, removed)."""
    table: Any = ExternalCalendarItem.__table__
    replaced = [item.remote_key for item in changes.upserts] + changes.deletes
    for chunk in _chunks(replaced):
        session.execute(
            delete(table).where(
                table.c.calendar_id == calendar_id, table.c.remote_key.in_(list(chunk))
            )
        )
    if changes.upserts:
        session.execute(
            insert(table),
            [
                {
                    "calendar_id": calendar_id,
                    "remote_key": item.remote_key,
                    "remote_id": item.remote_id,
                    "group_key": item.group_key,
                    "etag": item.etag,
                    "vevents": item.vevents,
                }
                for item in changes.upserts
            ],
        )
    for key, etag in changes.etags.items():
        session.execute(
            update(table)
            .where(table.c.calendar_id == calendar_id, table.c.remote_key == key)
            .values(etag=etag)
        )
    removed = 0
    for href in changes.removals:
        removed += bool(store.delete_item(mirror_path, href, actor="sync"))
    for href, blocks in changes.blocks.items():
        expect_blocks(session, mirror_path, href, [Interval(start, end) for start, end in blocks])
    for chunk in _chunks(changes.puts):
        store.put_objects(mirror_path, list(chunk), actor="sync")  # type: ignore[arg-type]
    return len(changes.puts), removed
