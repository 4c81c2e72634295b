"""The plugin answers like Radicale's own file storage.

The same calendar is loaded into two Radicale apps, one on ``multifilesystem``
and one on ``plugins.storage``, and the same requests go to both: listings,
etags, time-range and free-busy REPORTs (recurrences, EXDATE, RECURRENCE-ID,
all-day, floating and zoned times, todos), multiget, expand and sync.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import radicale
from radicale import config as radicale_config
from werkzeug.test import Client

from plugins.app import DavApplication
from tests.caldav_server.conftest import ics_time, make_event

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
USER = "alice"
CAL = f"/{USER}/cal/"


def at(day: int, hour: int = 9, month: int = 3) -> datetime:
    return datetime(2030, month, day, hour, tzinfo=UTC)


def radicale_app(
    storage: dict[str, str],
    application: type[radicale.Application] = radicale.Application,
    *,
    rights: str = "owner_only",
    max_resource_size: int = 10_000_000,
) -> Client:
    """A bare Radicale (user from X-Remote-User, owner-only rights unless ``rights``
    names others) on ``storage``; ``application`` is the WSGI class (ours answers
    free-busy from the index and bounds PUT bodies before parsing)."""
    configuration = radicale_config.load()
    configuration.update(
        {
            "auth": {"type": "http_x_remote_user"},
            "rights": {"type": rights},
            "server": {"max_resource_size": str(max_resource_size)},
            "storage": storage,
            "web": {"type": "none"},
            "logging": {"level": "warning"},
        },
        "test",
        privileged=True,
    )
    return Client(application(configuration))


def calendar_objects() -> dict[str, str]:
    todo = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:todo\r\n"
        "DTSTAMP:20300101T000000Z\r\nDUE:20300305T120000Z\r\nSUMMARY:Report\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n"
    )
    floating = make_event("floating", at(4, 10), at(4, 11)).replace(
        "DTSTART:20300304T100000Z\r\nDTEND:20300304T110000Z",
        "DTSTART:20300304T100000\r\nDTEND:20300304T110000",
    )
    zoned = make_event("zoned", at(6, 10), at(6, 11), rrule="FREQ=DAILY;COUNT=5").replace(
        "DTSTART:20300306T100000Z\r\nDTEND:20300306T110000Z",
        "DTSTART;TZID=America/New_York:20300306T100000\r\n"
        "DTEND;TZID=America/New_York:20300306T110000",
    )
    all_day = make_event("all-day").replace(
        "DTSTART:20300107T090000Z\r\nDTEND:20300107T100000Z",
        "DTSTART;VALUE=DATE:20300310\r\nDTEND;VALUE=DATE:20300313",
    )
    objects = {
        "single": make_event("single", at(3, 9), at(3, 10)),
        "zero": make_event("zero", at(3, 12), at(3, 12)),
        "long": make_event("long", at(1, 0), at(28, 0)),
        "weekly": make_event(
            "weekly",
            at(2, 8),
            at(2, 9),
            rrule="FREQ=WEEKLY;COUNT=8",
            exdates=[at(9, 8)],
            overrides=[(at(16, 8), at(18, 14), at(18, 15))],
        ),
        "forever": make_event("forever", at(1, 18), at(1, 19), rrule="FREQ=DAILY;INTERVAL=3"),
        "until": make_event(
            "until", at(5, 7), at(5, 8), rrule=f"FREQ=DAILY;UNTIL={ics_time(at(12, 7))}"
        ),
        "todo": todo,
        "floating": floating,
        "zoned": zoned,
        "all-day": all_day,
    }
    for number in range(30):
        start = at(1) + timedelta(hours=7 * number)
        objects[f"bulk-{number}"] = make_event(f"bulk-{number}", start, start + timedelta(hours=1))
    return objects


@pytest.fixture
def twins(tmp_path: Path, database_url: str) -> dict[str, Client]:
    """The same calendar on the file storage and on ours."""
    apps = {
        "file": radicale_app(
            {"type": "multifilesystem", "filesystem_folder": str(tmp_path / "radicale")}
        ),
        "db": radicale_app(
            {"type": "plugins.storage", "database_url": database_url}, DavApplication
        ),
    }
    for app in apps.values():
        status = app.open(CAL, method="MKCALENDAR", headers=alice_headers()).status_code
        assert status == 201
        for name, text in calendar_objects().items():
            response = app.put(
                CAL + name + ".ics",
                data=text,
                headers=alice_headers({"Content-Type": "text/calendar"}),
            )
            assert response.status_code == 201, (name, response.text)
    return apps


def alice_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Remote-User": USER, **(extra or {})}


def report(app: Client, body: str, depth: str = "1") -> dict[str, dict[str, str]]:
    """{href: {property tag: text}} of a REPORT's multistatus (404s as status)."""
    response = app.open(
        CAL,
        method="REPORT",
        data=body,
        headers=alice_headers({"Depth": depth, "Content-Type": "application/xml"}),
    )
    assert response.status_code in (200, 207), response.text
    if response.status_code == 200:
        return {"freebusy": {"text": _freebusy_lines(response.text)}}
    result: dict[str, dict[str, str]] = {}
    for entry in ET.fromstring(response.data).findall("D:response", NS):
        href = entry.findtext("D:href", namespaces=NS) or ""
        props = {
            prop.tag: (prop.text or "")
            for prop in entry.iter()
            if prop.tag.endswith(("getetag", "calendar-data"))
        }
        props["status"] = entry.findtext("D:status", namespaces=NS) or ""
        result[href] = props
    return result


def _freebusy_lines(text: str) -> str:
    return "\n".join(sorted(line for line in text.splitlines() if line.startswith("FREEBUSY")))


def query(inner: str, props: str = "<D:getetag/><C:calendar-data/>") -> str:
    return (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f"<D:prop>{props}</D:prop><C:filter>{inner}</C:filter></C:calendar-query>"
    )


def vevent_range(start: datetime, end: datetime, extra: str = "") -> str:
    return query(
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        f'<C:time-range start="{ics_time(start)}" end="{ics_time(end)}"/>{extra}'
        "</C:comp-filter></C:comp-filter>"
    )


WINDOWS = [
    (at(1, 0), at(2, 0)),
    (
        at(
            2,
            8,
        ),
        at(2, 9),
    ),
    (at(3, 10), at(3, 12)),
    (at(3, 12), at(3, 13)),
    (at(9, 0), at(10, 0)),
    (at(16, 0), at(17, 0)),
    (at(18, 0), at(19, 0)),
    (at(4, 9), at(4, 12)),
    (at(6, 14), at(6, 16)),
    (at(11, 0), at(12, 0)),
    (at(1, 0), at(31, 0)),
    (at(1, 0, month=7), at(8, 0, month=7)),
    (at(1, 0, month=1), at(1, 0, month=2)),
]


@pytest.mark.parametrize(
    "window", WINDOWS, ids=[f"{s:%m-%d %H}h..{e:%m-%d %H}h" for s, e in WINDOWS]
)
def test_time_range_reports_match(
    twins: dict[str, Client], window: tuple[datetime, datetime]
) -> None:
    body = vevent_range(*window)
    assert report(twins["db"], body) == report(twins["file"], body)


@pytest.mark.parametrize(
    "body",
    [
        query(
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">'
            f'<C:time-range start="{ics_time(at(5, 0))}" end="{ics_time(at(6, 0))}"/>'
            "</C:comp-filter></C:comp-filter>"
        ),
        query(
            '<C:comp-filter name="VCALENDAR">'
            f'<C:time-range start="{ics_time(at(3, 0))}" end="{ics_time(at(4, 0))}"/>'
            "</C:comp-filter>"
        ),
        vevent_range(
            at(1, 0),
            at(8, 0),
            '<C:prop-filter name="SUMMARY"><C:text-match>moved</C:text-match></C:prop-filter>',
        ),
        query('<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter>'),
        query(
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{ics_time(at(20, 0))}"/></C:comp-filter></C:comp-filter>'
        ),
        query('<C:comp-filter name="VCALENDAR"/>'),
        query(
            '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{ics_time(at(2, 0))}" end="{ics_time(at(20, 0))}"/>'
            "</C:comp-filter></C:comp-filter>",
            props=f'<C:calendar-data><C:expand start="{ics_time(at(2, 0))}" '
            f'end="{ics_time(at(20, 0))}"/></C:calendar-data>',
        ),
        '<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<C:time-range start="{ics_time(at(1, 0))}" end="{ics_time(at(20, 0))}"/>'
        "</C:free-busy-query>",
        '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        f"</D:prop><D:href>{CAL}single.ics</D:href><D:href>{CAL}missing.ics</D:href>"
        f"<D:href>{CAL}weekly.ics</D:href></C:calendar-multiget>",
    ],
    ids=[
        "todo-range",
        "calendar-level-range",
        "prop-filter",
        "all-events",
        "open-end",
        "everything",
        "expand",
        "free-busy",
        "multiget",
    ],
)
def test_other_reports_match(twins: dict[str, Client], body: str) -> None:
    assert report(twins["db"], body) == report(twins["file"], body)


def test_listings_and_etags_match(twins: dict[str, Client]) -> None:
    body = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
        "<D:getcontenttype/></D:prop></D:propfind>"
    )

    def listing(app: Client) -> dict[str, dict[str, str]]:
        response = app.open(
            CAL, method="PROPFIND", data=body, headers=alice_headers({"Depth": "1"})
        )
        assert response.status_code == 207
        result = {}
        for entry in ET.fromstring(response.data).findall("D:response", NS):
            href = entry.findtext("D:href", namespaces=NS) or ""
            if href.endswith(".ics"):  # the collection's own etag differs by design
                result[href] = {p.tag: p.text or "" for p in entry.iter() if p.text}
        return result

    assert listing(twins["db"]) == listing(twins["file"])
    assert len(listing(twins["db"])) == len(calendar_objects())


def test_sync_reports_match_after_changes(twins: dict[str, Client]) -> None:
    def sync(app: Client, token: str = "") -> tuple[str, set[tuple[str, str]]]:
        body = (
            '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>"
        )
        response = app.open(CAL, method="REPORT", data=body, headers=alice_headers())
        assert response.status_code == 207
        root = ET.fromstring(response.data)
        entries = {
            (
                e.findtext("D:href", namespaces=NS) or "",
                (e.findtext("D:status", namespaces=NS) or "HTTP/1.1 200 OK").split()[1],
            )
            for e in root.findall("D:response", NS)
        }
        return root.findtext("D:sync-token", namespaces=NS) or "", entries

    tokens = {name: sync(app)[0] for name, app in twins.items()}
    change: Callable[[Client], Any]
    for change in (
        lambda app: app.delete(CAL + "single.ics", headers=alice_headers()),
        lambda app: app.put(
            CAL + "weekly.ics",
            data=make_event("weekly", at(2, 8)),
            headers=alice_headers({"Content-Type": "text/calendar"}),
        ),
        lambda app: app.put(
            CAL + "new.ics",
            data=make_event("new"),
            headers=alice_headers({"Content-Type": "text/calendar"}),
        ),
    ):
        for app in twins.values():
            assert change(app).status_code in (200, 201, 204)
    db_changes = sync(twins["db"], tokens["db"])[1]
    assert db_changes == sync(twins["file"], tokens["file"])[1]
    assert {href.rsplit("/", 1)[-1] for href, _ in db_changes} == {
        "single.ics",
        "weekly.ics",
        "new.ics",
    }
