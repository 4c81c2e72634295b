"""CalendarStore used directly, as the booking layer uses it: in the caller's
transaction, on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from caldav_server.errors import (
    CollectionExists,
    CollectionNotFound,
    InvalidCalendarData,
    InvalidPath,
    InvalidSyncToken,
    ItemTooLarge,
    NotACalendar,
    UidConflict,
)
from caldav_server.models import DATETIME_MAX, DavCollection, DavItem, DavOccurrence
from caldav_server.store import (
    CalendarStore,
)
from consult.db import Database
from consult.hookspecs import CalendarItemChanged
from tests.caldav_server.conftest import make_event
from tests.helpers import listening_to_calendar_writes

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

CAL = "maya/bookings"
JAN = datetime(2030, 1, 7, 9, tzinfo=UTC)  # a Monday


def at(day: int, hour: int = 9, month: int = 1, year: int = 2030) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def calendar(database: Database) -> str:
    with database.session() as session:
        store = CalendarStore(session)
        store.ensure_principal("maya")
        store.create_calendar(
            CAL, {"D:displayname": "Bookings", "ICAL:calendar-color": "#2563ebff"}
        )
    return CAL


@pytest.fixture
def changes(platform: Any) -> Iterator[list[CalendarItemChanged]]:
    seen: list[CalendarItemChanged] = []

    def listener(session: Any, change: CalendarItemChanged) -> None:
        seen.append(change)

    with listening_to_calendar_writes(platform, listener):
        yield seen


def hrefs_in_range(store: CalendarStore, start: datetime, end: datetime) -> set[str]:
    return {item.href for item in store.items_in_range([CAL], start, end)}


# --- collections ---------------------------------------------------------------------


def test_calendars_and_their_properties(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        (info,) = store.list_calendars("maya")
        assert info.path == CAL
        assert info.display_name == "Bookings"
        assert info.props["tag"] == "VCALENDAR"

        store.set_props(CAL, {"D:displayname": "Sessions", "ICAL:calendar-color": None})
        assert store.get_props(CAL) == {"D:displayname": "Sessions", "tag": "VCALENDAR"}

        with pytest.raises(CollectionExists):
            store.create_calendar(CAL, {})
        with pytest.raises(CollectionNotFound):
            store.get_props("maya/nothing")
        with pytest.raises(InvalidPath):
            store.create_calendar("maya/../ken/x", {})
        assert store.collection_exists("maya")
        assert not store.collection_exists("ken")


def test_ensure_principal_is_idempotent(database: Database) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        first = store.ensure_principal("ken")
        assert store.ensure_principal("ken") == first
        with pytest.raises(InvalidPath):
            store.ensure_principal("ken/calendar")


def test_deleting_a_calendar_deletes_its_items_and_tells_listeners(
    database: Database, calendar: str, changes: list[CalendarItemChanged]
) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.put_item(CAL, make_event("one"))
        assert store.delete_collection(CAL, actor="test")
        assert not store.delete_collection(CAL)
    assert [(c.kind, c.href, c.actor) for c in changes][-1] == ("delete", "one.ics", "test")
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DavItem)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(DavOccurrence)) == 0
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(DavCollection)
                .where(DavCollection.path == CAL)
            )
            == 0
        )


# --- items ---------------------------------------------------------------------------


def test_put_get_update_delete(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        token = store.sync_token(CAL)
        created = store.put_item(CAL, make_event("sess-1", JAN, summary="First"))
        assert created.href == "sess-1.ics"
        assert created.uid == "sess-1"
        assert created.etag.startswith('"') and len(created.etag) == 66
        assert "SUMMARY:First" in created.text

        assert store.get_item(CAL, "sess-1.ics") == created
        assert store.get_item_by_uid(CAL, "sess-1") == created
        assert store.get_item(CAL, "missing.ics") is None
        assert store.sync_token(CAL) != token

        updated = store.put_item(CAL, make_event("sess-1", JAN, summary="Second"))
        assert updated.etag != created.etag
        assert store.get_item(CAL, "sess-1.ics") == updated

        assert store.delete_item(CAL, "sess-1.ics")
        assert not store.delete_item(CAL, "sess-1.ics")
        assert store.get_item(CAL, "sess-1.ics") is None
        assert store.list_items(CAL) == []


def test_a_uid_belongs_to_one_href(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.put_item(CAL, make_event("shared"), href="first.ics")
        with pytest.raises(UidConflict) as raised:
            store.put_item(CAL, make_event("shared"), href="second.ics")
        assert raised.value.href == "first.ics"
        assert [item.href for item in store.list_items(CAL)] == ["first.ics"]


@pytest.mark.parametrize(
    "text",
    [
        "not a calendar",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",  # no component (and no UID)
        make_event("x").replace("DTSTART", "DTSTART;VALUE=DATE-TIME:garbage\r\nX-A"),
        make_event("x").replace("UID:x\r\n", ""),
        make_event("a") + make_event("b"),  # two objects
        make_event("x", rrule="FREQ=DAILY;COUNT=100000"),  # beyond max_occurrences
    ],
    ids=["text", "empty", "bad-date", "no-uid", "two-objects", "too-many-occurrences"],
)
def test_invalid_calendar_data_is_refused_before_anything_is_written(
    database: Database, calendar: str, text: str
) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        with pytest.raises(InvalidCalendarData):
            store.put_item(CAL, text)
        assert store.list_items(CAL) == []


def test_size_limit(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session, max_item_size=2000)
        store.put_item(CAL, make_event("small"))
        with pytest.raises(ItemTooLarge):
            store.put_item(CAL, make_event("big", summary="x" * 3000))
        assert [item.uid for item in store.list_items(CAL)] == ["small"]


def test_wrong_places(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        with pytest.raises(NotACalendar):
            store.put_item("maya", make_event())
        with pytest.raises(CollectionNotFound):
            store.put_item("maya/none", make_event())
        with pytest.raises(InvalidPath):
            store.put_item(CAL, make_event("x"), href="../escape.ics")
        with pytest.raises(InvalidPath):
            store.put_item(CAL, make_event("x"), href=".hidden")


def test_an_unsafe_uid_gets_a_safe_href(database: Database, calendar: str) -> None:
    with database.session() as session:
        item = CalendarStore(session).put_item(CAL, make_event("a/b"))
        assert "/" not in item.href and item.href.endswith(".ics")


def test_rollback_leaves_nothing(database: Database, calendar: str) -> None:
    before = _token(database)
    with pytest.raises(RuntimeError), database.session() as session:
        store = CalendarStore(session)
        store.put_item(CAL, make_event("rolled-back"))
        raise RuntimeError("the booking failed")
    with database.session() as session:
        store = CalendarStore(session)
        assert store.list_items(CAL) == []
        assert store.items_in_range([CAL], at(1), at(31)) == []
        assert store.sync_token(CAL) == before


def _token(database: Database) -> str:
    with database.session() as session:
        return CalendarStore(session).sync_token(CAL)


def test_move_within_and_across_calendars(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.create_calendar("maya/private", {})
        store.put_item(CAL, make_event("m", JAN))
        renamed = store.move_item(CAL, "m.ics", CAL, "renamed.ics")
        assert renamed.href == "renamed.ics"
        assert [i.href for i in store.list_items(CAL)] == ["renamed.ics"]

        moved = store.move_item(CAL, "renamed.ics", "maya/private", "m.ics")
        assert moved.collection_path == "maya/private"
        assert store.list_items(CAL) == []
        assert store.items_in_range(["maya/private"], at(7), at(8)) == [
            store.get_item("maya/private", "m.ics")
        ]
        assert store.items_in_range([CAL], at(7), at(8)) == []

        store.put_item(CAL, make_event("m", JAN), href="other.ics")
        with pytest.raises(UidConflict):
            store.move_item("maya/private", "m.ics", CAL, "third.ics")


# --- listeners --------------------------------------------------------------------------


def test_listeners_see_every_write_in_the_same_transaction(
    platform: Any, database: Database, calendar: str, changes: list[CalendarItemChanged]
) -> None:
    sessions = []

    def same_session(session: Any, change: CalendarItemChanged) -> None:
        sessions.append(session)

    with listening_to_calendar_writes(platform, same_session):
        with database.session() as session:
            store = CalendarStore(session)
            store.put_item(CAL, make_event("l", summary="One"), actor="booking:7")
            store.put_item(CAL, make_event("l", summary="Two"), actor="booking:7")
            store.delete_item(CAL, "l.ics", actor="booking:8")
    kinds = [(c.kind, c.collection_path, c.href, c.uid, c.actor) for c in changes]
    assert kinds == [
        ("put", CAL, "l.ics", "l", "booking:7"),
        ("put", CAL, "l.ics", "l", "booking:7"),
        ("delete", CAL, "l.ics", "l", "booking:8"),
    ]
    assert changes[0].old_text is None and "One" in (changes[0].new_text or "")
    assert "One" in (changes[1].old_text or "") and "Two" in (changes[1].new_text or "")
    assert changes[2].new_text is None
    assert all(s is sessions[0] for s in sessions)


def test_a_failing_listener_aborts_the_write(
    platform: Any, database: Database, calendar: str
) -> None:
    def refuse(session: Any, change: CalendarItemChanged) -> None:
        raise PermissionError("booked events cannot be removed")

    with database.session() as session:
        CalendarStore(session).put_item(CAL, make_event("keep"))
    with listening_to_calendar_writes(platform, refuse):
        with pytest.raises(PermissionError), database.session() as session:
            CalendarStore(session).delete_item(CAL, "keep.ics")
    with database.session() as session:
        assert CalendarStore(session).get_item(CAL, "keep.ics") is not None


# --- time ranges ---------------------------------------------------------------------


def test_items_in_range_single_events(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.put_item(CAL, make_event("mon", at(7, 9), at(7, 10)))
        store.put_item(CAL, make_event("tue", at(8, 9), at(8, 10)))
        store.put_item(CAL, make_event("trip", at(10, 0), at(20, 0)))  # ten days
        assert hrefs_in_range(store, at(7, 0), at(8, 0)) == {"mon.ics"}
        # Touching ends do not overlap: [9, 10) and [10, 11).
        assert hrefs_in_range(store, at(7, 10), at(7, 11)) == set()
        assert hrefs_in_range(store, at(7, 9, 1), at(8, 9, 1)) == {"mon.ics"}
        # The middle of a long event is found although it started days before.
        assert hrefs_in_range(store, at(15, 12), at(15, 13)) == {"trip.ics"}
        assert hrefs_in_range(store, at(1), at(31)) == {"mon.ics", "tue.ics", "trip.ics"}


def test_items_in_range_recurring_with_exceptions(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.put_item(
            CAL,
            make_event(
                "weekly",
                at(7, 9),
                at(7, 10),
                rrule="FREQ=WEEKLY;COUNT=10",
                exdates=[at(14, 9)],
                overrides=[(at(21, 9), at(24, 15), at(24, 16))],
            ),
        )
        assert hrefs_in_range(store, at(7, 0), at(8, 0)) == {"weekly.ics"}
        assert hrefs_in_range(store, at(14, 0), at(15, 0)) == set()  # EXDATE
        assert hrefs_in_range(store, at(21, 0), at(22, 0)) == set()  # moved away ...
        assert hrefs_in_range(store, at(24, 0), at(25, 0)) == {"weekly.ics"}  # ... to here
        assert hrefs_in_range(store, at(28, 0), at(29, 0)) == {"weekly.ics"}
        # After the tenth occurrence (March 11) nothing.
        assert hrefs_in_range(store, at(12, month=3), at(1, month=4)) == set()
        assert hrefs_in_range(store, at(11, 0, month=3), at(12, 0, month=3)) == {"weekly.ics"}


def test_unbounded_rules_are_found_beyond_the_index_horizon(
    database: Database, calendar: str
) -> None:
    with database.session() as session:
        store = CalendarStore(session, index_horizon=timedelta(days=30))
        item = store.put_item(CAL, make_event("forever", at(7), at(7, 10), rrule="FREQ=WEEKLY"))
        assert item.span_end == DATETIME_MAX
        far = datetime(2090, 1, 1, tzinfo=UTC)
        # Beyond the indexed part the item is a candidate (callers expand it) ...
        candidates = store.candidates([CAL], far, far + timedelta(days=7))
        assert [(c.item.href, c.exact) for c in candidates] == [("forever.ics", False)]
        # ... and inside it, an exact answer.
        assert hrefs_in_range(store, at(14, 0), at(15, 0)) == {"forever.ics"}
        assert hrefs_in_range(store, at(15, 0), at(16, 0)) == set()
        # Reindexing later extends the horizon.
        later = CalendarStore(session, clock=lambda: far, index_horizon=timedelta(days=30))
        assert later.reindex(CAL, stale_before=far) == 1
        candidates = later.candidates([CAL], far, far + timedelta(days=7))
        assert [(c.item.href, c.exact) for c in candidates] == [("forever.ics", True)]


def test_items_in_range_all_day_and_time_zones(database: Database, calendar: str) -> None:
    all_day = make_event("holiday").replace(
        "DTSTART:20300107T090000Z\r\nDTEND:20300107T100000Z",
        "DTSTART;VALUE=DATE:20300110\r\nDTEND;VALUE=DATE:20300111",
    )
    berlin = make_event("berlin").replace(
        "DTSTART:20300107T090000Z\r\nDTEND:20300107T100000Z",
        "DTSTART;TZID=Europe/Berlin:20300107T090000\r\nDTEND;TZID=Europe/Berlin:20300107T100000",
    )
    with database.session() as session:
        store = CalendarStore(session)
        store.put_item(CAL, all_day)
        store.put_item(CAL, berlin)
        assert hrefs_in_range(store, at(10, 12), at(10, 13)) == {"holiday.ics"}
        # 09:00 in Berlin is 08:00 UTC in January.
        assert hrefs_in_range(store, at(7, 8), at(7, 9)) == {"berlin.ics"}
        assert hrefs_in_range(store, at(7, 9), at(7, 10)) == set()


def test_items_in_range_spans_several_calendars(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.create_calendar("maya/availability", {})
        store.put_item(CAL, make_event("a", at(7)))
        store.put_item("maya/availability", make_event("b", at(7)))
        found = store.items_in_range([CAL, "maya/availability"], at(7, 0), at(8, 0))
        assert sorted(i.path for i in found) == ["maya/availability/b.ics", "maya/bookings/a.ics"]
        with pytest.raises(ValueError):
            store.items_in_range([CAL], datetime(2030, 1, 7), datetime(2030, 1, 8))


# --- sync ------------------------------------------------------------------------------


def test_changes_since_includes_deletions(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.put_item(CAL, make_event("a"))
        store.put_item(CAL, make_event("b"))
        first = store.changes_since(CAL, None)
        assert sorted(c.href for c in first.changes) == ["a.ics", "b.ics"]

        store.put_item(CAL, make_event("a", summary="changed"))
        store.delete_item(CAL, "b.ics")
        store.put_item(CAL, make_event("c"))
        second = store.changes_since(CAL, first.token)
        assert {(c.href, c.deleted) for c in second.changes} == {
            ("a.ics", False),
            ("b.ics", True),
            ("c.ics", False),
        }
        assert store.changes_since(CAL, second.token).changes == []
        assert store.changes_since(CAL, second.token).token == second.token


def test_bad_sync_tokens(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        store.create_calendar("maya/other", {})
        other = store.sync_token("maya/other")
        for token in [
            "nonsense",
            "http://radicale.org/ns/sync/abc",
            other,
            store.sync_token(CAL) + "9",
        ]:
            with pytest.raises(InvalidSyncToken):
                store.changes_since(CAL, token)


def test_a_recreated_calendar_refuses_old_tokens(database: Database, calendar: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        token = store.sync_token(CAL)
        store.delete_collection(CAL)
        store.create_calendar(CAL, {})
        with pytest.raises(InvalidSyncToken):
            store.changes_since(CAL, token)


def test_pruned_history_makes_old_tokens_invalid_never_wrong(
    database: Database, calendar: str
) -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]

    def clock() -> datetime:
        return now[0]

    with database.session() as session:
        store = CalendarStore(session, clock=clock, history_max_age=timedelta(days=30))
        store.put_item(CAL, make_event("a"))
        store.put_item(CAL, make_event("b"))
        old = store.sync_token(CAL)
        store.delete_item(CAL, "a.ics")
        after_delete = store.sync_token(CAL)

        now[0] += timedelta(days=31)
        store.put_item(CAL, make_event("c"))
        recent = store.sync_token(CAL)
        store.delete_item(CAL, "b.ics")  # prunes the tombstone of a.ics

        with pytest.raises(InvalidSyncToken):
            store.changes_since(CAL, old)  # would have missed the deletion of a.ics
        assert {(c.href, c.deleted) for c in store.changes_since(CAL, after_delete).changes} == {
            ("b.ics", True),
            ("c.ics", False),
        }
        assert {(c.href, c.deleted) for c in store.changes_since(CAL, recent).changes} == {
            ("b.ics", True)
        }
