"""Where Radicale's own test suite found the plugin differing from ``multifilesystem``,
each now answered on purpose: the root collection refused with a reason, objects over
a lowered ``max_resource_size`` skipped on read, and a VTODO query with an inverted
time range answered exactly as the file storage answers it. The same Radicale runs
on both storages (``twins``) where the answers are compared."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from plugins.app import DavApplication
from tests.caldav_server.conftest import ics_time, make_event
from tests.caldav_server.test_like_file_storage import (
    CAL,
    alice_headers,
    at,
    query,
    radicale_app,
    report,
)

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

ICS = {"Content-Type": "text/calendar"}


def storages(tmp_path: Path, database_url: str) -> dict[str, dict[str, str]]:
    return {
        "file": {"type": "multifilesystem", "filesystem_folder": str(tmp_path / "radicale")},
        "db": {"type": "plugins.storage", "database_url": database_url},
    }


def apps(
    tmp_path: Path, database_url: str, max_resource_size: int = 10_000_000
) -> dict[str, Client]:
    return {
        name: radicale_app(storage, DavApplication, max_resource_size=max_resource_size)
        for name, storage in storages(tmp_path, database_url).items()
    }


def make_calendar(app: Client) -> None:
    assert app.open(CAL, method="MKCALENDAR", headers=alice_headers()).status_code == 201


def test_the_root_collection_is_neither_deleted_nor_changed(
    tmp_path: Path, database_url: str
) -> None:
    # "authenticated" rights grant RW on the root, so the request reaches the storage.
    app = radicale_app(
        storages(tmp_path, database_url)["db"], DavApplication, rights="authenticated"
    )
    make_calendar(app)
    deleted = app.delete("/", headers=alice_headers())
    assert deleted.status_code == 403
    assert "root collection cannot be deleted" in deleted.text
    proppatch = app.open(
        "/",
        method="PROPPATCH",
        headers=alice_headers({"Content-Type": "application/xml"}),
        data='<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Root</D:displayname></D:prop></D:set></D:propertyupdate>",
    )
    assert proppatch.status_code == 403
    assert "root collection has no properties" in proppatch.text
    # Nothing was lost: the calendar is still there.
    assert (
        app.open(CAL, method="PROPFIND", headers=alice_headers({"Depth": "0"})).status_code == 207
    )


def test_objects_over_a_lowered_limit_are_skipped_on_read_as_by_file_storage(
    tmp_path: Path, database_url: str
) -> None:
    big = make_event("big", at(3, 9), at(3, 10), summary="x" * 6000)
    small = make_event("small", at(3, 11), at(3, 12))
    for app in apps(tmp_path, database_url).values():
        make_calendar(app)
        for name, text in (("big", big), ("small", small)):
            response = app.put(f"{CAL}{name}.ics", data=text, headers=alice_headers(ICS))
            assert response.status_code == 201
    # The operator lowers the limit; both storages are opened again with it.
    lowered = apps(tmp_path, database_url, max_resource_size=4000)
    for app in lowered.values():
        assert app.get(f"{CAL}big.ics", headers=alice_headers()).status_code == 404
        assert app.get(f"{CAL}small.ics", headers=alice_headers()).status_code == 200
    all_events = query(
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>'
    )
    in_range = query(
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{ics_time(at(3, 0))}" end="{ics_time(at(4, 0))}"/>'
        "</C:comp-filter></C:comp-filter>"
    )
    multiget = (
        '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
        f"<D:href>{CAL}big.ics</D:href><D:href>{CAL}small.ics</D:href></C:calendar-multiget>"
    )
    for body in (all_events, in_range, multiget):
        answers = {name: report(app, body) for name, app in lowered.items()}
        assert answers["db"] == answers["file"]
        assert [href.rsplit("/", 1)[-1] for href in answers["db"]] == ["small.ics"]
    # Deliberately unlike the file storage (which answers 404): the owner can still
    # delete the object nobody can read any more.
    assert lowered["db"].delete(f"{CAL}big.ics", headers=alice_headers()).status_code == 200
    assert lowered["file"].delete(f"{CAL}big.ics", headers=alice_headers()).status_code == 404


def _todo(uid: str, created: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\n"
        f"UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nCREATED:{created}\r\n"
        f"SUMMARY:{uid}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [(at(10, 0), at(1, 0)), (at(5, 0), at(5, 0)), (at(1, 0), at(20, 0))],
    ids=["inverted", "empty", "ordinary"],
)
def test_a_vtodo_query_with_any_range_answers_as_file_storage(
    tmp_path: Path, database_url: str, start: object, end: object
) -> None:
    todos = {
        "early": _todo("early", "20300220T090000Z"),
        "late": _todo("late", "20300315T090000Z"),
        "due": make_event("due").replace("VEVENT", "VTODO").replace("DTEND", "DUE"),
    }
    twins = apps(tmp_path, database_url)
    for app in twins.values():
        make_calendar(app)
        for name, text in todos.items():
            response = app.put(f"{CAL}{name}.ics", data=text, headers=alice_headers(ICS))
            assert response.status_code == 201, response.text
    body = query(
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">'
        f'<C:time-range start="{ics_time(start)}" end="{ics_time(end)}"/>'  # type: ignore[arg-type]
        "</C:comp-filter></C:comp-filter>"
    )
    answers = {name: report(app, body) for name, app in twins.items()}
    assert answers["db"] == answers["file"]
    if start == at(10, 0):
        # A VTODO with only CREATED spans [CREATED, forever) in Radicale's filter, which
        # meets "start < span end and span start < end" when CREATED is before end.
        assert [href.rsplit("/", 1)[-1] for href in answers["db"]] == ["early.ics"]


def test_a_whole_calendar_larger_than_one_object_may_still_be_put(
    tmp_path: Path, database_url: str
) -> None:
    """The raw-body bound applies to one object; a whole calendar is bounded per item."""
    events = [make_event(f"e{n}", at(3, 9), at(3, 10), summary="y" * 400) for n in range(12)]
    calendar = (
        events[0].split("BEGIN:VEVENT")[0]
        + "".join(
            "BEGIN:VEVENT" + text.split("BEGIN:VEVENT", 1)[1].split("END:VCALENDAR")[0]
            for text in events
        )
        + "END:VCALENDAR\r\n"
    )
    assert len(calendar.encode()) > 4000
    app = apps(tmp_path, database_url, max_resource_size=4000)["db"]
    response = app.put("/alice/whole/", data=calendar, headers=alice_headers(ICS))
    assert response.status_code == 201, response.text
    listing = app.open("/alice/whole/", method="PROPFIND", headers=alice_headers({"Depth": "1"}))
    assert listing.status_code == 207
    assert listing.text.count(".ics</") == 12


@pytest.mark.parametrize("method", ["PUT", "PROPFIND", "REPORT"])
def test_a_body_in_an_unknown_charset_is_a_bad_request(
    tmp_path: Path, database_url: str, method: str
) -> None:
    """Radicale's own decoding raises LookupError on such a charset: a 500 without us."""
    app = apps(tmp_path, database_url)["db"]
    make_calendar(app)
    response = app.open(
        f"{CAL}a.ics" if method == "PUT" else CAL,
        method=method,
        data=make_event("a") if method == "PUT" else "<x/>",
        headers=alice_headers({"Content-Type": "text/calendar; charset=no-such-charset"}),
    )
    assert response.status_code == 400
    assert "Unknown charset 'no-such-charset'" in response.text
