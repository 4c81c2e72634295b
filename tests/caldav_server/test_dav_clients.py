"""The storage seen through real CalDAV clients over HTTP, on PostgreSQL and SQLite:
the ``caldav`` library for what calendar apps do, raw WebDAV requests where the
exact status or body matters."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from caldav.elements import dav, ical

from caldav_server.errors import StoreError
from caldav_server.store import (
    CalendarStore,
)
from consult.db import Database
from consult.hookspecs import CalendarItemChanged
from tests.caldav_server.conftest import DavUser, ics_time, make_event
from tests.helpers import listening_to_calendar_writes

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}


def at(day: int, hour: int = 9, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, tzinfo=UTC)


def time_range_report(
    user: DavUser, start: datetime, end: datetime, calendar: str = "bookings"
) -> set[str]:
    """Hrefs a calendar-query REPORT with a VEVENT time range returns."""
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{ics_time(start)}" end="{ics_time(end)}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
    response = user.request(
        "REPORT", user.calendar_url(calendar), body, Depth="1", Content_Type="application/xml"
    )
    assert response.status_code == 207, response.text
    return {
        href.text.rsplit("/", 1)[-1]
        for href in ET.fromstring(response.content).findall("D:response/D:href", NS)
        if href.text
    }


def sync_report(user: DavUser, token: str = "") -> tuple[int, str, dict[str, int]]:
    """(status, new token, {href: item status}) of a sync-collection REPORT."""
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""
    response = user.request("REPORT", user.calendar_url(), body, Content_Type="application/xml")
    if response.status_code != 207:
        return response.status_code, response.text, {}
    root = ET.fromstring(response.content)
    items: dict[str, int] = {}
    for entry in root.findall("D:response", NS):
        href = entry.findtext("D:href", namespaces=NS) or ""
        status = (
            entry.findtext("D:status", namespaces=NS)
            or entry.findtext("D:propstat/D:status", namespaces=NS)
            or ""
        )
        items[href.rsplit("/", 1)[-1]] = int(status.split()[1])
    return 207, root.findtext("D:sync-token", namespaces=NS) or "", items


def stored_uids(database: Database, user: DavUser, calendar: str = "bookings") -> list[str]:
    with database.session() as session:
        return sorted(
            item.uid or ""
            for item in CalendarStore(session).list_items(f"{user.principal}/{calendar}")
        )


# --- discovery, CRUD, properties ----------------------------------------------------------


def test_the_client_finds_the_principal_and_its_calendars(dav_user: DavUser) -> None:
    principal = dav_user.client().principal()
    names = sorted(calendar.get_display_name() for calendar in principal.calendars())
    assert names == ["Availability", "Bookings"]


def test_create_read_update_delete(dav_user: DavUser, database: Database) -> None:
    calendar = dav_user.calendar()
    event = calendar.add_event(make_event("crud-1", at(7), summary="Intake"))
    assert [e.url.path.rsplit("/", 1)[-1] for e in calendar.events()] == ["crud-1.ics"]

    fetched = calendar.event_by_uid("crud-1")
    assert fetched.icalendar_component["SUMMARY"] == "Intake"

    fetched.icalendar_component["SUMMARY"] = "Follow-up"
    fetched.save()
    assert calendar.event_by_uid("crud-1").icalendar_component["SUMMARY"] == "Follow-up"

    event.delete()
    assert calendar.events() == []
    assert stored_uids(database, dav_user) == []


def test_etags_and_ctag_follow_changes(dav_user: DavUser) -> None:
    first = dav_user.put("e.ics", make_event("e"))
    assert first.status_code == 201
    unchanged = dav_user.request("GET", dav_user.calendar_url() + "e.ics")
    assert unchanged.headers["ETag"] == first.headers["ETag"]
    ctag_before = _ctag(dav_user)
    # A conditional update with a stale etag is refused; with the right one it succeeds.
    assert (
        dav_user.put("e.ics", make_event("e", summary="2"), If_Match='"stale"').status_code == 412
    )
    second = dav_user.put("e.ics", make_event("e", summary="2"), If_Match=first.headers["ETag"])
    assert second.status_code == 204
    assert second.headers["ETag"] != first.headers["ETag"]
    assert _ctag(dav_user) != ctag_before
    assert dav_user.put("e.ics", make_event("e"), If_None_Match="*").status_code == 412


def _ctag(user: DavUser) -> str:
    body = """<?xml version="1.0"?><D:propfind xmlns:D="DAV:"
xmlns:CS="http://calendarserver.org/ns/"><D:prop><CS:getctag/></D:prop></D:propfind>"""
    response = user.request("PROPFIND", user.calendar_url(), body, Depth="0")
    assert response.status_code == 207
    element = ET.fromstring(response.content).find(".//{http://calendarserver.org/ns/}getctag")
    assert element is not None and element.text
    return element.text


def test_calendar_properties(dav_user: DavUser) -> None:
    principal = dav_user.client().principal()
    work = principal.make_calendar(name="Work", cal_id="work")
    work.set_properties([dav.DisplayName("Clinic work"), ical.CalendarColor("#ff0000ff")])
    again = dav_user.calendar("work")
    props = again.get_properties([dav.DisplayName(), ical.CalendarColor()])
    assert props[dav.DisplayName.tag] == "Clinic work"
    assert props[ical.CalendarColor.tag] == "#ff0000ff"
    assert "Clinic work" in [c.get_display_name() for c in principal.calendars()]

    work.add_event(make_event("w1"))
    work.delete()
    assert "Clinic work" not in [c.get_display_name() for c in principal.calendars()]
    assert dav_user.request("GET", dav_user.calendar_url("work") + "w1.ics").status_code == 404


def test_put_of_a_whole_calendar_replaces_its_items(dav_user: DavUser, database: Database) -> None:
    dav_user.put("old.ics", make_event("old"))
    two = (
        make_event("one").replace("END:VCALENDAR\r\n", "")
        + make_event("two").split("PRODID:-//consult tests//EN\r\n", 1)[1]
    )
    response = dav_user.request("PUT", dav_user.calendar_url(), two, Content_Type="text/calendar")
    assert response.status_code in (201, 204), response.text
    assert stored_uids(database, dav_user) == ["one", "two"]


# --- time ranges ---------------------------------------------------------------------------


@pytest.fixture
def week_of_sessions(dav_user: DavUser) -> DavUser:
    calendar = dav_user.calendar()
    calendar.add_event(make_event("monday", at(7, 9), at(7, 10)))
    calendar.add_event(make_event("friday", at(11, 14), at(11, 15)))
    calendar.add_event(
        make_event(
            "weekly",
            at(8, 9),
            at(8, 10),
            rrule="FREQ=WEEKLY;COUNT=6",
            exdates=[at(15, 9)],
            overrides=[(at(22, 9), at(24, 16), at(24, 17))],
        )
    )
    calendar.add_event(make_event("daily-forever", at(1, 7), at(1, 8), rrule="FREQ=DAILY"))
    return dav_user


def test_time_range_reports_follow_recurrences_and_exceptions(week_of_sessions: DavUser) -> None:
    user = week_of_sessions
    assert time_range_report(user, at(7, 0), at(8, 0)) == {"monday.ics", "daily-forever.ics"}
    assert time_range_report(user, at(8, 8), at(8, 12)) == {"weekly.ics"}
    assert time_range_report(user, at(15, 8), at(15, 12)) == set()  # EXDATE
    assert time_range_report(user, at(22, 8), at(22, 12)) == set()  # moved away ...
    assert time_range_report(user, at(24, 15), at(24, 18)) == {"weekly.ics"}  # ... to here
    assert time_range_report(user, at(1, 0, month=6), at(2, 0, month=6)) == {"daily-forever.ics"}


def test_the_caldav_library_searches_and_expands(week_of_sessions: DavUser) -> None:
    calendar = week_of_sessions.calendar()
    found = calendar.search(start=at(7, 0), end=at(14, 0), event=True, expand=True)
    starts = sorted(
        e.icalendar_component["DTSTART"].dt
        for e in found
        if e.icalendar_component["UID"] != "daily-forever"
    )
    assert starts == [at(7, 9), at(8, 9), at(11, 14)]


def test_free_busy_query(week_of_sessions: DavUser) -> None:
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
<C:time-range start="{ics_time(at(8, 0))}" end="{ics_time(at(9, 0))}"/></C:free-busy-query>"""
    response = week_of_sessions.request(
        "REPORT", week_of_sessions.calendar_url(), body, Depth="1", Content_Type="application/xml"
    )
    assert response.status_code == 200, response.text
    busy = sorted(line for line in response.text.splitlines() if line.startswith("FREEBUSY"))
    assert busy == [
        "FREEBUSY;FBTYPE=BUSY:20300108T070000Z/20300108T080000Z",
        "FREEBUSY;FBTYPE=BUSY:20300108T090000Z/20300108T100000Z",
    ]


# --- sync ------------------------------------------------------------------------------------


def test_sync_tokens_report_changes_and_deletions(dav_user: DavUser) -> None:
    calendar = dav_user.calendar()
    calendar.add_event(make_event("keep"))
    calendar.add_event(make_event("drop"))
    objects = calendar.objects_by_sync_token(load_objects=True)
    assert len(list(objects)) == 2
    token = objects.sync_token

    calendar.event_by_uid("drop").delete()
    changed = calendar.event_by_uid("keep")
    changed.icalendar_component["SUMMARY"] = "Changed"
    changed.save()
    calendar.add_event(make_event("new"))

    status, new_token, items = sync_report(dav_user, token)
    assert status == 207 and new_token != token
    assert items == {"keep.ics": 200, "drop.ics": 404, "new.ics": 200}
    assert sync_report(dav_user, new_token)[2] == {}

    updates = calendar.objects_by_sync_token(sync_token=token, load_objects=True)
    assert {o.url.path.rsplit("/", 1)[-1] for o in updates} == {"keep.ics", "drop.ics", "new.ics"}


def test_an_unknown_sync_token_gets_the_rfc_error(dav_user: DavUser) -> None:
    for token in ["urn:x-consult:sync:0000:1", "http://radicale.org/ns/sync/" + "0" * 64, "junk"]:
        status, body, _ = sync_report(dav_user, token)
        assert status == 403
        assert "valid-sync-token" in body


# --- move ----------------------------------------------------------------------------------


def test_moving_an_item(dav_user: DavUser, database: Database) -> None:
    dav_user.put("a.ics", make_event("moving", at(7)))
    _, token, _ = sync_report(dav_user)
    response = dav_user.request(
        "MOVE", dav_user.calendar_url() + "a.ics", Destination=dav_user.calendar_url() + "b.ics"
    )
    assert response.status_code == 201
    assert dav_user.request("GET", dav_user.calendar_url() + "a.ics").status_code == 404
    assert "UID:moving" in dav_user.request("GET", dav_user.calendar_url() + "b.ics").text
    assert sync_report(dav_user, token)[2] == {"a.ics": 404, "b.ics": 200}
    assert time_range_report(dav_user, at(7, 0), at(8, 0)) == {"b.ics"}

    response = dav_user.request(
        "MOVE",
        dav_user.calendar_url() + "b.ics",
        Destination=dav_user.calendar_url("availability") + "b.ics",
    )
    assert response.status_code == 201
    assert stored_uids(database, dav_user) == []
    assert stored_uids(database, dav_user, "availability") == ["moving"]
    assert time_range_report(dav_user, at(7, 0), at(8, 0), "availability") == {"b.ics"}

    # A UID that already lives in the target calendar is refused.
    dav_user.put("again.ics", make_event("moving"))
    response = dav_user.request(
        "MOVE",
        dav_user.calendar_url() + "again.ics",
        Destination=dav_user.calendar_url("availability") + "c.ics",
    )
    assert response.status_code == 409
    assert stored_uids(database, dav_user, "availability") == ["moving"]


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(dav_user: DavUser, database: Database) -> None:
    errors: list[str] = []

    def writer(number: int) -> None:
        for index in range(8):
            uid = f"w{number}-{index}"
            response = dav_user.put(f"{uid}.ics", make_event(uid, at(7) + timedelta(hours=index)))
            if response.status_code != 201:
                errors.append(f"{uid}: {response.status_code} {response.text}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(stored_uids(database, dav_user)) == 48
    assert len(sync_report(dav_user)[2]) == 48


def test_concurrent_puts_of_one_uid_store_it_once(dav_user: DavUser, database: Database) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def writer(number: int) -> None:
        barrier.wait()
        statuses.append(dav_user.put(f"copy-{number}.ics", make_event("same-uid")).status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    assert stored_uids(database, dav_user) == ["same-uid"]


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "this is not iCalendar",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VCALENDAR\r\n",
        make_event("no-uid").replace("UID:no-uid\r\n", ""),
        make_event("bad-date").replace("DTSTART:20300107T090000Z", "DTSTART:2030-13-45"),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card\r\nFN:A\r\nEND:VCARD\r\n",
        make_event("a") + make_event("b"),
    ],
    ids=["text", "unterminated", "no-uid", "bad-date", "vcard", "two-objects"],
)
def test_malformed_objects_get_400_and_nothing_is_stored(
    dav_user: DavUser, database: Database, body: str
) -> None:
    response = dav_user.put("bad.ics", body)
    assert response.status_code == 400
    assert stored_uids(database, dav_user) == []
    assert sync_report(dav_user)[2] == {}


def test_a_uid_collision_gets_409(dav_user: DavUser, database: Database) -> None:
    assert dav_user.put("first.ics", make_event("twin")).status_code == 201
    response = dav_user.put("second.ics", make_event("twin"))
    assert response.status_code == 409
    assert "no-uid-conflict" in response.text
    assert stored_uids(database, dav_user) == ["twin"]
    assert dav_user.request("GET", dav_user.calendar_url() + "second.ics").status_code == 404


def test_another_users_calendar_is_out_of_reach(dav_user: DavUser, make_user: Any) -> None:
    other = make_user(role="professional")
    url = f"{dav_user.base_url}/{other.principal}/bookings/x.ics"
    assert dav_user.request("PUT", url, make_event("x")).status_code in (403, 404)
    assert dav_user.request("GET", url).status_code in (403, 404)


# --- listeners see DAV writes -----------------------------------------------------------------


@pytest.fixture
def dav_changes(live_server: Any) -> Iterator[list[CalendarItemChanged]]:
    seen: list[CalendarItemChanged] = []

    def listener(session: Any, change: CalendarItemChanged) -> None:
        seen.append(change)

    with listening_to_calendar_writes(live_server.platform, listener):
        yield seen


def test_listeners_hear_writes_made_over_dav(
    dav_user: DavUser, dav_changes: list[CalendarItemChanged]
) -> None:
    dav_user.put("booked.ics", make_event("booked"))
    assert dav_user.request("DELETE", dav_user.calendar_url() + "booked.ics").status_code == 200
    assert [(c.kind, c.href, c.actor) for c in dav_changes] == [
        ("put", "booked.ics", f"dav:{dav_user.principal}"),
        ("delete", "booked.ics", f"dav:{dav_user.principal}"),
    ]
    assert dav_changes[1].collection_path == f"{dav_user.principal}/bookings"
    assert dav_changes[1].old_text and "UID:booked" in dav_changes[1].old_text


def test_a_listener_refusing_a_dav_delete_keeps_the_event(
    live_server: Any, dav_user: DavUser, database: Database
) -> None:
    def refuse(session: Any, change: CalendarItemChanged) -> None:
        if change.kind == "delete":
            raise StoreError("booked sessions are cancelled on the booking page")

    dav_user.put("kept.ics", make_event("kept"))
    with listening_to_calendar_writes(live_server.platform, refuse):
        response = dav_user.request("DELETE", dav_user.calendar_url() + "kept.ics")
    assert response.status_code >= 400
    assert stored_uids(database, dav_user) == ["kept"]
