"""The busy-time index: every calendar event of a professional (except in their
Availability calendar) materialised as UTC blocks in ``calendar_block``.

Slot computation must not parse and expand thousands of events per request, so
each calendar item is expanded once, when it is written, by a listener the
calendar store calls inside the writing transaction (CalDAV requests and
platform writes alike). The expansion follows the busy-time rules of
:func:`booking.core.ical.expand.busy_intervals` (transparent and cancelled
events block nothing, all-day and floating times are read in the professional's
zone). Recurring events are expanded over a rolling horizon; a query beyond it
extends the expansion first (:func:`ensure_expanded`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from accounts.models import User
from booking.core.ical.expand import busy_intervals
from booking.core.ical.validate import parse_calendar
from booking.core.intervals import Interval, normalize
from booking.errors import InvalidCalendarData
from booking.models import CalendarBlock, CalendarItemExpansion
from caldav_server.provisioning import AVAILABILITY_CALENDAR
from caldav_server.store import CalendarStore, principal_of
from consult.db import Database, utcnow
from consult.hookspecs import CalendarItemChanged

log = logging.getLogger(__name__)

# How far ahead recurring events are expanded at write time; longer than the
# longest booking horizon, so ordinary slot queries never need to extend it.
EXPANSION_AHEAD = timedelta(days=400)
# How far back: the professional's dashboard shows the recent past.
EXPANSION_BEHIND = timedelta(days=35)
# Maintenance expands again what is expanded less than this far ahead, so slot
# queries almost never have to extend the expansion on demand.
EXPANSION_MARGIN = timedelta(days=60)
# A non-recurring event is expanded whole, wherever it lies.
_ALL_TIME = Interval(datetime(1900, 1, 1, tzinfo=UTC), datetime(2400, 1, 1, tzinfo=UTC))
MAX_OCCURRENCES = 5000
# Blocks longer than this are stored in pieces, so a window query is a tight index
# range (start > window.start - PIECE) instead of a scan of everything before it.
PIECE = timedelta(days=1)


def is_busy_calendar(collection_path: str) -> bool:
    """Whether events of this calendar block time: all of a principal's calendars
    except Availability (whose events are open hours)."""
    parts = collection_path.split("/")
    return len(parts) == 2 and parts[1] != AVAILABILITY_CALENDAR


def _zone_of(session: Session, principal: str) -> ZoneInfo:
    name = session.scalar(select(User.timezone).where(User.principal == principal))
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _facts(calendar: icalendar.Calendar) -> tuple[bool, bool]:
    """(recurring, zone_dependent) of the events in ``calendar``."""
    recurring = zone_dependent = False
    for event in calendar.walk("VEVENT"):
        if event.get("RRULE") is not None or event.get("RDATE") is not None:
            recurring = True
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            value = event.get(name)
            moment = getattr(value, "dt", None)
            if moment is not None and (not isinstance(moment, datetime) or moment.tzinfo is None):
                zone_dependent = True
    return recurring, zone_dependent


def index_item(
    session: Session,
    principal: str,
    collection_path: str,
    href: str,
    text: str | None,
    *,
    zone: ZoneInfo | None = None,
    now: datetime | None = None,
    until: datetime | None = None,
    is_new: bool = False,
) -> None:
    """Replace the blocks of one item with those its ``text`` describes (None: deleted).

    ``is_new``: the item did not exist before, so there is nothing to delete first.
    Only recurring or zone-dependent items get an expansion row (the others never need
    re-expanding).
    """
    if not is_new:
        _delete_item_rows(session, collection_path, href)
    if text is None:
        return
    try:
        calendar = parse_calendar(text)
    except InvalidCalendarData as error:
        log.warning("not indexing %s/%s: %s", collection_path, href, error)
        return
    recurring, zone_dependent = _facts(calendar)
    zone = zone or _zone_of(session, principal)
    now = now or utcnow()
    if recurring:
        window = Interval(now - EXPANSION_BEHIND, max(until or now, now) + EXPANSION_AHEAD)
    else:
        window = _ALL_TIME
    blocks = [
        piece
        for block in busy_intervals([calendar], window, zone, max_occurrences=MAX_OCCURRENCES)
        for piece in _pieces(block)
    ]
    _insert_blocks(session, principal, collection_path, href, blocks)
    if not (recurring or zone_dependent):
        return
    session.add(
        CalendarItemExpansion(
            principal=principal,
            collection_path=collection_path,
            href=href,
            expanded_from=window.start,
            expanded_until=window.end,
            open_ended=recurring,
            zone_dependent=zone_dependent,
        )
    )


def _delete_item_rows(session: Session, collection_path: str, href: str) -> None:
    session.execute(
        delete(CalendarBlock).where(
            CalendarBlock.collection_path == collection_path, CalendarBlock.href == href
        )
    )
    session.execute(
        delete(CalendarItemExpansion).where(
            CalendarItemExpansion.collection_path == collection_path,
            CalendarItemExpansion.href == href,
        )
    )


def _insert_blocks(
    session: Session, principal: str, collection_path: str, href: str, blocks: Sequence[Interval]
) -> None:
    if not blocks:
        return
    session.execute(
        insert(CalendarBlock),
        [
            {
                "principal": principal,
                "collection_path": collection_path,
                "href": href,
                "start": block.start,
                "end": block.end,
            }
            for block in blocks
        ],
    )


def _pieces(block: Interval) -> Iterable[Interval]:
    start = block.start
    while block.end - start > PIECE:
        yield Interval(start, start + PIECE)
        start += PIECE
    yield Interval(start, block.end)


_HINTS = "busy_index.known_blocks"


def expect_blocks(
    session: Session, collection_path: str, href: str, blocks: Sequence[Interval]
) -> None:
    """Tell the index what the next write of this item blocks, so it need not parse it.

    For events the platform builds itself (a booking is one opaque interval; a
    cancelled one blocks nothing); the hint is used once, by the write that follows.
    """
    session.info.setdefault(_HINTS, {})[(collection_path, href)] = list(blocks)


def on_item_change(session: Session, change: CalendarItemChanged) -> None:
    """Store listener: keep the blocks of professional calendars in step with writes."""
    if not is_busy_calendar(change.collection_path):
        return
    principal = principal_of(change.collection_path)
    known = session.info.get(_HINTS, {}).pop((change.collection_path, change.href), None)
    if known is not None and change.new_text is not None:
        if change.old_text is not None:
            _delete_item_rows(session, change.collection_path, change.href)
        blocks = [piece for block in known for piece in _pieces(block)]
        _insert_blocks(session, principal, change.collection_path, change.href, blocks)
        return
    index_item(
        session,
        principal,
        change.collection_path,
        change.href,
        change.new_text,
        is_new=change.old_text is None,
    )


def ensure_expanded(session: Session, principal: str, window: Interval) -> None:
    """Extend the expansion of the principal's recurring events to cover ``window``."""
    stale = session.execute(
        select(CalendarItemExpansion.collection_path, CalendarItemExpansion.href).where(
            CalendarItemExpansion.principal == principal,
            CalendarItemExpansion.open_ended.is_(True),
            (CalendarItemExpansion.expanded_until < window.end)
            | (CalendarItemExpansion.expanded_from > window.start),
        )
    ).all()
    if not stale:
        return
    store = CalendarStore(session)
    zone = _zone_of(session, principal)
    for collection_path, href in stale:
        item = store.get_item(collection_path, href)
        index_item(
            session,
            principal,
            collection_path,
            href,
            item.text if item else None,
            zone=zone,
            until=window.end,
        )
    if stale:
        # Widen the start too when the window reaches back further than the default.
        session.execute(
            update(CalendarItemExpansion)
            .where(
                CalendarItemExpansion.principal == principal,
                CalendarItemExpansion.expanded_from > window.start,
                CalendarItemExpansion.open_ended.is_(True),
            )
            .values(expanded_from=window.start)
        )


def reindex_zone_dependent(session: Session, principal: str) -> int:
    """Re-expand items whose blocks depend on the professional's zone (after it changes)."""
    rows = session.execute(
        select(CalendarItemExpansion.collection_path, CalendarItemExpansion.href).where(
            CalendarItemExpansion.principal == principal,
            CalendarItemExpansion.zone_dependent.is_(True),
        )
    ).all()
    store = CalendarStore(session)
    for collection_path, href in rows:
        item = store.get_item(collection_path, href)
        index_item(session, principal, collection_path, href, item.text if item else None)
    return len(rows)


def busy_blocks(
    session: Session,
    principal: str,
    window: Interval,
    *,
    calendars: Sequence[str],
    exclude_hrefs: Iterable[tuple[str, str]] = (),
) -> list[Interval]:
    """Merged busy time of ``principal`` overlapping ``window``, from the index.

    ``calendars`` are the collection paths that currently exist (blocks of a deleted
    calendar are ignored); ``exclude_hrefs`` leaves out given items, e.g. the booking
    being rescheduled.
    """
    ensure_expanded(session, principal, window)
    excluded = set(exclude_hrefs)
    rows = session.execute(
        select(
            CalendarBlock.start,
            CalendarBlock.end,
            CalendarBlock.collection_path,
            CalendarBlock.href,
        ).where(
            CalendarBlock.principal == principal,
            CalendarBlock.start > window.start - PIECE,
            CalendarBlock.start < window.end,
            CalendarBlock.end > window.start,
            CalendarBlock.collection_path.in_(list(calendars)),
        )
    ).all()
    return normalize(
        Interval(start, end)
        for start, end, collection_path, href in rows
        if (collection_path, href) not in excluded
    )


def extend_expansions(database: Database, now: datetime) -> int:
    """Expand the recurring events of every professional whose expansion ends less
    than :data:`EXPANSION_MARGIN` after ``now``; returns how many professionals.
    One transaction per professional (each holds that principal's lock briefly)."""
    with database.session() as session:
        principals = list(
            session.scalars(
                select(CalendarItemExpansion.principal)
                .where(
                    CalendarItemExpansion.open_ended.is_(True),
                    CalendarItemExpansion.expanded_until < now + EXPANSION_MARGIN,
                )
                .distinct()
            )
        )
    window = Interval(now - EXPANSION_BEHIND, now + EXPANSION_AHEAD)
    for principal in principals:
        with database.session() as session:
            ensure_expanded(session, principal, window)
    return len(principals)
