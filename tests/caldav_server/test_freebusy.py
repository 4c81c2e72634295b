"""Free-busy REPORTs answered from the occurrence index say what Radicale says.

Generated calendars (seeded, so a failure reproduces) go into Radicale's file
storage and into ours behind our WSGI app; the same free-busy-query windows go to
both. The events mix what changes a free-busy answer: recurrences (counted,
until, unbounded past the index horizon), EXDATEs, moved and re-statused
occurrences, TRANSPARENT, CANCELLED and TENTATIVE, all-day, floating and zoned
times, overlaps and events longer than a day."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import radicale.app.report
from sqlalchemy import create_engine, text
from werkzeug.test import Client

from plugins.app import DavApplication
from tests.caldav_server.conftest import ics_time
from tests.caldav_server.test_like_file_storage import CAL, alice_headers, radicale_app, report

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

MONTH = datetime(2030, 3, 1, tzinfo=UTC)


def _when(value: datetime, style: str) -> str:
    if style == "zoned":
        return f";TZID=Europe/Berlin:{value:%Y%m%dT%H%M%S}"
    if style == "floating":
        return f":{value:%Y%m%dT%H%M%S}"
    return f":{ics_time(value)}"


def generated_calendar(seed: int, count: int = 60) -> dict[str, str]:
    """``count`` events of every kind that matters to free-busy, by seed."""
    rng = random.Random(seed)
    objects: dict[str, str] = {}
    for number in range(count):
        uid = f"gen-{seed}-{number}"
        start = MONTH + timedelta(days=rng.randrange(31), minutes=15 * rng.randrange(96))
        all_day = rng.random() < 0.1
        style = rng.choice(["utc", "utc", "zoned", "floating"])
        length = timedelta(minutes=15 * rng.randrange(1, 13))
        if rng.random() < 0.05:
            length = timedelta(days=rng.randrange(1, 4), hours=rng.randrange(24))
        lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//gen//EN", "BEGIN:VEVENT"]
        lines += [f"UID:{uid}", "DTSTAMP:20300101T000000Z", "SUMMARY:Generated"]
        if all_day:
            lines += [
                f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
                f"DTEND;VALUE=DATE:{start + timedelta(days=rng.randrange(1, 3)):%Y%m%d}",
            ]
        else:
            lines += [f"DTSTART{_when(start, style)}", f"DTEND{_when(start + length, style)}"]
        rule = rng.choice(
            [
                "",
                "",
                "",
                "FREQ=DAILY;COUNT=6",
                "FREQ=WEEKLY;COUNT=10",
                "FREQ=WEEKLY",
                "FREQ=DAILY;INTERVAL=3",
                "UNTIL",
            ]
        )
        if rule == "UNTIL":
            until = start + timedelta(days=12)
            rule = (
                f"FREQ=DAILY;UNTIL={until:%Y%m%d}"
                if all_day
                else (f"FREQ=DAILY;UNTIL={ics_time(until)}")
            )
        if rule:
            lines.append(f"RRULE:{rule}")
        status = rng.choice(["", "", "CONFIRMED", "TENTATIVE", "CANCELLED"])
        if status:
            lines.append(f"STATUS:{status}")
        if rng.random() < 0.2:
            lines.append("TRANSP:TRANSPARENT")
        elif rng.random() < 0.2:
            lines.append("TRANSP:OPAQUE")
        overrides: list[str] = []
        if rule and not all_day:
            step = timedelta(days=1 if "DAILY" in rule and "INTERVAL" not in rule else 7)
            if "INTERVAL=3" in rule:
                step = timedelta(days=3)
            if rng.random() < 0.4:
                lines.append(f"EXDATE{_when(start + step, style)}")
            if rng.random() < 0.4:
                moved_from = start + 2 * step
                moved_to = moved_from + timedelta(hours=rng.randrange(-5, 6))
                overrides += [
                    "BEGIN:VEVENT",
                    f"UID:{uid}",
                    "DTSTAMP:20300101T000000Z",
                    f"RECURRENCE-ID{_when(moved_from, style)}",
                    f"DTSTART{_when(moved_to, style)}",
                    f"DTEND{_when(moved_to + length, style)}",
                    "SUMMARY:Moved",
                    *rng.choice(
                        [[], ["STATUS:CANCELLED"], ["TRANSP:TRANSPARENT"], ["STATUS:TENTATIVE"]]
                    ),
                    "END:VEVENT",
                ]
        lines += ["END:VEVENT", *overrides, "END:VCALENDAR"]
        objects[uid] = "\r\n".join(lines) + "\r\n"
    return objects


def twins_with(tmp_path: Path, database_url: str, objects: dict[str, str]) -> dict[str, Client]:
    apps = {
        "file": radicale_app(
            {"type": "multifilesystem", "filesystem_folder": str(tmp_path / "radicale")}
        ),
        "db": radicale_app(
            {"type": "plugins.storage", "database_url": database_url}, DavApplication
        ),
    }
    for app in apps.values():
        assert app.open(CAL, method="MKCALENDAR", headers=alice_headers()).status_code == 201
        for name, body in objects.items():
            response = app.put(
                CAL + name + ".ics",
                data=body,
                headers=alice_headers({"Content-Type": "text/calendar"}),
            )
            assert response.status_code == 201, (name, response.text)
    return apps


def free_busy(start: datetime, end: datetime) -> str:
    return (
        '<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
        f'<C:time-range start="{ics_time(start)}" end="{ics_time(end)}"/></C:free-busy-query>'
    )


WINDOWS = [
    (MONTH, MONTH + timedelta(days=31)),
    (MONTH + timedelta(days=7), MONTH + timedelta(days=14)),
    (MONTH + timedelta(days=3, hours=9), MONTH + timedelta(days=3, hours=17)),
    (MONTH + timedelta(days=30), MONTH + timedelta(days=45)),
    (MONTH - timedelta(days=30), MONTH + timedelta(days=2)),
    # Unbounded rules are indexed three years ahead: beyond that the items are parsed.
    (datetime(2034, 6, 1, tzinfo=UTC), datetime(2034, 6, 15, tzinfo=UTC)),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_free_busy_from_the_index_matches_radicale(
    tmp_path: Path, database_url: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    twins = twins_with(tmp_path, database_url, generated_calendar(seed))
    theirs = {window: report(twins["file"], free_busy(*window)) for window in WINDOWS}

    def parse_everything(*args: object, **kwargs: object) -> None:
        raise AssertionError("our app answered free-busy the slow way")

    # Radicale's own free-busy code path is out of reach: the answers come from the index.
    monkeypatch.setattr(radicale.app.report, "free_busy_report", parse_everything)
    for window in WINDOWS:
        assert report(twins["db"], free_busy(*window)) == theirs[window], window
    busy_month = report(twins["db"], free_busy(*WINDOWS[0]))["freebusy"]["text"]
    assert "FBTYPE=BUSY" in busy_month and "FBTYPE=FREE" in busy_month  # the mix is real


def test_pieces_indexed_before_types_were_kept_are_parsed(
    tmp_path: Path, database_url: str
) -> None:
    twins = twins_with(tmp_path, database_url, generated_calendar(4, count=40))
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE dav_occurrence SET fbtype = NULL"))
    engine.dispose()
    for window in WINDOWS[:3]:
        assert report(twins["db"], free_busy(*window)) == report(twins["file"], free_busy(*window))


def test_a_free_busy_query_without_a_time_range_is_400(tmp_path: Path, database_url: str) -> None:
    twins = twins_with(tmp_path, database_url, generated_calendar(5, count=3))
    body = '<?xml version="1.0"?><C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>'
    response = twins["db"].open(
        CAL, method="REPORT", data=body, headers=alice_headers({"Content-Type": "application/xml"})
    )
    assert response.status_code == 400
