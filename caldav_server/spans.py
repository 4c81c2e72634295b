"""Parse and validate calendar objects, and compute what the time-range index
stores for them: the enclosing span and the occurrences.

Occurrences are produced by Radicale's own ``visit_time_ranges`` (the function its
``time-range`` filter uses), so "an indexed occurrence overlaps the window" means
exactly what Radicale's filter would decide after parsing the object. That is
what lets the storage answer time-range queries without parsing anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from radicale import item as radicale_item
from radicale import pathutils
from radicale.item import filter as radicale_filter

from caldav_server.errors import InvalidCalendarData
from caldav_server.models import DATETIME_MAX, DATETIME_MIN, OCCURRENCE_PIECE

# An occurrence longer than this is not cut into pieces; its item is then found
# through its span only (and Radicale tests it after parsing).
LONGEST_INDEXED_OCCURRENCE = timedelta(days=400)
# Unbounded rules are indexed this far beyond the time of writing.
DEFAULT_INDEX_HORIZON = timedelta(days=3 * 366)
MAX_UID_LENGTH = 1024

Interval = tuple[datetime, datetime]

# Free-busy types of indexed pieces (RFC 5545 FBTYPE), as Radicale's free-busy REPORT
# decides them: TRANSP other than OPAQUE is not busy at all (stored as NOT_BUSY),
# STATUS:CANCELLED is FREE, TENTATIVE is BUSY-TENTATIVE, anything else BUSY.
BUSY = "BUSY"
BUSY_TENTATIVE = "BUSY-TENTATIVE"
FREE = "FREE"
NOT_BUSY = ""
# When two components give one piece (rare), the busier type wins.
_FBTYPE_RANK = MappingProxyType({NOT_BUSY: 0, FREE: 1, BUSY_TENTATIVE: 2, BUSY: 3})


def fbtype_of(component: Any) -> str:
    """The FBTYPE an occurrence of ``component`` (a vobject VEVENT) shows in free-busy."""
    if _property_text(component, "transp") not in ("", "OPAQUE"):
        return NOT_BUSY
    status = _property_text(component, "status")
    if status == "CANCELLED":
        return FREE
    if status == "TENTATIVE":
        return BUSY_TENTATIVE
    return BUSY


def _property_text(component: Any, name: str) -> str:
    line = getattr(component, name, None)
    if line is None:
        return ""
    return str(line.value).strip().upper()


@dataclass(frozen=True)
class TimeIndex:
    """The span and occurrence pieces stored for one object.

    ``pieces`` are (start, end) pairs, none longer than ``OCCURRENCE_PIECE``;
    every occurrence that starts before ``indexed_until`` is covered by them.
    ``fbtypes`` holds the free-busy type of each piece (same order; empty for
    objects without VEVENTs).
    """

    span_start: datetime
    span_end: datetime
    pieces: tuple[Interval, ...]
    indexed_until: datetime
    fbtypes: tuple[str, ...] = ()

    def piece_types(self) -> Iterator[tuple[datetime, datetime, str | None]]:
        """(start, end, fbtype) of every piece; fbtype None where not known."""
        for index, (start, end) in enumerate(self.pieces):
            yield start, end, self.fbtypes[index] if index < len(self.fbtypes) else None


@dataclass(frozen=True)
class CalendarObject:
    """A validated calendar object (or vCard) ready to be stored."""

    text: str
    etag: str
    uid: str
    object_name: str
    component_name: str
    time_index: TimeIndex
    size: int


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC, clamped to Radicale's bounds (``datetime.max`` cannot move zones)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if value.year >= 9999:
        return DATETIME_MAX
    if value.year <= 1:
        return DATETIME_MIN
    return value.astimezone(UTC)


def timestamp_range(span_start: datetime, span_end: datetime) -> tuple[int, int]:
    """The span as Radicale's ``Item.time_range`` (POSIX seconds, floor and ceiling)."""
    return math.floor(span_start.timestamp()), math.ceil(span_end.timestamp())


def from_timestamp(value: int) -> datetime:
    """A Radicale timestamp as an aware datetime, its sentinels mapped to ours."""
    if value <= radicale_filter.TIMESTAMP_MIN:
        return DATETIME_MIN
    if value >= radicale_filter.TIMESTAMP_MAX:
        return DATETIME_MAX
    return datetime.fromtimestamp(value, UTC)


def compute_time_index(
    vobject_item: Any,
    component_name: str,
    *,
    max_occurrences: int,
    now: datetime,
    horizon: timedelta = DEFAULT_INDEX_HORIZON,
) -> TimeIndex:
    """Span and occurrence pieces of a parsed object.

    Bounded rules are indexed completely (up to ``max_occurrences`` pieces);
    unbounded ones for ``horizon`` beyond ``now`` or their first occurrence,
    whichever is later. Whatever is not indexed is recorded in
    ``indexed_until`` so that queries beyond it fall back to the span.
    Raises :class:`InvalidCalendarData` when Radicale cannot evaluate the object.
    """
    if not component_name:
        # vCards and empty calendars: no time; Radicale treats them as always.
        return TimeIndex(DATETIME_MIN, DATETIME_MAX, (), DATETIME_MIN)
    pieces: dict[Interval, str] = {}
    current_type = [BUSY]
    span_start: datetime | None = None
    span_end: datetime | None = None
    infinite = False
    limit = DATETIME_MAX
    indexable = True
    indexed_until = DATETIME_MAX

    def add(start: datetime, end: datetime) -> bool:
        """Store one occurrence; True when there is no room left."""
        nonlocal indexable
        if end - start > LONGEST_INDEXED_OCCURRENCE:
            indexable = False
            return False
        fbtype = current_type[0]
        cursor = start
        while True:
            piece = (cursor, min(cursor + OCCURRENCE_PIECE, end))
            known = pieces.get(piece)
            if known is None or _FBTYPE_RANK[fbtype] > _FBTYPE_RANK[known]:
                pieces[piece] = fbtype
            cursor += OCCURRENCE_PIECE
            if cursor >= end:
                break
        return len(pieces) > max_occurrences

    def range_fn(start: datetime, end: datetime, is_recurrence: bool) -> bool:
        nonlocal span_start, span_end, indexed_until, indexable
        start, end = to_utc(start), to_utc(end)
        if infinite and not is_recurrence and start >= limit:
            # The main rule runs in ascending order: everything before is indexed.
            indexed_until = start
            return True
        if span_start is None or start < span_start:
            span_start = start
        if span_end is None or span_end < end:
            span_end = end
        if indexable and add(start, end):
            # Out of room: what is stored stays correct, the rest goes by span.
            span_end = DATETIME_MAX
            if is_recurrence:
                # The main component was not visited yet: nothing is known about it.
                indexed_until = span_start = DATETIME_MIN
            else:
                indexed_until = start
            return True
        return False

    def infinity_fn(start: datetime) -> bool:
        nonlocal infinite, span_start, limit
        infinite = True
        start = to_utc(start)
        limit = max(now, start) + horizon
        if span_start is None or start < span_start:
            span_start = start
        return False

    def component_fn(component: Any) -> bool:
        current_type[0] = fbtype_of(component) if component_name == "VEVENT" else BUSY
        return True

    try:
        radicale_filter.visit_time_ranges(
            vobject_item, component_name, range_fn, infinity_fn, component_fn
        )
    except Exception as error:  # vobject and dateutil raise many kinds
        raise InvalidCalendarData(f"cannot evaluate the object's dates: {error}") from error
    if infinite:
        span_end = DATETIME_MAX
    if not indexable:
        pieces.clear()
        indexed_until = DATETIME_MIN
    ordered = sorted(pieces)
    return TimeIndex(
        span_start if span_start is not None else DATETIME_MIN,
        span_end if span_end is not None else DATETIME_MAX,
        tuple(ordered),
        indexed_until,
        tuple(pieces[piece] for piece in ordered),
    )


def parse_calendar_object(
    text: str,
    *,
    tag: str = "VCALENDAR",
    max_occurrences: int,
    now: datetime,
    horizon: timedelta = DEFAULT_INDEX_HORIZON,
) -> CalendarObject:
    """Parse and validate one object as Radicale does for a PUT.

    ``tag`` is the collection's (``VCALENDAR`` or ``VADDRESSBOOK``). The stored text
    is Radicale's serialization of the parsed object, so etags agree with what
    Radicale itself would compute. Raises :class:`InvalidCalendarData`.
    """
    try:
        vobject_items = radicale_item.read_components(text)
    except Exception as error:
        raise InvalidCalendarData(f"the text is not valid iCalendar: {error}") from error
    try:
        radicale_item.check_and_sanitize_items(
            vobject_items, max_vevent_rrule_occurrence=max_occurrences, tag=tag
        )
        (vobject_item,) = vobject_items
        item = radicale_item.Item(collection_path="-", vobject_item=vobject_item)
    except InvalidCalendarData:
        raise
    except Exception as error:
        raise InvalidCalendarData(str(error)) from error
    return calendar_object_from_item(
        item, max_occurrences=max_occurrences, now=now, horizon=horizon
    )


def calendar_object_from_item(
    item: radicale_item.Item,
    *,
    max_occurrences: int,
    now: datetime,
    horizon: timedelta = DEFAULT_INDEX_HORIZON,
) -> CalendarObject:
    """A :class:`CalendarObject` from a Radicale item that Radicale already validated
    (the plugin's path: no second parse)."""
    try:
        text = item.serialize()
        uid = item.uid
        object_name = item.name
        component_name = item.component_name
        vobject_item = item.vobject_item
    except Exception as error:
        raise InvalidCalendarData(f"cannot read the object: {error}") from error
    if len(uid.encode()) > MAX_UID_LENGTH:
        raise InvalidCalendarData(f"the UID is longer than {MAX_UID_LENGTH} bytes")
    if object_name == "VCALENDAR" and not uid:
        raise InvalidCalendarData("the calendar object has no UID")
    time_index = compute_time_index(
        vobject_item, component_name, max_occurrences=max_occurrences, now=now, horizon=horizon
    )
    return CalendarObject(
        text=text,
        etag=radicale_item.get_etag(text),
        uid=uid,
        object_name=object_name,
        component_name=component_name,
        time_index=time_index,
        size=len(text.encode()),
    )


def single_event_object(
    text: str, uid: str, start: datetime, end: datetime, *, fbtype: str = BUSY
) -> CalendarObject:
    """A :class:`CalendarObject` for a one-off VEVENT the platform built itself (a
    booking), without parsing it: its only occurrence is ``[start, end)``.

    The booking path writes one such event per booking; parsing our own output
    with vobject again cost a third of a booking's time. Only for text from
    :mod:`booking.core.ical` builders (one VEVENT, no recurrence, shorter
    than :data:`LONGEST_INDEXED_OCCURRENCE`); anything from outside goes through
    :func:`parse_calendar_object`. ``fbtype`` is what its STATUS and TRANSP mean
    for free-busy (:func:`fbtype_of`).
    """
    start, end = to_utc(start), to_utc(end)
    if not uid or len(uid.encode()) > MAX_UID_LENGTH or not start < end:
        raise InvalidCalendarData("a platform event needs a UID and a positive duration")
    if end - start > LONGEST_INDEXED_OCCURRENCE:
        raise InvalidCalendarData("a platform event is too long to index directly")
    pieces = []
    cursor = start
    while cursor < end:
        pieces.append((cursor, min(cursor + OCCURRENCE_PIECE, end)))
        cursor += OCCURRENCE_PIECE
    return CalendarObject(
        text=text,
        etag=radicale_item.get_etag(text),
        uid=uid,
        object_name="VCALENDAR",
        component_name="VEVENT",
        time_index=TimeIndex(start, end, tuple(pieces), DATETIME_MAX, (fbtype,) * len(pieces)),
        size=len(text.encode()),
    )


def is_safe_href(href: str) -> bool:
    """Whether ``href`` can name an item here and, after export, a file."""
    return (
        len(href) <= 255
        and pathutils.is_safe_filesystem_path_component(href)
        and all(ord(c) >= 32 for c in href)
    )


def default_href(uid: str, suffix: str = ".ics") -> str:
    """The href Radicale's file storage would choose for ``uid`` (``<uid>.ics`` when safe)."""
    candidate = uid if uid.lower().endswith(suffix) else uid + suffix
    if is_safe_href(candidate):
        return candidate
    return radicale_item.get_etag(uid).strip('"') + suffix
