"""Free-busy time of a calendar from the occurrence index, without parsing.

A ``free-busy-query`` REPORT (RFC 4791 7.10) asks when a calendar is busy. Radicale
answers it by parsing every candidate event; the index already holds each
occurrence piece with the free-busy type Radicale would give it
(:func:`caldav_server.spans.fbtype_of`), so the answer is one indexed query. Only
items whose occurrences in the window are not all known (unbounded rules past the
index horizon, events too long to index, pieces stored before types were kept)
are handed back as text, for the caller to evaluate the way Radicale does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from caldav_server.models import DATETIME_MIN, OCCURRENCE_PIECE, DavItem, DavOccurrence
from caldav_server.spans import NOT_BUSY

Period = tuple[datetime, datetime, str]


@dataclass(frozen=True)
class FreeBusy:
    """``periods`` (start, end, FBTYPE) clipped to the window, from the index;
    ``unindexed`` the texts of the VEVENT items still to be evaluated by parsing."""

    periods: list[Period]
    unindexed: list[str]


def indexed_free_busy(
    session: Session, collection_id: int, start: datetime, end: datetime
) -> FreeBusy:
    """The busy periods of the collection's VEVENT items in [start, end).

    ``start`` and ``end`` are aware UTC datetimes with ``start < end``. Transparent
    occurrences are left out; cancelled ones come back as ``FREE``, as Radicale's
    own REPORT answers.
    """
    lowest = start - OCCURRENCE_PIECE if start > DATETIME_MIN + OCCURRENCE_PIECE else DATETIME_MIN
    rows = session.execute(
        select(
            DavOccurrence.item_id,
            DavOccurrence.starts_at,
            DavOccurrence.ends_at,
            DavOccurrence.fbtype,
        )
        .join(DavItem, DavItem.id == DavOccurrence.item_id)
        .where(
            DavOccurrence.collection_id == collection_id,
            DavOccurrence.starts_at > lowest,
            DavOccurrence.starts_at < end,
            DavOccurrence.ends_at > start,
            DavItem.component_name == "VEVENT",
        )
    ).all()
    partial = set(
        session.scalars(
            select(DavItem.id).where(
                DavItem.collection_id == collection_id,
                DavItem.component_name == "VEVENT",
                DavItem.indexed_until < end,
                DavItem.span_start < end,
                DavItem.span_end > start,
            )
        )
    )
    partial.update(row.item_id for row in rows if row.fbtype is None)
    periods: list[Period] = []
    for row in rows:
        if row.item_id in partial or row.fbtype == NOT_BUSY:
            continue
        clipped_start, clipped_end = max(row.starts_at, start), min(row.ends_at, end)
        if clipped_start < clipped_end:
            periods.append((clipped_start, clipped_end, row.fbtype))
    texts: list[str] = []
    if partial:
        texts = list(session.scalars(select(DavItem.text).where(DavItem.id.in_(sorted(partial)))))
    return FreeBusy(periods, texts)
