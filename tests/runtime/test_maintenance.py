"""Periodic maintenance keeps both calendar indexes ahead of time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from booking.busy_index import EXPANSION_AHEAD
from booking.models import CalendarItemExpansion
from caldav_server.models import DavItem
from caldav_server.store import CalendarStore
from consult.db import utcnow
from runtime.maintenance import run_maintenance

WEEKLY = (
    "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\nBEGIN:VEVENT\nUID:weekly\n"
    "DTSTAMP:20260101T000000Z\nDTSTART:20260105T090000Z\nDTEND:20260105T100000Z\n"
    "RRULE:FREQ=WEEKLY\nSUMMARY:Standing meeting\nEND:VEVENT\nEND:VCALENDAR\n"
)


def test_maintenance_extends_the_dav_index_and_busy_time(
    platform: Any, database: Any, make_user: Any
) -> None:
    pro = make_user(role="professional")
    with database.session() as session:
        store = CalendarStore(session)
        store.create_calendar(f"{pro.principal}/work", {"D:displayname": "Work"})
        store.put_item(f"{pro.principal}/work", WEEKLY, actor=f"dav:{pro.principal}")
    later = utcnow() + timedelta(days=3 * 365)

    result = run_maintenance(platform, now=later)

    assert result["calendar items re-indexed"] >= 1
    assert result["professionals' busy time extended"] == 1
    with database.session() as session:
        indexed_until = session.scalar(select(DavItem.indexed_until).where(DavItem.uid == "weekly"))
        expanded_until = session.scalar(select(CalendarItemExpansion.expanded_until))
    assert indexed_until is not None and indexed_until > later + timedelta(days=365)
    assert expanded_until is not None and expanded_until >= later + EXPANSION_AHEAD - timedelta(
        days=1
    )
    # Nothing is left to do right after.
    assert set(run_maintenance(platform, now=later).values()) == {0}
