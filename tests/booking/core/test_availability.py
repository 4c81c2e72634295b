"""Weekly hours: API shape, calendar form, reading back (booking.core.availability)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.core.availability import (
    END_OF_DAY,
    WEEKDAYS,
    WeeklyHours,
    availability_events,
    hours_to_intervals,
    open_intervals,
    parse_weekly_hours,
    read_weekly_hours,
    to_payload,
)
from booking.core.ical.validate import parse_calendar
from booking.core.intervals import Interval, local_midnight
from booking.errors import InvalidWeeklyHours, ValidationError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
ANCHOR = date(2025, 3, 3)  # a Monday

NINE_TO_FIVE: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "weekly": {
        "mon": [["09:00", "17:00"]],
        "tue": [["09:00", "12:00"], ["13:00", "17:00"]],
        "wed": [["09:00", "17:00"]],
        "thu": [["09:00", "17:00"]],
        "fri": [],
        "sat": [],
        "sun": [],
    },
    "overrides": [],
}


def payload(**changes: Any) -> dict[str, Any]:
    result = {
        key: (dict(value) if isinstance(value, dict) else value)
        for key, value in NINE_TO_FIVE.items()
    }
    for key, value in changes.items():
        if key in WEEKDAYS:
            result["weekly"][key] = value
        else:
            result[key] = value
    return result


def texts(hours: WeeklyHours, anchor: date = ANCHOR) -> list[str]:
    return [text for _, text in availability_events(hours, anchor=anchor)]


def local_spans(intervals: list[Interval], zone: ZoneInfo = BERLIN) -> list[str]:
    return [
        f"{i.start.astimezone(zone):%m-%d %H:%M}-{i.end.astimezone(zone):%H:%M}" for i in intervals
    ]


def days(first: date, count: int, zone: ZoneInfo = BERLIN) -> Interval:
    return Interval(
        local_midnight(first, zone), local_midnight(first + timedelta(days=count), zone)
    )


def ics(*events: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Apple Inc.//iPhone OS 18//EN"]
    for body in events:
        lines += [
            "BEGIN:VEVENT",
            *[ln.strip() for ln in body.strip().splitlines() if ln.strip()],
            "END:VEVENT",
        ]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


# --------------------------------------------------------------------------- parsing


def test_parse_valid_payload() -> None:
    hours = parse_weekly_hours(
        payload(
            sat=[["14:00", "16:00"], ["10:00", "12:00"]],
            overrides=[
                {"date": "2025-12-24", "intervals": []},
                {"date": "2025-03-10", "intervals": [["10:00", "24:00"]]},
            ],
        )
    )
    assert hours.timezone == "Europe/Berlin"
    assert list(hours.weekly) == list(WEEKDAYS)
    assert hours.weekly["sat"] == ((time(10), time(12)), (time(14), time(16)))  # sorted
    assert hours.weekly["fri"] == ()
    assert list(hours.overrides) == [date(2025, 3, 10), date(2025, 12, 24)]
    assert hours.overrides[date(2025, 3, 10)] == ((time(10), END_OF_DAY),)
    assert hours.overrides[date(2025, 12, 24)] == ()
    assert hours.zone == BERLIN


def test_overrides_are_optional_and_touching_ranges_allowed() -> None:
    body = payload(mon=[["09:00", "12:00"], ["12:00", "17:00"]])
    del body["overrides"]
    hours = parse_weekly_hours(body)
    assert hours.overrides == {}
    assert len(hours.weekly["mon"]) == 2


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, {"timezone": "unknown time zone"}),
        ({"timezone": "../../etc/passwd"}, {"timezone": "unknown time zone"}),
        ({"timezone": 5}, {"timezone": "unknown time zone"}),
        ({"mon": [["9:00", "17:00"]]}, {"weekly.mon[0]": "invalid start time"}),
        ({"mon": [["09:00", "25:00"]]}, {"weekly.mon[0]": "invalid end time"}),
        ({"mon": [["09:00", "12:60"]]}, {"weekly.mon[0]": "invalid end time"}),
        ({"mon": [["24:00", "24:00"]]}, {"weekly.mon[0]": "invalid start time"}),
        ({"mon": [[900, 1700]]}, {"weekly.mon[0]": "invalid start time"}),
        ({"mon": [["09:00"]]}, {"weekly.mon[0]": "expected"}),
        ({"mon": "09:00-17:00"}, {"weekly.mon": "expected a list"}),
        ({"mon": [["17:00", "09:00"]]}, {"weekly.mon[0]": "end must be after start"}),
        ({"mon": [["09:00", "09:00"]]}, {"weekly.mon[0]": "end must be after start"}),
        (
            {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},
            {"weekly.mon[1]": "overlaps weekly.mon[0]"},
        ),
        (
            {"mon": [["11:00", "13:00"], ["09:00", "12:00"]]},
            {"weekly.mon[0]": "overlaps weekly.mon[1]"},
        ),
        (
            {"weekly": {**NINE_TO_FIVE["weekly"], "funday": []}},
            {"weekly.funday": "unknown weekday"},
        ),
        (
            {"weekly": {k: v for k, v in NINE_TO_FIVE["weekly"].items() if k != "sun"}},
            {"weekly.sun": "missing"},
        ),
        ({"weekly": []}, {"weekly": "expected an object"}),
        (
            {"overrides": [{"date": "2025-02-30", "intervals": []}]},
            {"overrides[0].date": "invalid date"},
        ),
        (
            {"overrides": [{"date": "20250301", "intervals": []}]},
            {"overrides[0].date": "invalid date"},
        ),
        (
            {
                "overrides": [
                    {"date": "2025-03-01", "intervals": []},
                    {"date": "2025-03-01", "intervals": [["09:00", "10:00"]]},
                ]
            },
            {"overrides[1].date": "duplicate date 2025-03-01 (also overrides[0])"},
        ),
        ({"overrides": [{"date": "2025-03-01"}]}, {"overrides[0].intervals": "missing"}),
        (
            {"overrides": [{"date": "2025-03-01", "intervals": [["10:00", "09:00"]]}]},
            {"overrides[0].intervals[0]": "end must be after start"},
        ),
        (
            {"overrides": [{"date": "2025-03-01", "intervals": [], "note": "x"}]},
            {"overrides[0].note": "unknown field"},
        ),
        ({"overrides": {"2025-03-01": []}}, {"overrides": "expected a list"}),
        ({"overides": []}, {"overides": "unknown field"}),
        ({"mon": [["09:00", "09:30"]] * 49}, {"weekly.mon": "at most 48"}),
    ],
)
def test_parse_rejects_with_field_errors(changes: dict[str, Any], expected: dict[str, str]) -> None:
    with pytest.raises(InvalidWeeklyHours) as caught:
        parse_weekly_hours(payload(**changes))
    errors = caught.value.errors
    assert set(errors) == set(expected), errors
    for field, fragment in expected.items():
        assert fragment in errors[field]
    assert isinstance(caught.value, ValidationError)


def test_parse_reports_every_error_at_once() -> None:
    body = payload(
        timezone="Nowhere",
        mon=[["17:00", "09:00"]],
        tue="x",
        overrides=[{"date": "nope", "intervals": []}],
    )
    with pytest.raises(InvalidWeeklyHours) as caught:
        parse_weekly_hours(body)
    assert set(caught.value.errors) == {
        "timezone",
        "weekly.mon[0]",
        "weekly.tue",
        "overrides[0].date",
    }
    assert "weekly.mon[0]: end must be after start" in str(caught.value)


def test_parse_rejects_non_objects() -> None:
    with pytest.raises(InvalidWeeklyHours):
        parse_weekly_hours(["not", "an", "object"])


def test_to_payload_shape() -> None:
    hours = parse_weekly_hours(
        payload(
            fri=[["22:00", "24:00"]],
            overrides=[
                {"date": "2025-12-31", "intervals": []},
                {"date": "2025-12-24", "intervals": [["10:00", "12:00"]]},
            ],
        )
    )
    result = to_payload(hours)
    assert result["timezone"] == "Europe/Berlin"
    assert list(result["weekly"]) == list(WEEKDAYS)
    assert result["weekly"]["tue"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert result["weekly"]["fri"] == [["22:00", "24:00"]]
    assert result["overrides"] == [
        {"date": "2025-12-24", "intervals": [["10:00", "12:00"]]},
        {"date": "2025-12-31", "intervals": []},
    ]
    assert parse_weekly_hours(result) == hours


# --------------------------------------------------------------------------- writing


def test_availability_events_form() -> None:
    hours = parse_weekly_hours(
        payload(
            overrides=[
                {"date": "2025-03-12", "intervals": []},
                {"date": "2025-03-14", "intervals": [["10:00", "12:00"]]},
            ]
        )
    )
    events = availability_events(hours, anchor=date(2025, 3, 5))
    uids = [uid for uid, _ in events]
    assert len(uids) == len(set(uids)) == 5 + 2 + 1  # weekly, markers, override ranges
    by_uid = dict(events)
    monday = by_uid["availability-weekly-mon-0900-1700@consult"]
    assert "RRULE:FREQ=WEEKLY;BYDAY=MO" in monday
    assert "DTSTART;TZID=Europe/Berlin:20250303T090000" in monday  # the anchor's week
    assert "X-CONSULT-AVAILABILITY:weekly" in monday and "SUMMARY:Open hours" in monday
    assert "TRANSP:TRANSPARENT" in monday and "BEGIN:VTIMEZONE" in monday
    closed = by_uid["availability-closed-20250312@consult"]
    assert "DTSTART;VALUE=DATE:20250312" in closed and "SUMMARY:Closed" in closed
    assert "X-CONSULT-AVAILABILITY:closed" in closed
    different = by_uid["availability-closed-20250314@consult"]
    assert "SUMMARY:Different hours" in different
    extra = by_uid["availability-override-20250314-1000-1200@consult"]
    assert "X-CONSULT-AVAILABILITY:override" in extra and "RRULE" not in extra
    for _, text in events:
        [event] = parse_calendar(text).walk("VEVENT")  # strictly valid, one event each
        assert str(event["UID"]) in by_uid
    # Idempotent: the same hours give byte-identical objects.
    assert availability_events(hours, anchor=date(2025, 3, 5)) == events


def test_end_of_day_is_written_as_next_midnight() -> None:
    hours = parse_weekly_hours(payload(sat=[["18:00", "24:00"]]))
    text = dict(availability_events(hours, anchor=ANCHOR))[
        "availability-weekly-sat-1800-2400@consult"
    ]
    assert "DTEND;TZID=Europe/Berlin:20250309T000000" in text


# --------------------------------------------------------------------------- open_intervals


@pytest.mark.parametrize(
    ("zone_name", "winter", "summer"),
    [
        ("Europe/Berlin", (date(2025, 3, 24), 8), (date(2025, 3, 31), 7)),
        ("America/New_York", (date(2025, 3, 3), 14), (date(2025, 3, 10), 13)),
        ("Australia/Sydney", (date(2025, 4, 7), 23), (date(2025, 3, 31), 22)),
    ],
)
def test_nine_to_five_stays_local_across_dst(
    zone_name: str, winter: tuple[date, int], summer: tuple[date, int]
) -> None:
    zone = ZoneInfo(zone_name)
    hours = parse_weekly_hours(payload(timezone=zone_name))
    window = days(date(2025, 2, 24), 56, zone)
    result = open_intervals(texts(hours, date(2025, 2, 24)), window, zone)
    by_day = {i.start.astimezone(zone).date(): i for i in result}
    for day, utc_hour in (winter, summer):
        interval = by_day[day]
        assert interval.start.astimezone(zone).time() == time(9)
        assert interval.end.astimezone(zone).time() == time(17)
        # (Sydney's 09:00 is the previous UTC day)
        assert interval.start.hour == utc_hour
    mondays = [d for d in by_day if d.weekday() == 0]
    assert len(mondays) == 8  # no Monday lost to a DST change


def test_open_intervals_equal_the_model_they_were_written_from() -> None:
    hours = parse_weekly_hours(
        payload(
            fri=[["22:00", "24:00"]],
            sat=[["00:00", "02:00"]],
            overrides=[
                {"date": "2025-03-11", "intervals": []},
                {"date": "2025-03-12", "intervals": [["07:00", "08:00"], ["08:00", "09:00"]]},
            ],
        )
    )
    window = days(date(2025, 3, 3), 14)
    result = open_intervals(texts(hours), window, BERLIN)
    assert result == hours_to_intervals(hours, window)
    assert "03-11" not in " ".join(local_spans(result))  # closed
    assert "03-12 07:00-09:00" in local_spans(result)  # override replaces the weekly hours
    assert "03-07 22:00-02:00" in local_spans(result)  # Friday night runs into Saturday


def test_open_intervals_are_not_clipped_to_the_window() -> None:
    hours = parse_weekly_hours(payload())
    window = Interval(
        datetime(2025, 3, 3, 12, tzinfo=BERLIN), datetime(2025, 3, 3, 13, tzinfo=BERLIN)
    )
    assert local_spans(open_intervals(texts(hours), window, BERLIN)) == ["03-03 09:00-17:00"]


# Events as a phone's calendar app writes them: no X- properties at all.
MONDAYS_FROM_PHONE = """
UID:7F3A9C2E-phone-mondays
DTSTAMP:20250301T120000Z
DTSTART;TZID=Europe/Berlin:20250303T090000
DTEND;TZID=Europe/Berlin:20250303T170000
RRULE:FREQ=WEEKLY
SUMMARY:Sessions
"""


def test_phone_recurring_event_is_weekly_hours() -> None:
    calendar = ics(MONDAYS_FROM_PHONE)
    result = open_intervals([calendar], days(ANCHOR, 14), BERLIN)
    assert local_spans(result) == ["03-03 09:00-17:00", "03-10 09:00-17:00"]
    hours = read_weekly_hours([calendar], "Europe/Berlin", today=ANCHOR)
    assert hours.weekly["mon"] == ((time(9), time(17)),)
    assert all(hours.weekly[d] == () for d in WEEKDAYS if d != "mon")
    assert hours.overrides == {}


def test_phone_every_weekday_and_every_day_rules() -> None:
    weekdays = ics(MONDAYS_FROM_PHONE.replace("FREQ=WEEKLY", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"))
    hours = read_weekly_hours([weekdays], "Europe/Berlin", today=ANCHOR)
    assert [d for d in WEEKDAYS if hours.weekly[d]] == ["mon", "tue", "wed", "thu", "fri"]
    daily = ics(MONDAYS_FROM_PHONE.replace("FREQ=WEEKLY", "FREQ=DAILY"))
    hours = read_weekly_hours([daily], "Europe/Berlin", today=ANCHOR)
    assert all(hours.weekly[d] == ((time(9), time(17)),) for d in WEEKDAYS)
    assert hours.overrides == {}


def test_phone_one_off_event_adds_hours() -> None:
    extra = """UID:phone-saturday
        DTSTART;TZID=Europe/Berlin:20250308T100000
        DTEND;TZID=Europe/Berlin:20250308T130000
        SUMMARY:Extra Saturday"""
    calendar = ics(MONDAYS_FROM_PHONE, extra)
    result = open_intervals([calendar], days(ANCHOR, 7), BERLIN)
    assert local_spans(result) == ["03-03 09:00-17:00", "03-08 10:00-13:00"]
    hours = read_weekly_hours([calendar], "Europe/Berlin", today=ANCHOR)
    assert hours.overrides == {date(2025, 3, 8): ((time(10), time(13)),)}
    assert hours.weekly["sat"] == ()


def test_phone_moved_occurrence_moves_the_hours() -> None:
    moved = """UID:7F3A9C2E-phone-mondays
        RECURRENCE-ID;TZID=Europe/Berlin:20250310T090000
        DTSTART;TZID=Europe/Berlin:20250311T120000
        DTEND;TZID=Europe/Berlin:20250311T160000"""
    calendar = ics(MONDAYS_FROM_PHONE, moved)
    result = open_intervals([calendar], days(ANCHOR, 14), BERLIN)
    assert local_spans(result) == ["03-03 09:00-17:00", "03-11 12:00-16:00"]
    hours = read_weekly_hours([calendar], "Europe/Berlin", today=ANCHOR)
    assert hours.weekly["mon"] == ((time(9), time(17)),)
    assert hours.overrides == {date(2025, 3, 10): (), date(2025, 3, 11): ((time(12), time(16)),)}


def test_phone_deleted_and_cancelled_occurrences_close_the_day() -> None:
    calendar = ics(
        MONDAYS_FROM_PHONE + "EXDATE;TZID=Europe/Berlin:20250310T090000\n",
        """UID:7F3A9C2E-phone-mondays
        RECURRENCE-ID;TZID=Europe/Berlin:20250317T090000
        DTSTART;TZID=Europe/Berlin:20250317T090000
        DTEND;TZID=Europe/Berlin:20250317T170000
        STATUS:CANCELLED""",
    )
    result = open_intervals([calendar], days(ANCHOR, 21), BERLIN)
    assert local_spans(result) == ["03-03 09:00-17:00"]
    hours = read_weekly_hours([calendar], "Europe/Berlin", today=ANCHOR)
    assert hours.overrides == {date(2025, 3, 10): (), date(2025, 3, 17): ()}


def test_phone_event_on_a_closed_date_counts() -> None:
    hours = parse_weekly_hours(payload(overrides=[{"date": "2025-03-04", "intervals": []}]))
    phone = ics("""UID:phone-tuesday
        DTSTART;TZID=Europe/Berlin:20250304T150000
        DTEND;TZID=Europe/Berlin:20250304T160000""")
    result = open_intervals([*texts(hours), phone], days(date(2025, 3, 4), 1), BERLIN)
    assert local_spans(result) == ["03-04 15:00-16:00"]  # weekly hours suspended, one-off open
    back = read_weekly_hours([*texts(hours), phone], "Europe/Berlin", today=ANCHOR)
    assert back.overrides == {date(2025, 3, 4): ((time(15), time(16)),)}


def test_deleting_the_closed_marker_restores_the_weekly_hours() -> None:
    hours = parse_weekly_hours(payload(overrides=[{"date": "2025-03-04", "intervals": []}]))
    kept = [
        text
        for uid, text in availability_events(hours, anchor=ANCHOR)
        if not uid.startswith("availability-closed-")
    ]
    result = open_intervals(kept, days(date(2025, 3, 4), 1), BERLIN)
    assert local_spans(result) == ["03-04 09:00-12:00", "03-04 13:00-17:00"]
    assert read_weekly_hours(kept, "Europe/Berlin", today=ANCHOR).overrides == {}


def test_cancelled_marker_is_ignored() -> None:
    marker = """UID:availability-closed-20250303@consult
        DTSTART;VALUE=DATE:20250303
        DTEND;VALUE=DATE:20250304
        X-CONSULT-AVAILABILITY:closed
        STATUS:CANCELLED"""
    result = open_intervals([ics(MONDAYS_FROM_PHONE, marker)], days(ANCHOR, 1), BERLIN)
    assert local_spans(result) == ["03-03 09:00-17:00"]


def test_rules_that_are_not_every_week_become_overrides() -> None:
    fortnightly = ics(MONDAYS_FROM_PHONE.replace("FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2"))
    hours = read_weekly_hours([fortnightly], "Europe/Berlin", today=ANCHOR, look_ahead_days=28)
    assert hours.weekly["mon"] == ()
    assert hours.overrides == {
        date(2025, 3, 3): ((time(9), time(17)),),
        date(2025, 3, 17): ((time(9), time(17)),),
    }
    ended = ics(MONDAYS_FROM_PHONE.replace("FREQ=WEEKLY", "FREQ=WEEKLY;UNTIL=20250224T235959Z"))
    hours = read_weekly_hours([ended], "Europe/Berlin", today=ANCHOR, look_ahead_days=28)
    assert hours.weekly["mon"] == () and hours.overrides == {}


def test_weekly_shows_the_hours_in_force_now() -> None:
    # Changed from the phone "this and future events" as of 17 March: the old series ends,
    # a new one (new UID) starts. Weekly is what applies this week; the change shows as
    # date overrides.
    old = MONDAYS_FROM_PHONE.replace("FREQ=WEEKLY", "FREQ=WEEKLY;UNTIL=20250316T230000Z")
    new = (
        MONDAYS_FROM_PHONE.replace("7F3A9C2E-phone-mondays", "split-1")
        .replace("20250303T090000", "20250317T100000")
        .replace("20250303T170000", "20250317T180000")
    )
    hours = read_weekly_hours([ics(old, new)], "Europe/Berlin", today=ANCHOR, look_ahead_days=28)
    assert hours.weekly["mon"] == ((time(9), time(17)),)
    assert hours.overrides == {
        date(2025, 3, 17): ((time(10), time(18)),),
        date(2025, 3, 24): ((time(10), time(18)),),
    }
    # A week later the new hours are the weekly ones.
    later = read_weekly_hours(
        [ics(old, new)], "Europe/Berlin", today=date(2025, 3, 17), look_ahead_days=14
    )
    assert later.weekly["mon"] == ((time(10), time(18)),) and later.overrides == {}


def test_weekly_hours_in_another_zone_are_converted() -> None:
    # Created while travelling: 09:00-17:00 New York is 15:00-23:00 in Berlin (in March
    # before both DST changes) -- read in the professional's zone.
    phone = ics("""UID:ny
        DTSTART;TZID=America/New_York:20250113T090000
        DTEND;TZID=America/New_York:20250113T170000
        RRULE:FREQ=WEEKLY""")
    hours = read_weekly_hours([phone], "Europe/Berlin", today=date(2025, 1, 13), look_ahead_days=14)
    assert hours.weekly["mon"] == ((time(15), time(23)),)
    assert hours.overrides == {}


def test_read_weekly_hours_unknown_zone() -> None:
    with pytest.raises(InvalidWeeklyHours) as caught:
        read_weekly_hours([], "Not/AZone", today=ANCHOR)
    assert "timezone" in caught.value.errors


def test_malformed_events_in_the_availability_calendar_are_skipped() -> None:
    broken = ics("UID:broken\nDTSTART:20250303T250000\nRRULE:FREQ=WEEKLY")
    result = open_intervals([broken, ics(MONDAYS_FROM_PHONE), "garbage"], days(ANCHOR, 1), BERLIN)
    assert local_spans(result) == ["03-03 09:00-17:00"]
    hours = read_weekly_hours(
        [broken, ics(MONDAYS_FROM_PHONE)], "Europe/Berlin", today=ANCHOR, look_ahead_days=7
    )
    assert hours.weekly["mon"] == ((time(9), time(17)),)


# --------------------------------------------------------------------------- DST gaps


def test_hours_in_a_dst_gap_are_deterministic() -> None:
    # 02:30-03:30 on the spring-forward Sunday: the wall-clock range is kept as typed when
    # read back, and as time it starts where RFC 5545 puts 02:30 (03:30 CEST): empty.
    hours = parse_weekly_hours(payload(sun=[["02:30", "03:30"]], sat=[["01:00", "04:00"]]))
    events = texts(hours, date(2025, 3, 24))
    window = days(date(2025, 3, 29), 2)
    result = open_intervals(events, window, BERLIN)
    assert result == hours_to_intervals(hours, window)
    assert local_spans(result) == ["03-29 01:00-04:00"]
    back = read_weekly_hours(events, "Europe/Berlin", today=date(2025, 3, 24))
    assert back == hours  # no spurious override on the day of the change


def test_hours_in_a_dst_fold_cover_both_passes() -> None:
    # 02:00-03:00 on the fall-back Sunday happens twice: it starts at the first 02:00 and ends
    # at the (only) 03:00, two hours later. Nothing is duplicated.
    hours = parse_weekly_hours(payload(sun=[["02:00", "03:00"]]))
    window = days(date(2025, 10, 26), 1)
    [interval] = open_intervals(texts(hours, date(2025, 10, 20)), window, BERLIN)
    assert interval.duration == timedelta(hours=2)
    assert interval.start == datetime(2025, 10, 26, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- properties

ZONE_NAMES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
]
QUARTERS = st.integers(0, 96).map(lambda q: (q * 15) // 60 * 100 + (q * 15) % 60)


@st.composite
def ranges(draw: st.DrawFn) -> list[list[str]]:
    """Non-overlapping HH:MM ranges of one day (touching allowed), in random order."""
    cuts = sorted(set(draw(st.lists(st.integers(0, 96), max_size=8))))
    result = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        if draw(st.booleans()):
            result.append(
                [
                    f"{start * 15 // 60:02d}:{start * 15 % 60:02d}",
                    "24:00" if end == 96 else f"{end * 15 // 60:02d}:{end * 15 % 60:02d}",
                ]
            )
    return draw(st.permutations(result))


@st.composite
def weekly_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], date]:
    anchor = draw(st.dates(date(2024, 1, 1), date(2026, 12, 31)))
    override_days = draw(st.lists(st.integers(0, 364), max_size=6, unique=True))
    body = {
        "timezone": draw(st.sampled_from(ZONE_NAMES)),
        "weekly": {day: draw(ranges()) for day in WEEKDAYS},
        "overrides": [
            {"date": (anchor + timedelta(days=k)).isoformat(), "intervals": draw(ranges())}
            for k in override_days
        ],
    }
    return body, anchor


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(weekly_payloads())
def test_round_trip_through_the_calendar(example: tuple[dict[str, Any], date]) -> None:
    body, anchor = example
    hours = parse_weekly_hours(body)
    assert parse_weekly_hours(to_payload(hours)) == hours
    back = read_weekly_hours(texts(hours, anchor), hours.timezone, today=anchor)
    assert back == hours


@PROPERTY
@given(weekly_payloads(), st.integers(0, 330), st.integers(1, 30))
def test_open_intervals_match_hours_to_intervals(
    example: tuple[dict[str, Any], date], offset: int, length: int
) -> None:
    body, anchor = example
    hours = parse_weekly_hours(body)
    window = days(anchor + timedelta(days=offset), length, hours.zone)
    assert open_intervals(texts(hours, anchor), window, hours.zone) == hours_to_intervals(
        hours, window
    )


def minutes_open(time_ranges: tuple[tuple[time, time], ...]) -> set[int]:
    result: set[int] = set()
    for start, end in time_ranges:
        last = 1440 if end == END_OF_DAY else end.hour * 60 + end.minute
        result.update(range(start.hour * 60 + start.minute, last))
    return result


@PROPERTY
@given(weekly_payloads(), st.integers(0, 300), st.integers(0, 23 * 60))
def test_an_added_phone_event_changes_exactly_its_day(
    example: tuple[dict[str, Any], date], offset: int, minute: int
) -> None:
    body, anchor = example
    hours = parse_weekly_hours(body)
    day = anchor + timedelta(days=offset)
    start = datetime.combine(day, time(minute // 60, minute % 60))
    phone = ics(f"""UID:phone-extra
        DTSTART;TZID={hours.timezone}:{start:%Y%m%dT%H%M%S}
        DTEND;TZID={hours.timezone}:{start + timedelta(minutes=45):%Y%m%dT%H%M%S}""")
    back = read_weekly_hours([*texts(hours, anchor), phone], hours.timezone, today=anchor)
    assert back.weekly == hours.weekly
    expected = minutes_open(hours.ranges_on(day)) | set(range(minute, minute + 45))
    assert minutes_open(back.ranges_on(day)) == expected
    if expected != minutes_open(hours.ranges_on(day)):
        assert day in back.overrides
    others = {d: r for d, r in back.overrides.items() if d != day}
    assert others == {d: r for d, r in hours.overrides.items() if d != day}
