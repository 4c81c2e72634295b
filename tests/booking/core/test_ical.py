"""Reading and writing RFC 5545 data (booking.core.ical)."""

from __future__ import annotations

import logging
import threading
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import icalendar
import pytest

from booking.core.ical.expand import busy_intervals, occurrences
from booking.core.ical.validate import PRODID, parse_calendar
from booking.core.ical.write import (
    Attendee,
    add_attendee,
    build_booking_event,
    build_session_event,
    bump_sequence,
    cancel_event,
    remove_attendee,
)
from booking.core.intervals import Interval, local_midnight
from booking.errors import BookingError, InvalidCalendarData, UnknownOccurrence

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MARCH = Interval(datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
NOW = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


def ics(*events: str, header: str = "") -> str:
    """A VCALENDAR around VEVENT bodies given as property lines."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//test//EN"]
    lines += [line for line in header.strip().splitlines() if line.strip()]
    for body in events:
        lines.append("BEGIN:VEVENT")
        lines += [line.strip() for line in body.strip().splitlines() if line.strip()]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def berlin(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=BERLIN)


def local_spans(intervals: list[Interval], zone: ZoneInfo = BERLIN) -> list[tuple[str, str]]:
    return [
        (
            i.start.astimezone(zone).strftime("%m-%d %H:%M"),
            i.end.astimezone(zone).strftime("%m-%d %H:%M"),
        )
        for i in intervals
    ]


def finishes_within(seconds: float, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run func in a daemon thread; fail (instead of hanging the suite) if it takes longer."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = func(*args, **kwargs)
        except BaseException as error:  # re-raised below in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{func.__name__} did not finish within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


WEEKLY = """
UID:weekly-1
DTSTAMP:20250101T000000Z
DTSTART;TZID=Europe/Berlin:20250303T090000
DTEND;TZID=Europe/Berlin:20250303T100000
RRULE:FREQ=WEEKLY;BYDAY=MO
SUMMARY:Team meeting
"""


# --------------------------------------------------------------------------- busy_intervals


def test_weekly_event_keeps_local_time_across_dst() -> None:
    busy = busy_intervals([ics(WEEKLY)], MARCH, BERLIN)
    assert local_spans(busy) == [
        ("03-03 09:00", "03-03 10:00"),
        ("03-10 09:00", "03-10 10:00"),
        ("03-17 09:00", "03-17 10:00"),
        ("03-24 09:00", "03-24 10:00"),
        ("03-31 09:00", "03-31 10:00"),
    ]
    assert busy[0].start == datetime(2025, 3, 3, 8, tzinfo=UTC)
    assert busy[-1].start == datetime(2025, 3, 31, 7, tzinfo=UTC)  # CEST


def test_exdate_and_recurrence_id_overrides() -> None:
    calendar = ics(
        WEEKLY + "EXDATE;TZID=Europe/Berlin:20250310T090000\n",
        # 17 March moved to Tuesday afternoon
        """UID:weekly-1
        DTSTAMP:20250101T000000Z
        RECURRENCE-ID;TZID=Europe/Berlin:20250317T090000
        DTSTART;TZID=Europe/Berlin:20250318T140000
        DTEND;TZID=Europe/Berlin:20250318T153000""",
        # 24 March cancelled as a single occurrence
        """UID:weekly-1
        DTSTAMP:20250101T000000Z
        RECURRENCE-ID;TZID=Europe/Berlin:20250324T090000
        DTSTART;TZID=Europe/Berlin:20250324T090000
        DTEND;TZID=Europe/Berlin:20250324T100000
        STATUS:CANCELLED""",
    )
    assert local_spans(busy_intervals([calendar], MARCH, BERLIN)) == [
        ("03-03 09:00", "03-03 10:00"),
        ("03-18 14:00", "03-18 15:30"),
        ("03-31 09:00", "03-31 10:00"),
    ]


def test_override_given_in_utc_matches_a_tzid_rule() -> None:
    calendar = ics(
        WEEKLY,
        """UID:weekly-1
        DTSTAMP:20250101T000000Z
        RECURRENCE-ID:20250303T080000Z
        DTSTART:20250303T150000Z
        DTEND:20250303T160000Z""",
    )
    busy = busy_intervals([calendar], Interval(berlin(1, 0), berlin(8, 0)), BERLIN)
    assert local_spans(busy) == [("03-03 16:00", "03-03 17:00")]


def test_rdate_adds_an_occurrence_and_count_limits() -> None:
    calendar = ics("""UID:r
        DTSTART;TZID=Europe/Berlin:20250303T120000
        DTEND;TZID=Europe/Berlin:20250303T130000
        RRULE:FREQ=DAILY;COUNT=2
        RDATE;TZID=Europe/Berlin:20250320T180000""")
    assert local_spans(busy_intervals([calendar], MARCH, BERLIN)) == [
        ("03-03 12:00", "03-03 13:00"),
        ("03-04 12:00", "03-04 13:00"),
        ("03-20 18:00", "03-20 19:00"),
    ]


def test_all_day_events_block_whole_local_days() -> None:
    calendar = ics(
        "UID:a\nDTSTART;VALUE=DATE:20250305\nDTEND;VALUE=DATE:20250307",  # two days
        "UID:b\nDTSTART;VALUE=DATE:20250310",  # no DTEND: one day
    )
    busy = busy_intervals([calendar], MARCH, BERLIN)
    assert busy == [
        Interval(
            local_midnight(date(2025, 3, 5), BERLIN), local_midnight(date(2025, 3, 7), BERLIN)
        ),
        Interval(
            local_midnight(date(2025, 3, 10), BERLIN), local_midnight(date(2025, 3, 11), BERLIN)
        ),
    ]
    assert busy[0].start == datetime(2025, 3, 4, 23, tzinfo=UTC)
    # The same data read for a New York professional blocks New York days.
    in_new_york = busy_intervals([calendar], MARCH, NEW_YORK)
    assert in_new_york[0].start == datetime(2025, 3, 5, 5, tzinfo=UTC)


def test_all_day_recurring_event_with_date_exdate() -> None:
    calendar = ics("""UID:holiday
        DTSTART;VALUE=DATE:20250303
        RRULE:FREQ=WEEKLY;COUNT=3
        EXDATE;VALUE=DATE:20250310""")
    busy = busy_intervals([calendar], MARCH, BERLIN)
    assert [i.start.astimezone(BERLIN).date() for i in busy] == [
        date(2025, 3, 3),
        date(2025, 3, 17),
    ]
    assert all(i.duration == timedelta(days=1) for i in busy)


def test_floating_times_are_read_in_the_professionals_zone() -> None:
    calendar = ics("UID:f\nDTSTART:20250305T090000\nDTEND:20250305T100000")
    assert busy_intervals([calendar], MARCH, BERLIN) == [Interval(berlin(5, 9), berlin(5, 10))]
    assert busy_intervals([calendar], MARCH, NEW_YORK) == [
        Interval(
            datetime(2025, 3, 5, 9, tzinfo=NEW_YORK), datetime(2025, 3, 5, 10, tzinfo=NEW_YORK)
        )
    ]


def test_duration_and_missing_end() -> None:
    calendar = ics(
        "UID:d\nDTSTART:20250305T090000Z\nDURATION:PT45M",
        "UID:zero\nDTSTART:20250306T090000Z",  # no DTEND, no DURATION: zero length
        "UID:instant\nDTSTART:20250307T090000Z\nDTEND:20250307T090000Z",
    )
    assert busy_intervals([calendar], MARCH, BERLIN) == [
        Interval(datetime(2025, 3, 5, 9, tzinfo=UTC), datetime(2025, 3, 5, 9, 45, tzinfo=UTC))
    ]


def test_transparent_and_cancelled_events_block_nothing() -> None:
    calendar = ics(
        "UID:t\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z\nTRANSP:TRANSPARENT",
        "UID:c\nDTSTART:20250306T090000Z\nDTEND:20250306T100000Z\nSTATUS:CANCELLED",
        WEEKLY + "STATUS:CANCELLED\n",  # a cancelled series
        "UID:o\nDTSTART:20250307T090000Z\nDTEND:20250307T100000Z\nTRANSP:OPAQUE",
    )
    assert busy_intervals([calendar], MARCH, BERLIN) == [
        Interval(datetime(2025, 3, 7, 9, tzinfo=UTC), datetime(2025, 3, 7, 10, tzinfo=UTC))
    ]


def test_exclude_uids_and_unclipped_results() -> None:
    calendar = ics(WEEKLY, "UID:long\nDTSTART:20250227T000000Z\nDTEND:20250302T000000Z")
    busy = busy_intervals([calendar], MARCH, BERLIN, exclude_uids={"weekly-1"})
    # The event reaching into the window is returned whole (buffers need its real start).
    assert busy == [Interval(datetime(2025, 2, 27, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC))]


def test_events_outside_the_window_are_ignored_and_results_merged() -> None:
    calendar = ics(
        "UID:before\nDTSTART:20250210T090000Z\nDTEND:20250210T100000Z",
        "UID:x\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z",
        "UID:y\nDTSTART:20250305T093000Z\nDTEND:20250305T110000Z",
    )
    assert busy_intervals([calendar], MARCH, BERLIN) == [
        Interval(datetime(2025, 3, 5, 9, tzinfo=UTC), datetime(2025, 3, 5, 11, tzinfo=UTC))
    ]


def test_accepts_text_bytes_calendars_and_concatenated_calendars() -> None:
    a = ics("UID:a\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z")
    b = ics("UID:b\nDTSTART:20250306T090000Z\nDTEND:20250306T100000Z")
    c = ics("UID:c\nDTSTART:20250307T090000Z\nDTEND:20250307T100000Z")
    busy = busy_intervals([a, b.encode(), icalendar.Calendar.from_ical(c)], MARCH, BERLIN)
    assert len(busy) == 3
    assert len(busy_intervals([a + b], MARCH, BERLIN)) == 2


def test_malformed_items_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    good = "UID:good\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z"
    calendar = ics(
        good,
        "UID:bad-date\nDTSTART:20251305T090000Z\nDTEND:20250305T100000Z",
        "UID:no-start\nDTEND:20250305T100000Z",
        "UID:bad-rule\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z\nRRULE:FREQ=SOMETIMES",
    )
    with caplog.at_level(logging.WARNING, logger="booking.core.ical"):
        busy = busy_intervals(
            [calendar, "this is not iCalendar", b"", "BEGIN:VEVENT\r\n"], MARCH, BERLIN
        )
    assert busy == [
        Interval(datetime(2025, 3, 5, 9, tzinfo=UTC), datetime(2025, 3, 5, 10, tzinfo=UTC))
    ]
    for uid in ("bad-date", "no-start", "bad-rule"):
        assert uid in caplog.text
    assert "cannot parse" in caplog.text


def test_secondly_rule_from_years_ago_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    # Without the bound dateutil would walk 36 million seconds before reaching March.
    calendar = ics(
        "UID:absurd\nDTSTART:20240101T000000Z\nDURATION:PT1S\nRRULE:FREQ=SECONDLY",
        "UID:normal\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z",
    )
    began = clock.perf_counter()
    with caplog.at_level(logging.WARNING, logger="booking.core.ical"):
        busy = finishes_within(20, busy_intervals, [calendar], MARCH, BERLIN)
    assert clock.perf_counter() - began < 5
    # Fail closed: what could not be expanded counts as busy.
    assert busy == [MARCH]
    assert "absurd" in caplog.text and "recurs too often" in caplog.text


def test_too_many_occurrences_in_window_stop_at_the_bound() -> None:
    calendar = ics(
        "UID:minutely\nDTSTART:20250310T000000Z\nDURATION:PT10S\nRRULE:FREQ=MINUTELY",
        "UID:normal\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z",
    )
    busy = finishes_within(20, busy_intervals, [calendar], MARCH, BERLIN, max_occurrences=100)
    # The normal event, 100 ten-second blocks, then the rest of the window from the cut
    # (the 101st occurrence) on.
    assert busy[0] == Interval(
        datetime(2025, 3, 5, 9, tzinfo=UTC), datetime(2025, 3, 5, 10, tzinfo=UTC)
    )
    assert len(busy) == 1 + 100 + 1
    assert busy[100] == Interval(
        datetime(2025, 3, 10, 1, 39, tzinfo=UTC), datetime(2025, 3, 10, 1, 39, 10, tzinfo=UTC)
    )
    assert busy[-1] == Interval(datetime(2025, 3, 10, 1, 40, tzinfo=UTC), MARCH.end)
    found = finishes_within(20, occurrences, [calendar], MARCH, BERLIN, max_occurrences=100)
    assert len(found) == 101


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",  # 30 February
        "FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31",
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",  # there is no sixth Monday
        "FREQ=DAILY;BYSETPOS=2",
        "FREQ=YEARLY;BYMONTH=2;BYDAY=1MO,-1FR;BYSETPOS=3",
        "FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9,10;BYSETPOS=-5",
    ],
)
def test_rules_that_never_occur_do_not_hang(rule: str, caplog: pytest.LogCaptureFixture) -> None:
    calendar = ics(
        f"UID:never\nDTSTART:20250101T090000Z\nDURATION:PT1H\nRRULE:{rule}",
        "UID:normal\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z",
    )
    began = clock.perf_counter()
    with caplog.at_level(logging.WARNING, logger="booking.core.ical"):
        busy = finishes_within(20, busy_intervals, [calendar], MARCH, BERLIN)
    assert clock.perf_counter() - began < 1
    assert len(busy) == 1 and "never" in caplog.text


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1",  # last Monday
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",  # leap days exist
        "FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9,10;BYSETPOS=4",
        "FREQ=MONTHLY;BYMONTHDAY=-31",  # the first day of 31-day months
        "FREQ=YEARLY;BYDAY=MO;BYSETPOS=53",
    ],
)
def test_unusual_but_possible_rules_are_kept(rule: str) -> None:
    calendar = ics(f"UID:ok\nDTSTART:20240101T090000Z\nDURATION:PT1H\nRRULE:{rule}")
    parse_calendar(calendar)  # valid
    window = Interval(datetime(2024, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
    assert finishes_within(20, busy_intervals, [calendar], window, BERLIN)


def test_thisandfuture_override_moves_later_occurrences() -> None:
    calendar = ics(
        WEEKLY,
        """UID:weekly-1
        RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20250317T090000
        DTSTART;TZID=Europe/Berlin:20250317T110000
        DTEND;TZID=Europe/Berlin:20250317T120000""",
    )
    found = occurrences([calendar], MARCH, BERLIN)
    assert [o.start.astimezone(BERLIN).strftime("%d %H") for o in found] == [
        "03 09",
        "10 09",
        "17 11",
        "24 11",
        "31 11",
    ]
    # Every occurrence keeps the RECURRENCE-ID of the slot it came from.
    assert [
        o.recurrence_id.astimezone(BERLIN).strftime("%d %H")
        for o in found  # type: ignore[union-attr]
    ] == ["03 09", "10 09", "17 09", "24 09", "31 09"]


# --------------------------------------------------------------------------- occurrences


def test_occurrences_carry_uid_recurrence_id_and_component() -> None:
    calendar = ics(
        WEEKLY,
        """UID:weekly-1
        RECURRENCE-ID;TZID=Europe/Berlin:20250317T090000
        DTSTART;TZID=Europe/Berlin:20250318T140000
        DTEND;TZID=Europe/Berlin:20250318T150000
        SUMMARY:Team meeting (moved)""",
        "UID:one-off\nDTSTART:20250320T120000Z\nDTEND:20250320T130000Z\nSUMMARY:Lunch",
        "UID:gone\nDTSTART:20250321T120000Z\nDTEND:20250321T130000Z\nSTATUS:CANCELLED",
    )
    found = occurrences([calendar], Interval(berlin(10, 0), berlin(22, 0)), BERLIN)
    assert [(o.uid, o.summary) for o in found] == [
        ("weekly-1", "Team meeting"),
        ("weekly-1", "Team meeting (moved)"),
        ("one-off", "Lunch"),
    ]
    plain, moved, one_off = found
    assert plain.recurrence_id == plain.start == berlin(10, 9)
    assert moved.recurrence_id == berlin(17, 9) and moved.start == berlin(18, 14)
    assert one_off.recurrence_id is None and "RECURRENCE-ID" not in one_off.component
    assert moved.component["DTSTART"].dt == berlin(18, 14)
    assert "RRULE" not in plain.component
    assert all(o.start.tzinfo is UTC for o in found)
    with_cancelled = occurrences(
        [calendar], Interval(berlin(10, 0), berlin(22, 0)), BERLIN, include_cancelled=True
    )
    assert [o.uid for o in with_cancelled][-1] == "gone"


def test_occurrences_include_transparent_events() -> None:
    calendar = ics("UID:t\nDTSTART:20250305T090000Z\nDTEND:20250305T100000Z\nTRANSP:TRANSPARENT")
    assert [o.uid for o in occurrences([calendar], MARCH, BERLIN)] == ["t"]


# --------------------------------------------------------------------------- parse_calendar


def test_parse_calendar_accepts_valid_data() -> None:
    calendar = parse_calendar(ics(WEEKLY))
    assert isinstance(calendar, icalendar.Calendar)
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == ["weekly-1"]


def test_parse_calendar_tolerates_broken_values_that_do_not_decide_time() -> None:
    text = ics(WEEKLY + "CREATED:00000000T000000Z\nLAST-MODIFIED:yesterday\n")
    [event] = parse_calendar(text).walk("VEVENT")
    assert {prop for prop, _ in event.errors} == {"CREATED", "LAST-MODIFIED"}
    assert busy_intervals([text], MARCH, BERLIN)  # and the event still blocks time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a calendar at all", "not valid iCalendar"),
        ("", "not valid iCalendar"),
        ("BEGIN:VEVENT\r\nUID:x\r\nDTSTART:20250101T000000Z\r\nEND:VEVENT\r\n", "VCALENDAR"),
        (ics("DTSTART:20250101T000000Z"), "UID is missing"),
        (ics("UID:x\nDTEND:20250101T000000Z"), "DTSTART is missing"),
        (ics("UID:x\nDTSTART:20250101T100000Z\nDTEND:20250101T090000Z"), "before DTSTART"),
        (
            ics("UID:x\nDTSTART:20250101T100000Z\nDTEND:20250101T110000Z\nDURATION:PT1H"),
            "both be present",
        ),
        (ics("UID:x\nDTSTART;VALUE=DATE:20250101\nDTEND:20250101T110000Z"), "both be dates"),
        (ics("UID:x\nDTSTART:2025-01-01\nDTEND:20250101T110000Z"), "DTSTART"),
        (ics("UID:x\nDTSTART:20250101T100000Z\nRRULE:COUNT=3"), "FREQ"),
        (
            ics("UID:x\nDTSTART:20250101T100000Z\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31"),
            "never occur",
        ),
    ],
)
def test_parse_calendar_rejects_malformed_data(text: str, message: str) -> None:
    with pytest.raises(InvalidCalendarData, match=message) as caught:
        parse_calendar(text)
    assert isinstance(caught.value, BookingError)


# --------------------------------------------------------------------------- builders

ANN = Attendee("ann@example.org", "Ann Client")


def build(**overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "uid": "booking-42@consult",
        "start": datetime(2025, 3, 31, 7, tzinfo=UTC),
        "end": datetime(2025, 3, 31, 7, 50, tzinfo=UTC),
        "summary": "Consultation",
        "description": "Line one\nLine two, with a comma; and a semicolon",
        "organizer_email": "maya@example.org",
        "organizer_name": "Maya Therapist",
        "attendees": [ANN],
        "now": NOW,
    }
    arguments.update(overrides)
    return build_booking_event(**arguments)


def the_event(text: str) -> icalendar.cal.Component:
    [event] = parse_calendar(text).walk("VEVENT")
    return event


def test_booking_event_has_every_property() -> None:
    text = build(
        url="https://consult.example/b/42",
        extra={"X-CONSULT-BOOKING-ID": "42", "x-consult-service": "therapy"},
    )
    calendar = parse_calendar(text)
    assert str(calendar["PRODID"]) == PRODID and str(calendar["VERSION"]) == "2.0"
    assert "METHOD" not in calendar  # stored objects carry no iTIP method
    event = the_event(text)
    for name in ("DTSTAMP", "CREATED", "LAST-MODIFIED"):
        assert event[name].dt == NOW
    assert str(event["UID"]) == "booking-42@consult"
    assert event["DTSTART"].dt == datetime(2025, 3, 31, 7, tzinfo=UTC)
    assert "DTSTART:20250331T070000Z" in text
    assert event["DTEND"].dt == datetime(2025, 3, 31, 7, 50, tzinfo=UTC)
    organizer = event["ORGANIZER"]
    assert (
        str(organizer) == "mailto:maya@example.org" and organizer.params["CN"] == "Maya Therapist"
    )
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:ann@example.org"
    assert dict(attendee.params) == {
        "CN": "Ann Client",
        "CUTYPE": "INDIVIDUAL",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "ACCEPTED",
        "RSVP": "FALSE",
    }
    assert str(event["SUMMARY"]) == "Consultation"
    assert str(event["DESCRIPTION"]) == "Line one\nLine two, with a comma; and a semicolon"
    assert str(event["STATUS"]) == "CONFIRMED" and event["SEQUENCE"] == 0
    assert str(event["URL"]) == "https://consult.example/b/42"
    assert str(event["TRANSP"]) == "OPAQUE"
    assert str(event["X-CONSULT-BOOKING-ID"]) == "42"
    assert str(event["X-CONSULT-SERVICE"]) == "therapy"


def test_booking_event_with_zone_has_tzid_and_vtimezone() -> None:
    text = build(zone=BERLIN)
    assert "DTSTART;TZID=Europe/Berlin:20250331T090000" in text
    assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/Berlin" in text
    assert the_event(text)["DTSTART"].dt == datetime(2025, 3, 31, 7, tzinfo=UTC)
    # and it reads back as the same busy time
    assert busy_intervals([text], MARCH, NEW_YORK) == [
        Interval(datetime(2025, 3, 31, 7, tzinfo=UTC), datetime(2025, 3, 31, 7, 50, tzinfo=UTC))
    ]


def test_booking_event_is_deterministic_and_method_optional() -> None:
    assert build() == build()
    assert "METHOD:REQUEST" in build(method="request")


def test_attendee_rsvp_follows_partstat() -> None:
    text = build(
        attendees=[
            Attendee("a@example.org", partstat="NEEDS-ACTION"),
            Attendee("b@example.org", rsvp=True, role="OPT-PARTICIPANT"),
        ]
    )
    first, second = the_event(text)["ATTENDEE"]
    assert first.params["RSVP"] == "TRUE" and "CN" not in first.params
    assert second.params["RSVP"] == "TRUE" and second.params["ROLE"] == "OPT-PARTICIPANT"


def test_names_cannot_inject_properties() -> None:
    text = build(
        organizer_name="Evil\r\nATTENDEE:mailto:x@evil.example",
        attendees=[Attendee("ann@example.org", 'Ann "Quote"; Semi')],
    )
    event = the_event(text)
    assert "x@evil.example" not in [str(a) for a in [event["ATTENDEE"]]]
    assert event["ATTENDEE"].params["CN"] == 'Ann "Quote"; Semi'
    assert "\nATTENDEE:mailto:x@evil" not in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"extra": {"CONSULT-ID": "1"}},
        {"organizer_email": "not an email"},
        {"attendees": [Attendee("ann@example.org\r\nX-EVIL:1")]},
        {"end": datetime(2025, 3, 31, 7, tzinfo=UTC)},
        {"status": "MAYBE"},
        {"sequence": -1},
        {"uid": ""},
    ],
)
def test_builder_rejects_bad_arguments(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(**overrides)


def session(**overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "uid": "yoga-tuesday@consult",
        "start": datetime(2025, 3, 4, 18, tzinfo=BERLIN),
        "end": datetime(2025, 3, 4, 19, tzinfo=BERLIN),
        "summary": "Yoga",
        "description": "Bring a mat",
        "organizer_email": "ana@example.org",
        "organizer_name": "Ana",
        "rrule": "FREQ=WEEKLY;BYDAY=TU",
        "zone": BERLIN,
        "extra": {"X-CONSULT-SESSION-ID": "7"},
        "now": NOW,
    }
    arguments.update(overrides)
    return build_session_event(**arguments)


def test_session_event_recurs_at_the_same_local_time() -> None:
    text = session()
    assert "RRULE:FREQ=WEEKLY;BYDAY=TU" in text
    found = occurrences([text], Interval(MARCH.start, datetime(2025, 4, 2, tzinfo=UTC)), BERLIN)
    assert [o.start.astimezone(BERLIN).strftime("%m-%d %H:%M") for o in found] == [
        "03-04 18:00",
        "03-11 18:00",
        "03-18 18:00",
        "03-25 18:00",
        "04-01 18:00",
    ]
    assert found[0].start.hour == 17 and found[-1].start.hour == 16  # UTC moved with DST
    assert all(o.uid == "yoga-tuesday@consult" for o in found)


def test_session_event_rules() -> None:
    with pytest.raises(ValueError, match="zone"):
        session(zone=None)
    with pytest.raises(InvalidCalendarData, match="FREQ"):
        session(rrule="BYDAY=TU")
    with pytest.raises(InvalidCalendarData, match="never occur"):
        session(rrule="FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")
    assert "RRULE" not in session(rrule=None, zone=None)


# --------------------------------------------------------------------------- editing


def test_cancel_event_sets_status_and_bumps_sequence() -> None:
    later = NOW + timedelta(days=1)
    text = cancel_event(build(sequence=2), now=later)
    event = the_event(text)
    assert str(event["STATUS"]) == "CANCELLED" and event["SEQUENCE"] == 3
    assert event["DTSTAMP"].dt == later and event["LAST-MODIFIED"].dt == later
    assert event["CREATED"].dt == NOW
    assert busy_intervals([text], MARCH, BERLIN) == []
    assert the_event(cancel_event(text, now=later))["SEQUENCE"] == 4


def test_bump_sequence_keeps_the_event_and_refreshes_stamps() -> None:
    later = NOW + timedelta(hours=1)
    text = bump_sequence(build(sequence=4), now=later)
    event = the_event(text)
    assert event["SEQUENCE"] == 5 and str(event["STATUS"]) == "CONFIRMED"
    assert event["DTSTAMP"].dt == later and event["CREATED"].dt == NOW
    # Overrides never fall behind their master.
    text = cancel_event(session(sequence=3), recurrence_id=datetime(2025, 3, 11, 18, tzinfo=BERLIN))
    bumped = parse_calendar(bump_sequence(text, now=later)).walk("VEVENT")
    assert sorted(e["SEQUENCE"] for e in bumped) == [4, 5]


def test_cancel_one_occurrence_of_a_series() -> None:
    tuesday = datetime(2025, 3, 11, 18, tzinfo=BERLIN)
    text = cancel_event(session(sequence=1), recurrence_id=tuesday, now=NOW)
    events = parse_calendar(text).walk("VEVENT")
    assert len(events) == 2
    override = next(e for e in events if "RECURRENCE-ID" in e)
    assert override["RECURRENCE-ID"].dt == tuesday
    assert "RECURRENCE-ID;TZID=Europe/Berlin:20250311T180000" in text
    assert str(override["STATUS"]) == "CANCELLED" and override["SEQUENCE"] == 2
    assert "RRULE" not in override
    found = occurrences([text], MARCH, BERLIN)
    assert [o.start.astimezone(BERLIN).day for o in found] == [4, 18, 25]


def test_cancel_unknown_occurrence() -> None:
    with pytest.raises(UnknownOccurrence):
        cancel_event(session(), recurrence_id=datetime(2025, 3, 12, 18, tzinfo=BERLIN))
    with pytest.raises(UnknownOccurrence):
        cancel_event(build(), recurrence_id=datetime(2025, 3, 31, 7, tzinfo=UTC))
    with pytest.raises(InvalidCalendarData):
        cancel_event("garbage")


def test_add_and_remove_attendee_on_the_whole_event() -> None:
    bob = Attendee("Bob@Example.org", "Bob", partstat="NEEDS-ACTION")
    text = add_attendee(session(attendees=[ANN]), bob, now=NOW)
    emails = [str(a) for a in the_event(text)["ATTENDEE"]]
    assert emails == ["mailto:ann@example.org", "mailto:Bob@Example.org"]
    assert the_event(text)["SEQUENCE"] == 0
    # Idempotent: adding again replaces, does not duplicate.
    again = add_attendee(text, Attendee("bob@example.org", "Bob", partstat="ACCEPTED"), now=NOW)
    attendees = the_event(again)["ATTENDEE"]
    assert len(attendees) == 2 and attendees[1].params["PARTSTAT"] == "ACCEPTED"
    removed = remove_attendee(again, "BOB@example.org", now=NOW)
    assert str(the_event(removed)["ATTENDEE"]) == "mailto:ann@example.org"
    assert remove_attendee(removed, "nobody@example.org", now=NOW) == removed
    emptied = remove_attendee(removed, "ann@example.org", now=NOW)
    assert "ATTENDEE" not in the_event(emptied)


def test_attendee_on_a_single_occurrence_creates_an_override() -> None:
    tuesday = datetime(2025, 3, 18, 18, tzinfo=BERLIN)
    base = session(attendees=[ANN])
    text = add_attendee(base, Attendee("bob@example.org", "Bob"), recurrence_id=tuesday, now=NOW)
    calendar = parse_calendar(text)
    assert len(calendar.walk("VEVENT")) == 2
    by_day = {o.start.astimezone(BERLIN).day: o for o in occurrences([text], MARCH, BERLIN)}
    assert sorted(by_day) == [4, 11, 18, 25]  # nothing lost, nothing duplicated

    def emails(day: int) -> list[str]:
        value = by_day[day].component.get("ATTENDEE")
        values = value if isinstance(value, list) else [value]
        return [str(a) for a in values]

    assert emails(18) == ["mailto:ann@example.org", "mailto:bob@example.org"]
    assert emails(11) == emails(25) == ["mailto:ann@example.org"]
    assert str(by_day[18].component["SUMMARY"]) == "Yoga"  # copied from the master
    assert by_day[18].recurrence_id == tuesday
    # A second change to the same occurrence reuses its override.
    text = remove_attendee(text, "ann@example.org", recurrence_id=tuesday, now=NOW)
    assert len(parse_calendar(text).walk("VEVENT")) == 2
    by_day = {o.start.astimezone(BERLIN).day: o for o in occurrences([text], MARCH, BERLIN)}
    assert emails(18) == ["mailto:bob@example.org"]
    assert emails(25) == ["mailto:ann@example.org"]
    # A series-wide change reaches the override too.
    text = add_attendee(text, Attendee("cy@example.org"), now=NOW)
    by_day = {o.start.astimezone(BERLIN).day: o for o in occurrences([text], MARCH, BERLIN)}
    assert "mailto:cy@example.org" in emails(18) and "mailto:cy@example.org" in emails(4)


def test_override_of_an_all_day_series_uses_a_date() -> None:
    text = ics("""UID:retreat
        DTSTAMP:20250101T000000Z
        DTSTART;VALUE=DATE:20250301
        DTEND;VALUE=DATE:20250302
        RRULE:FREQ=WEEKLY
        ORGANIZER:mailto:ana@example.org""")
    updated = add_attendee(
        text, ANN, recurrence_id=local_midnight(date(2025, 3, 8), BERLIN), zone=BERLIN, now=NOW
    )
    override = next(e for e in parse_calendar(updated).walk("VEVENT") if "RECURRENCE-ID" in e)
    assert override["RECURRENCE-ID"].dt == date(2025, 3, 8)
    assert override["DTEND"].dt == date(2025, 3, 9)
    days = [o.start.astimezone(BERLIN).date() for o in occurrences([updated], MARCH, BERLIN)]
    assert days == [date(2025, 3, d) for d in (1, 8, 15, 22, 29)]
