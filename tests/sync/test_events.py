"""The pure parts of calendar sync, table-driven: reading outside time zones,
normalising events for the mirror, the Google and Graph converters, URL checks,
sealed secrets, and the retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from booking.core.ical.expand import busy_intervals
from booking.core.intervals import Interval
from consult.config import load_settings
from sync.errors import CredentialsUnreadable, SourceDataError, UnsafeUrl
from sync.events import (
    ZoneReader,
    mirror_calendar_text,
    normalize_components,
    normalize_event,
)
from sync.mirror import KnownItem, compute_changes, remote_key
from sync.secrets import open_secret, seal_secret
from sync.sources.base import FetchResult, RemoteEvent
from sync.sources.google import google_event_component
from sync.sources.ics import split_feed
from sync.sources.microsoft import graph_event_component
from sync.syncing import next_run
from sync.timezones import match_zone, resolve_tzid
from sync.urls import check_url
from tests.sync.helpers import vcalendar, vevent

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tzid", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("w. europe standard time", "Europe/Berlin"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
        ("/mozilla.org/20050126_1/America/New_York", "America/New_York"),
        ('"Asia/Tokyo"', "Asia/Tokyo"),
        ("UTC", "UTC"),
        ("Coordinated Universal Time", "UTC"),
        ("Mars/Olympus", None),
        ("Customized Time Zone", None),
        ("../../etc/passwd", None),
        ("", None),
    ],
)
def test_tzids_from_the_wild(tzid: str, expected: str | None) -> None:
    zone = resolve_tzid(tzid)
    assert (zone.key if zone else None) == expected


def test_custom_vtimezones_are_matched_to_iana_zones() -> None:
    calendar = icalendar.Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:Eastern\r\n"
        "BEGIN:STANDARD\r\nDTSTART:16011104T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\n"
        "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nEND:STANDARD\r\n"
        "BEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\n"
        "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n"
        "END:VTIMEZONE\r\nEND:VCALENDAR\r\n"
    )
    custom = next(iter(calendar.walk("VTIMEZONE"))).to_tz(lookup_tzid=False)
    new_york = match_zone(custom, datetime(2030, 6, 1), [BERLIN])
    assert new_york is not None
    sample = datetime(2030, 7, 1, 12)
    assert sample.replace(tzinfo=new_york).utcoffset() == timedelta(hours=-4)
    assert datetime(2030, 1, 1, 12).replace(tzinfo=new_york).utcoffset() == timedelta(hours=-5)
    assert match_zone(ZoneInfo("Europe/Paris"), datetime(2030, 1, 1), [BERLIN]) == BERLIN


def _normalize(text: str, **options: Any) -> tuple[str, ZoneReader]:
    calendar = icalendar.Calendar.from_ical(text)
    reader = ZoneReader(
        own_zone=BERLIN,
        default_zone=str(calendar.get("X-WR-TIMEZONE") or "") or None,
        calendar=calendar,
    )
    result = normalize_components(
        list(calendar.walk("VEVENT")),
        uid="g@mirror",
        reader=reader,
        show_titles=options.get("show_titles", False),
        now=NOW,
    )
    return result, reader


def _busy(vevents: str) -> list[Interval]:
    window = Interval(NOW, NOW + timedelta(days=400))
    return busy_intervals([mirror_calendar_text([vevents], now=NOW)], window, BERLIN)


def test_only_what_blocks_time_is_kept_and_titles_are_opt_in() -> None:
    text = vcalendar(
        vevent(
            "a",
            "DTSTART;TZID=Europe/Berlin:20300107T090000",
            "DTEND;TZID=Europe/Berlin:20300107T100000",
            summary="Therapy\x07 with Jo",
            extra=[
                "LOCATION:Room 4",
                "BEGIN:VALARM",
                "TRIGGER:-PT5M",
                "END:VALARM",
                "TRANSP:OPAQUE",
                "STATUS:TENTATIVE",
                "X-SECRET:1",
            ],
        )
    )
    plain, _ = _normalize(text)
    assert "UID:g@mirror" in plain
    assert "DTSTART:20300107T080000Z" in plain  # a one-off event is stored in UTC
    for private in ("SUMMARY", "DESCRIPTION", "ATTENDEE", "LOCATION", "VALARM", "X-SECRET"):
        assert private not in plain
    assert "STATUS:TENTATIVE" in plain and "TRANSP:OPAQUE" in plain
    titled, _ = _normalize(text, show_titles=True)
    assert "SUMMARY:Therapy  with Jo" in titled  # control characters are dropped


@pytest.mark.parametrize(
    ("start", "end", "headers", "busy_utc"),
    [
        # Floating times in a Google export are in its X-WR-TIMEZONE.
        (
            "DTSTART:20300107T090000",
            "DTEND:20300107T100000",
            ["X-WR-TIMEZONE:America/New_York"],
            (datetime(2030, 1, 7, 14, tzinfo=UTC), datetime(2030, 1, 7, 15, tzinfo=UTC)),
        ),
        # Floating without a default zone: the professional's zone.
        (
            "DTSTART:20300107T090000",
            "DTEND:20300107T100000",
            [],
            (datetime(2030, 1, 7, 8, tzinfo=UTC), datetime(2030, 1, 7, 9, tzinfo=UTC)),
        ),
        # Outlook's Windows names.
        (
            "DTSTART;TZID=Tokyo Standard Time:20300107T090000",
            "DTEND;TZID=Tokyo Standard Time:20300107T100000",
            [],
            (datetime(2030, 1, 7, 0, tzinfo=UTC), datetime(2030, 1, 7, 1, tzinfo=UTC)),
        ),
        # Unknown zones: the professional's zone (and a warning, below).
        (
            "DTSTART;TZID=Mars/Olympus:20300107T090000",
            "DTEND;TZID=Mars/Olympus:20300107T100000",
            [],
            (datetime(2030, 1, 7, 8, tzinfo=UTC), datetime(2030, 1, 7, 9, tzinfo=UTC)),
        ),
        # All-day: whole local days of the professional.
        (
            "DTSTART;VALUE=DATE:20300107",
            "DTEND;VALUE=DATE:20300108",
            [],
            (datetime(2030, 1, 6, 23, tzinfo=UTC), datetime(2030, 1, 7, 23, tzinfo=UTC)),
        ),
        # DURATION instead of DTEND.
        (
            "DTSTART:20300107T090000Z",
            "DURATION:PT90M",
            [],
            (datetime(2030, 1, 7, 9, tzinfo=UTC), datetime(2030, 1, 7, 10, 30, tzinfo=UTC)),
        ),
    ],
)
def test_times_are_read_in_the_right_zone(
    start: str, end: str, headers: list[str], busy_utc: tuple[datetime, datetime]
) -> None:
    result, reader = _normalize(vcalendar(vevent("a", start, end), headers=headers))
    assert _busy(result) == [Interval(*busy_utc)]
    if "Mars" in start:
        assert "Unknown time zone Mars/Olympus" in reader.findings.summary()
    else:
        assert reader.findings.summary() == ""


def test_recurring_events_keep_their_zone_across_daylight_saving_time() -> None:
    text = vcalendar(
        vevent(
            "weekly",
            "DTSTART;TZID=W. Europe Standard Time:20300318T090000",
            "DTEND;TZID=W. Europe Standard Time:20300318T100000",
            extra=[
                "RRULE:FREQ=WEEKLY;UNTIL=20300408T090000",
                "EXDATE;TZID=W. Europe Standard Time:20300325T090000",
            ],
        ),
        vevent(
            "weekly",
            "DTSTART;TZID=W. Europe Standard Time:20300401T120000",
            "DTEND;TZID=W. Europe Standard Time:20300401T130000",
            extra=["RECURRENCE-ID;TZID=W. Europe Standard Time:20300401T090000"],
        ),
    )
    result, _ = _normalize(text)
    assert "TZID=Europe/Berlin" in result
    assert "UNTIL=20300408T070000Z" in result  # UNTIL becomes UTC (RFC 5545)
    busy = _busy(result)
    assert [b.start for b in busy] == [
        datetime(2030, 3, 18, 8, tzinfo=UTC),  # CET
        datetime(2030, 4, 1, 10, tzinfo=UTC),  # the moved one, CEST
        datetime(2030, 4, 8, 7, tzinfo=UTC),  # CEST: still 09:00 local
    ]
    assert "BEGIN:VTIMEZONE" in mirror_calendar_text([result], now=NOW)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (vevent("s", "DTSTART:20300107T090000Z", extra=["RRULE:FREQ=SECONDLY"]), "FREQ=SECONDLY"),
        (
            vevent("m", "DTSTART:20300107T090000Z", extra=["RRULE:FREQ=MINUTELY;COUNT=9"]),
            "FREQ=MINUTELY",
        ),
        (vevent("b", "DTSTART:20300107T090000Z", "DTEND:20300107T080000Z"), "not valid"),
        (vevent("f", "DTSTART:20300107T090000Z", extra=["RRULE:INTERVAL=2"]), "not valid"),
        (
            vevent(
                "i", "DTSTART:20300107T090000Z", extra=["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"]
            ),
            "not valid",
        ),
    ],
)
def test_absurd_and_invalid_events_are_skipped_with_a_reason(event: str, reason: str) -> None:
    result, reader = _normalize(vcalendar(event))
    assert result == ""
    assert reason in reader.findings.summary()
    assert "2030-01-07 09:00" in reader.findings.summary()  # named by time, not by title


def test_old_one_off_events_are_not_mirrored_but_old_series_are() -> None:
    old, _ = _normalize(
        vcalendar(vevent("o", "DTSTART:20291101T090000Z", "DTEND:20291101T100000Z"))
    )
    assert old == ""
    series, _ = _normalize(
        vcalendar(vevent("s", "DTSTART:20200101T090000Z", extra=["RRULE:FREQ=YEARLY"]))
    )
    assert "RRULE:FREQ=YEARLY" in series


def test_changes_are_computed_per_series() -> None:
    def calendar_event(uid: str, hour: int) -> list[Any]:
        text = vcalendar(vevent(uid, f"DTSTART:20300107T{hour:02d}0000Z"))
        return list(icalendar.Calendar.from_ical(text).walk("VEVENT"))

    reader = ZoneReader(own_zone=BERLIN)
    first = compute_changes(
        {},
        FetchResult(
            complete=True,
            events=[
                RemoteEvent("a", "a", "1", calendar_event("a", 9)),
                RemoteEvent("b", "b", "1", calendar_event("b", 10)),
            ],
            reader=reader,
        ),
        show_titles=False,
        now=NOW,
    )
    assert len(first.upserts) == 2 and len(first.puts) == 2 and not first.removals
    known = {item.remote_key: item for item in first.upserts}
    # "a" unchanged (no download), "b" re-sent with a new etag only, "c" gone.
    known[remote_key("c")] = KnownItem(remote_key("c"), "c", "gc", "1", "BEGIN:VEVENT...")
    second = compute_changes(
        known,
        FetchResult(
            complete=True,
            events=[
                RemoteEvent("a", "a", "1"),
                RemoteEvent("b", "b", "2", calendar_event("b", 10)),
            ],
            reader=ZoneReader(own_zone=BERLIN),
        ),
        show_titles=False,
        now=NOW,
    )
    assert second.puts == [] and second.upserts == []
    assert second.etags == {remote_key("b"): "2"}
    assert second.deletes == [remote_key("c")] and second.removals == ["gc.ics"]


def test_google_events_become_vevents() -> None:
    master = google_event_component(
        {
            "id": "abc",
            "iCalUID": "abc@google.com",
            "status": "confirmed",
            "summary": "Lesson; level 2",
            "start": {"dateTime": "2030-03-18T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2030-03-18T10:00:00+01:00", "timeZone": "Europe/Berlin"},
            "recurrence": [
                "RRULE:FREQ=WEEKLY;COUNT=4",
                "EXDATE;TZID=Europe/Berlin:20300325T090000",
            ],
            "transparency": "transparent",
        },
        "Europe/Berlin",
    )
    assert master["DTSTART"].dt == datetime(2030, 3, 18, 9, tzinfo=BERLIN)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and "EXDATE" in master
    assert str(master["SUMMARY"]) == "Lesson; level 2" and master["TRANSP"] == "TRANSPARENT"
    cancelled = google_event_component(
        {
            "id": "abc_20300401",
            "status": "cancelled",
            "recurringEventId": "abc",
            "originalStartTime": {"dateTime": "2030-04-01T07:00:00Z"},
        },
        "Europe/Berlin",
    )
    assert cancelled["STATUS"] == "CANCELLED"
    assert cancelled["RECURRENCE-ID"].dt == datetime(2030, 4, 1, 9, tzinfo=BERLIN)
    all_day = google_event_component(
        {"id": "d", "start": {"date": "2030-01-07"}, "end": {"date": "2030-01-08"}}, None
    )
    assert all_day["DTSTART"].dt == datetime(2030, 1, 7).date()


def test_graph_events_become_vevents() -> None:
    event = graph_event_component(
        {
            "id": "AAMk",
            "subject": "Review, final",
            "showAs": "tentative",
            "start": {
                "dateTime": "2030-01-07T09:00:00.0000000",
                "timeZone": "Pacific Standard Time",
            },
            "end": {"dateTime": "2030-01-07T10:00:00.0000000", "timeZone": "Pacific Standard Time"},
        }
    )
    assert event["DTSTART"].params["TZID"] == "Pacific Standard Time"
    assert event["STATUS"] == "TENTATIVE" and str(event["SUMMARY"]) == "Review, final"
    free = graph_event_component(
        {
            "id": "x",
            "isAllDay": True,
            "showAs": "free",
            "isCancelled": True,
            "start": {"dateTime": "2030-01-07T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-08T00:00:00.0000000", "timeZone": "UTC"},
        }
    )
    assert free["DTSTART"].dt == datetime(2030, 1, 7).date()
    assert free["TRANSP"] == "TRANSPARENT" and free["STATUS"] == "CANCELLED"


@pytest.mark.parametrize(
    ("url", "allow_private", "result"),
    [
        ("webcal://calendar.example.org/x.ics", True, "https://calendar.example.org/x.ics"),
        ("HTTPS://Example.org/Cal", True, "https://Example.org/Cal"),
        ("http://127.0.0.1:5232/dav/", True, "http://127.0.0.1:5232/dav/"),
        ("http://127.0.0.1:5232/dav/", False, "private or local"),
        ("http://[fd00::1]/x", False, "private or local"),
        ("http://100.64.0.1/x", False, "private or local"),
        ("gopher://example.org/", True, "http://"),
        ("http://user@example.org/", True, "own fields"),
        ("http://example.org:99999/", True, "not a valid URL"),
        ("https://exa mple.org/", True, "spaces"),
    ],
)
def test_urls_are_checked(url: str, allow_private: bool, result: str) -> None:
    try:
        checked = check_url(url, allow_private=allow_private)
    except UnsafeUrl as error:
        assert result in str(error)
    else:
        assert checked == result


def test_secrets_are_sealed_with_the_app_key() -> None:
    sealed = seal_secret("key-one-1234567890", {"password": "hunter2"})
    assert "hunter2" not in sealed
    assert open_secret("key-one-1234567890", sealed) == {"password": "hunter2"}
    assert open_secret("key-one-1234567890", "") == {}
    with pytest.raises(CredentialsUnreadable):
        open_secret("key-two-1234567890", sealed)
    with pytest.raises(CredentialsUnreadable):
        open_secret("key-one-1234567890", sealed[:-4] + "AAAA")


def test_retries_back_off_and_syncs_are_jittered(tmp_path: Any) -> None:
    settings = load_settings(
        config_file="/dev/null",
        environ={},
        overrides={"app": {"data_dir": str(tmp_path), "secret_key": "x" * 20}},
    )
    now = datetime(2030, 1, 1, tzinfo=UTC)
    regular = [next_run(settings, now) - now for _ in range(50)]
    assert all(timedelta(minutes=9) <= delay <= timedelta(minutes=11) for delay in regular)
    assert len(set(regular)) > 1  # jittered
    waits = [next_run(settings, now, failures) - now for failures in (1, 2, 3, 4, 10, 50)]
    bounds = [(45, 75), (90, 150), (180, 300), (420, 540), (3540, 3660), (3540, 3660)]
    for wait, (low, high) in zip(waits, bounds, strict=True):
        assert timedelta(seconds=low) <= wait <= timedelta(seconds=high), wait


@pytest.mark.parametrize(
    ("lines", "hinted"),
    [
        (["DTSTART:20300107T090000Z", "DTEND:20300107T100000Z"], True),
        (["DTSTART;TZID=Europe/Berlin:20300107T090000", "DURATION:PT45M"], True),
        (["DTSTART:20300107T090000Z", "DTEND:20300107T100000Z", "STATUS:CANCELLED"], True),
        (["DTSTART:20300107T090000Z", "DTEND:20300107T100000Z", "TRANSP:TRANSPARENT"], True),
        (["DTSTART:20300107T090000Z"], True),  # zero length: blocks nothing
        (["DTSTART;VALUE=DATE:20300107", "DTEND;VALUE=DATE:20300108"], False),  # zone-dependent
        (["DTSTART:20300107T090000", "DTEND:20300107T100000"], False),  # floating
        (["DTSTART:20300107T090000Z", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=3"], False),
    ],
)
def test_busy_hints_agree_with_the_busy_time_index(lines: list[str], hinted: bool) -> None:
    """The blocks handed to the busy-time index for one-off UTC events are exactly what
    it would compute by parsing them."""
    calendar = icalendar.Calendar.from_ical(vcalendar(vevent("a", *lines[:1], extra=lines[1:])))
    normalized = normalize_event(
        list(calendar.walk("VEVENT")),
        uid="h@mirror",
        reader=ZoneReader(own_zone=BERLIN),
        show_titles=False,
        now=NOW,
    )
    assert (normalized.blocks is not None) == hinted
    if hinted:
        expected = [(b.start, b.end) for b in _busy(normalized.text)]
        assert list(normalized.blocks or ()) == expected


def test_feeds_are_split_into_events_without_parsing_them() -> None:
    feed = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-CALNAME:Work\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Custom\r\nEND:VTIMEZONE\r\n"
        "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20300107T090000Z\r\nSUMMARY:A long\r\n  title\r\n"
        "BEGIN:VALARM\r\nUID:not-the-event\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nDTSTART:20300108T090000Z\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID:20300107T090000Z\r\nDTSTART:20300107T100000Z\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    skeleton, blocks = split_feed(feed)
    assert "X-WR-CALNAME:Work" in skeleton and "TZID:Custom" in skeleton
    assert "VEVENT" not in skeleton
    assert [uid for uid, _ in blocks][0::2] == ["a", "a"]
    assert blocks[1][0].startswith("no-uid:")
    assert "SUMMARY:A long title" in blocks[0][1]  # unfolded
    assert "BEGIN:VALARM" in blocks[0][1]
    for broken in ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2030", "END:VEVENT\r\n"):
        with pytest.raises(SourceDataError):
            split_feed(broken)
