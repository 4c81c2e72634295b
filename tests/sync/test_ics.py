"""ICS subscriptions served by a local HTTP server: Google-style and Outlook-style
feeds, conditional GET, and everything that can go wrong with a feed."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from caldav_server.store import CalendarStore
from sync import tasks
from sync.models import ExternalCalendar
from tests.factories import at, next_weekday, setup_professional
from tests.sync.helpers import (
    connect,
    get_connection,
    slot_times,
    sync_now,
    vcalendar,
    vevent,
    wait_for,
)
from tests.sync.servers.ics import IcsServer

BERLIN = ZoneInfo("Europe/Berlin")
GRID = ["09:00", "09:50", "10:40", "11:30", "12:20", "13:10", "14:00", "14:50", "15:40"]


def free_slots(day: date, *busy: tuple[datetime, datetime]) -> list[str]:
    """The 50-minute grid from 09:00 Berlin without the slots overlapping ``busy``."""
    free = []
    for clock in GRID:
        start = at(day, clock)
        end = start + timedelta(minutes=50)
        if not any(start < b_end and b_start < end for b_start, b_end in busy):
            free.append(clock)
    return free


def test_google_and_outlook_style_feeds_block_the_right_local_times(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    # Google's export: X-WR-TIMEZONE names the zone of floating times.
    new_york = datetime(day.year, day.month, day.day, 5, 0, tzinfo=ZoneInfo("America/New_York"))
    ics.publish(
        "google",
        vcalendar(
            vevent("g1", f"DTSTART:{new_york:%Y%m%dT%H%M%S}", f"DTEND:{new_york:%Y%m%d}T060000"),
            headers=["X-WR-CALNAME:Family", "X-WR-TIMEZONE:America/New_York"],
        ),
    )
    # Outlook's export: Windows zone names, and a custom VTIMEZONE for the same rules.
    ics.publish(
        "outlook",
        vcalendar(
            vevent(
                "o1",
                f"DTSTART;TZID=W. Europe Standard Time:{day:%Y%m%d}T140000",
                f"DTEND;TZID=W. Europe Standard Time:{day:%Y%m%d}T143000",
            ),
            vevent(
                "o2",
                f'DTSTART;TZID="Customized Time Zone":{day:%Y%m%d}T160000',
                f'DTEND;TZID="Customized Time Zone":{day:%Y%m%d}T163000',
                extra=["RRULE:FREQ=DAILY;COUNT=2"],
            ),
            headers=[
                "BEGIN:VTIMEZONE",
                "TZID:Customized Time Zone",
                "BEGIN:STANDARD",
                "DTSTART:16010101T030000",
                "TZOFFSETFROM:+0200",
                "TZOFFSETTO:+0100",
                "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10",
                "END:STANDARD",
                "BEGIN:DAYLIGHT",
                "DTSTART:16010101T020000",
                "TZOFFSETFROM:+0100",
                "TZOFFSETTO:+0200",
                "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
                "END:DAYLIGHT",
                "END:VTIMEZONE",
            ],
        ),
    )
    family = connect(client, headers, kind="ics", url=ics.url("google"))
    work = connect(client, headers, kind="ics", url=ics.url("outlook"))
    assert family["status"] == "ok" and family["name"] == "ICS — Family"
    assert work["status"] == "ok", work
    nine_to_ten_ny = (new_york, new_york + timedelta(hours=1))
    assert slot_times(client, service["id"], day) == free_slots(
        day,
        nine_to_ten_ny,
        (at(day, "14:00"), at(day, "14:30")),
        (at(day, "16:00"), at(day, "16:30")),
    )


def test_conditional_get_and_unchanged_feeds_cost_no_writes(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(3)
    ics.publish("feed", vcalendar(vevent("a", at(day, "09:00"), at(day, "10:00"))))
    ics.publish("plain", vcalendar(vevent("b", at(day, "12:00"), at(day, "13:00"))))
    ics.feeds["plain"].conditional = False  # a server without ETag or Last-Modified
    feed = connect(client, headers, kind="ics", url=ics.url("feed"))
    plain = connect(client, headers, kind="ics", url=ics.url("plain"))
    assert ics.count("feed", 200) == 1 and feed["mirror"]["events"] == 1

    again = sync_now(client, headers, feed["id"])
    assert ics.count("feed", 304) == 1, ics.requests
    assert again["status"] == "ok" and again["last_sync_at"] > feed["last_sync_at"]

    with database.session() as session:
        path = plain["mirror"]["path"].strip("/").removeprefix("dav/")
        before = CalendarStore(session).sync_token(path)
    sync_now(client, headers, plain["id"])
    assert ics.count("plain", 200) == 2
    with database.session() as session:
        assert CalendarStore(session).sync_token(path) == before  # same body: nothing written

    # A change upstream: a new ETag, a full download, the new time blocked.
    ics.publish("feed", vcalendar(vevent("a", at(day, "15:00"), at(day, "16:00"))))
    moved = sync_now(client, headers, feed["id"])
    assert ics.count("feed", 200) == 2 and moved["mirror"]["events"] == 1
    assert "09:00" in slot_times(client, service["id"], day)
    assert "15:40" not in slot_times(client, service["id"], day)


def test_feed_behind_a_password(client: Any, database: Any, make_user: Any, ics: IcsServer) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    ics.publish("private", vcalendar(vevent("p", at(next_weekday(1), "10:00"))))
    ics.feeds["private"].credentials = ("maya", "feed-password")
    refused = connect(
        client, headers, kind="ics", url=ics.url("private"), username="maya", password="wrong"
    )
    assert refused["status"] == "error" and "HTTP 401" in refused["last_error"]
    accepted = connect(
        client,
        headers,
        kind="ics",
        url=ics.url("private"),
        username="maya",
        password="feed-password",
    )
    assert accepted["status"] == "ok" and accepted["mirror"]["events"] == 1
    assert accepted["username"] == "maya" and "password" not in accepted


def test_a_broken_feed_is_recorded_and_the_mirror_kept(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(2)
    ics.publish("feed", vcalendar(vevent("a", at(day, "10:00"), at(day, "11:00"))))
    feed = connect(client, headers, kind="ics", url=ics.url("feed"))
    blocked = slot_times(client, service["id"], day)
    assert "10:40" not in blocked

    for body, message in [
        ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage", "not valid iCalendar"),
        ("<!doctype html><html><body>Sign in</body></html>", "web page"),
        ("", "no calendar"),
    ]:
        ics.publish("feed", body)
        failed = sync_now(client, headers, feed["id"])
        assert failed["status"] == "error" and message in failed["last_error"], failed
        assert failed["mirror"]["events"] == 1
        assert slot_times(client, service["id"], day) == blocked
    assert failed["failure_count"] == 3

    ics.publish("feed", vcalendar(vevent("a", at(day, "10:00"), at(day, "11:00"))))
    recovered = sync_now(client, headers, feed["id"])
    assert recovered["status"] == "ok" and recovered["last_error"] is None
    assert recovered["failure_count"] == 0


@pytest.mark.parametrize(
    "sync_overrides", [{"max_events": "50", "max_feed_bytes": "60000"}], indirect=True
)
def test_huge_feeds_and_absurd_events_are_bounded(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(4)
    good = vevent("good", at(day, "11:30"), at(day, "12:00"))
    ics.publish(
        "odd",
        vcalendar(
            good,
            vevent(
                "every-second",
                at(day, "09:00"),
                at(day, "09:00") + timedelta(seconds=1),
                extra=["RRULE:FREQ=SECONDLY"],
            ),
            vevent(
                "mars",
                f"DTSTART;TZID=Mars/Olympus:{day:%Y%m%d}T140000",
                f"DTEND;TZID=Mars/Olympus:{day:%Y%m%d}T150000",
            ),
            vevent("backwards", at(day, "13:00"), at(day, "12:00")),
            vevent(
                "count",
                at(day, "16:00"),
                at(day, "16:05"),
                extra=["RRULE:FREQ=HOURLY;COUNT=100000"],
            ),
        ),
    )
    started = time.monotonic()
    odd = connect(client, headers, kind="ics", url=ics.url("odd"))
    assert time.monotonic() - started < 60
    assert odd["status"] == "warning", odd
    assert "FREQ=SECONDLY" in odd["warning"]
    assert "not valid iCalendar" in odd["warning"]
    assert "recurs too many times" in odd["warning"]
    assert "Unknown time zone Mars/Olympus" in odd["warning"]
    # The good event and the one in an unknown zone (read in the professional's zone)
    # block their time; the absurd ones block nothing.
    assert slot_times(client, service["id"], day) == free_slots(
        day, (at(day, "11:30"), at(day, "12:00")), (at(day, "14:00"), at(day, "15:00"))
    )

    many = "".join(vevent(f"e{i}", at(day, "09:00") + timedelta(days=i)) for i in range(60))
    ics.publish("many", vcalendar(many))
    too_many = connect(client, headers, kind="ics", url=ics.url("many"))
    assert too_many["status"] == "error" and "more than 50 events" in too_many["last_error"]
    ics.publish("big", vcalendar(vevent("big", at(day, "09:00"), extra=["X-PAD:" + "x" * 70000])))
    too_big = connect(client, headers, kind="ics", url=ics.url("big"))
    assert too_big["status"] == "error" and "more than 0.06 MB" in too_big["last_error"]
    assert too_big["mirror"]["events"] == 0


@pytest.mark.parametrize("sync_overrides", [{"request_timeout_seconds": "2"}], indirect=True)
def test_failing_calendars_do_not_block_the_others(
    platform: Any, client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    """A 5xx, a timeout and a healthy feed, synced together by the dispatcher."""
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    ics.publish("healthy", vcalendar(vevent("h", at(day, "10:00"), at(day, "11:00"))))
    ics.publish("down", vcalendar(), status=503)
    ics.publish("slow", vcalendar(), delay=6)
    ids = {}
    for name in ("healthy", "down", "slow"):
        response = client.post(
            "/api/v1/external-calendars",
            json={"kind": "ics", "url": ics.url(name)},
            headers=headers,
        )
        ids[name] = response.get_json()["id"]
    results = {
        name: wait_for(
            lambda i=i: (c := get_connection(client, headers, i))["last_attempt_at"] and c
        )
        for name, i in ids.items()
    }
    assert results["healthy"]["status"] == "ok" and results["healthy"]["mirror"]["events"] == 1
    assert results["down"]["status"] == "error" and "HTTP 503" in results["down"]["last_error"]
    assert results["slow"]["status"] == "error" and "in time" in results["slow"]["last_error"]
    for name in ("down", "slow"):
        result = results[name]
        retry = datetime.fromisoformat(result["next_sync_at"])
        attempt = datetime.fromisoformat(result["last_attempt_at"])
        assert timedelta(seconds=30) <= retry - attempt <= timedelta(minutes=2)  # backoff

    # The dispatcher picks up what is due, and a second failure waits longer.
    with database.session() as session:
        for connection_id in ids.values():
            row = session.get(ExternalCalendar, connection_id)
            assert row is not None
            row.next_sync_at = row.last_attempt_at
    assert tasks.dispatch_due_job(platform) == 3
    down = wait_for(
        lambda: (c := get_connection(client, headers, ids["down"]))["failure_count"] == 2 and c
    )
    retry = datetime.fromisoformat(down["next_sync_at"])
    attempt = datetime.fromisoformat(down["last_attempt_at"])
    assert timedelta(seconds=90) <= retry - attempt <= timedelta(minutes=3)
    wait_for(lambda: get_connection(client, headers, ids["slow"])["failure_count"] == 2)
    assert get_connection(client, headers, ids["healthy"])["status"] == "ok"


def test_a_failure_while_writing_the_mirror_is_recorded_and_rolled_back(
    client: Any, database: Any, make_user: Any, ics: IcsServer, monkeypatch: Any
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(3)
    ics.publish("feed", vcalendar(vevent("a", at(day, "09:00"), at(day, "10:00"))))
    feed = connect(client, headers, kind="ics", url=ics.url("feed"))
    ics.publish("feed", vcalendar(vevent("a", at(day, "13:00"), at(day, "14:00"))))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("sync.syncing.apply_changes", broken)
    failed = sync_now(client, headers, feed["id"])
    assert failed["status"] == "error" and "unexpected error" in failed["last_error"]
    assert "09:00" not in slot_times(client, service["id"], day)  # the old mirror is intact
    monkeypatch.undo()
    recovered = sync_now(client, headers, feed["id"])
    assert recovered["status"] == "ok"
    assert "09:00" in slot_times(client, service["id"], day)
    assert "13:10" not in slot_times(client, service["id"], day)
