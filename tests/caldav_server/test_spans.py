"""The time-range index agrees with Radicale's own time-range filter.

For any event (recurring or not, with EXDATEs and moved occurrences) and any
window: when the index says an occurrence overlaps, Radicale's filter matches
(so the storage may skip the filter), and whenever Radicale's filter matches,
the index offers the item as a candidate (so nothing is ever missed).
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from radicale import item as radicale_item
from radicale.app.report import test_filter as radicale_test_filter

from caldav_server.models import OCCURRENCE_PIECE
from caldav_server.spans import parse_calendar_object
from caldav_server.store import CalendarStore
from consult.db import Database
from tests.caldav_server.conftest import ics_time, make_event

BASE = datetime(2030, 1, 1, tzinfo=UTC)
NOW = datetime(2029, 12, 1, tzinfo=UTC)


def radicale_matches(text: str, start: datetime, end: datetime) -> bool:
    """What Radicale's REPORT filter decides for a VEVENT time-range query."""
    element = ET.fromstring(
        '<C:filter xmlns:C="urn:ietf:params:xml:ns:caldav">'
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{ics_time(start)}" end="{ics_time(end)}"/>'
        "</C:comp-filter></C:comp-filter></C:filter>"
    )
    item = radicale_item.Item(collection_path="x", text=text)
    return bool(radicale_test_filter("VCALENDAR", item, element))


def index_answer(
    pieces: Any,
    indexed_until: datetime,
    span: tuple[datetime, datetime],
    start: datetime,
    end: datetime,
) -> tuple[bool, bool]:
    """(exact, candidate) as CalendarStore.candidates decides them."""
    exact = any(s > start - OCCURRENCE_PIECE and s < end and e > start for s, e in pieces)
    fallback = indexed_until < end and span[0] < end and span[1] > start
    return exact, exact or fallback


@st.composite
def events(draw: st.DrawFn) -> str:
    start = BASE + timedelta(minutes=15 * draw(st.integers(0, 4 * 24 * 120)))
    duration = timedelta(minutes=15 * draw(st.sampled_from([0, 1, 4, 8, 96, 100, 300])))
    rule = draw(
        st.sampled_from(
            [
                None,
                "FREQ=DAILY;COUNT=5",
                "FREQ=WEEKLY;COUNT=8",
                "FREQ=WEEKLY;INTERVAL=2",
                "FREQ=DAILY",
                "FREQ=MONTHLY;COUNT=4",
                f"FREQ=WEEKLY;UNTIL={ics_time(start + timedelta(days=40))}",
            ]
        )
    )
    exdates, overrides = [], []
    if rule:
        step = timedelta(days=1 if "DAILY" in rule else 7 if "WEEKLY" in rule else 28)
        if draw(st.booleans()):
            exdates.append(start + step * draw(st.integers(1, 3)))
        if draw(st.booleans()):
            recurrence_id = start + step * 4 if "MONTHLY" not in rule else start
            shift = timedelta(hours=draw(st.integers(-72, 72)))
            overrides.append(
                (recurrence_id, recurrence_id + shift, recurrence_id + shift + duration)
            )
    return make_event(
        "e", start, start + duration, rrule=rule, exdates=exdates, overrides=overrides
    )


@settings(max_examples=150, deadline=None)
@given(text=events(), offset=st.integers(0, 24 * 150), length=st.integers(1, 24 * 40))
def test_the_index_never_misses_and_never_overclaims(text: str, offset: int, length: int) -> None:
    obj = parse_calendar_object(text, max_occurrences=5000, now=NOW, horizon=timedelta(days=90))
    start = BASE + timedelta(hours=offset)
    end = start + timedelta(hours=length)
    index = obj.time_index
    exact, candidate = index_answer(
        index.pieces, index.indexed_until, (index.span_start, index.span_end), start, end
    )
    truth = radicale_matches(obj.text, start, end)
    if exact:
        assert truth
    if truth:
        assert candidate


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_the_database_index_agrees_with_radicale(database: Database) -> None:
    rng = random.Random(20300101)
    objects = []
    for number in range(60):
        start = BASE + timedelta(minutes=15 * rng.randrange(4 * 24 * 100))
        duration = timedelta(minutes=15 * rng.choice([0, 1, 4, 96, 200]))
        rule = rng.choice([None, None, "FREQ=DAILY;COUNT=6", "FREQ=WEEKLY", "FREQ=WEEKLY;COUNT=9"])
        exdates = [start + timedelta(days=7)] if rule and rng.random() < 0.5 else []
        objects.append(
            make_event(f"e{number}", start, start + duration, rrule=rule, exdates=exdates)
        )
    with database.session() as session:
        store = CalendarStore(session, clock=lambda: NOW, index_horizon=timedelta(days=60))
        store.ensure_principal("p")
        store.create_calendar("p/c", {})
        stored = {
            store.put_item("p/c", text).href: store.get_item("p/c", f"e{n}.ics")
            for n, text in enumerate(objects)
        }
        for _ in range(40):
            start = BASE + timedelta(hours=rng.randrange(24 * 200))
            end = start + timedelta(hours=rng.choice([1, 5, 24, 24 * 7, 24 * 30]))
            found = {c.item.href: c.exact for c in store.candidates(["p/c"], start, end)}
            for href, item in stored.items():
                assert item is not None
                truth = radicale_matches(item.text, start, end)
                if truth:
                    assert href in found, (href, start, end)
                if found.get(href):
                    assert truth, (href, start, end)
