"""Interval algebra and wall-clock conversion (booking.core.intervals)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.core.intervals import (
    Interval,
    clip,
    from_wall_clock,
    intersect,
    local_midnight,
    merged_bounds,
    normalize,
    split_by_local_day,
    subtract,
    to_utc,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
SANTIAGO = ZoneInfo("America/Santiago")  # its DST changes happen at midnight
T0 = datetime(2025, 1, 6, tzinfo=UTC)


def iv(start_minute: int, end_minute: int) -> Interval:
    """An interval given as minutes after T0."""
    return Interval(T0 + timedelta(minutes=start_minute), T0 + timedelta(minutes=end_minute))


def minutes(intervals: list[Interval]) -> set[int]:
    """The set of whole minutes (after T0) the intervals cover: a model to check against."""
    covered: set[int] = set()
    for interval in intervals:
        first = (interval.start - T0) // timedelta(minutes=1)
        last = (interval.end - T0) // timedelta(minutes=1)
        covered.update(range(first, last))
    return covered


def is_normalized(intervals: list[Interval]) -> bool:
    """Sorted, disjoint and not touching, all in UTC."""
    return all(i.start.tzinfo is UTC and i.end.tzinfo is UTC for i in intervals) and all(
        a.end < b.start for a, b in zip(intervals, intervals[1:], strict=False)
    )


# --------------------------------------------------------------------------- Interval


def test_interval_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        Interval(datetime(2025, 1, 1), datetime(2025, 1, 2, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        Interval(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2))


@pytest.mark.parametrize("length", [timedelta(0), timedelta(minutes=-1)])
def test_interval_rejects_empty_and_reversed(length: timedelta) -> None:
    with pytest.raises(ValueError, match="not after start"):
        Interval(T0, T0 + length)


def test_interval_rejects_dates() -> None:
    with pytest.raises(TypeError):
        Interval(date(2025, 1, 1), date(2025, 1, 2))  # type: ignore[arg-type]


def test_interval_is_frozen_and_stored_in_utc() -> None:
    berlin = Interval(
        datetime(2025, 1, 6, 9, tzinfo=BERLIN), datetime(2025, 1, 6, 10, tzinfo=BERLIN)
    )
    assert berlin.start == datetime(2025, 1, 6, 8, tzinfo=UTC)
    assert berlin.start.tzinfo is UTC and berlin.end.tzinfo is UTC
    assert berlin == Interval(
        datetime(2025, 1, 6, 8, tzinfo=UTC), datetime(2025, 1, 6, 9, tzinfo=UTC)
    )
    assert berlin.astimezone(BERLIN)[0].hour == 9
    with pytest.raises(AttributeError):
        berlin.start = T0  # type: ignore[misc]


def test_interval_order_is_checked_in_elapsed_time() -> None:
    # Python compares datetimes sharing a tzinfo by wall clock: 02:30 < 03:00. But on the
    # spring-forward night 02:30 Berlin (read with +01:00) is 01:30Z and 03:00 is 01:00Z.
    with pytest.raises(ValueError, match="not after start"):
        Interval(
            datetime(2025, 3, 30, 2, 30, tzinfo=BERLIN), datetime(2025, 3, 30, 3, tzinfo=BERLIN)
        )


def test_duration_is_elapsed_time_across_dst() -> None:
    day = Interval(datetime(2025, 3, 30, tzinfo=BERLIN), datetime(2025, 3, 31, tzinfo=BERLIN))
    assert day.duration == timedelta(hours=23)
    day = Interval(datetime(2025, 10, 26, tzinfo=BERLIN), datetime(2025, 10, 27, tzinfo=BERLIN))
    assert day.duration == timedelta(hours=25)


def test_overlaps_contains_and_padding() -> None:
    a, b, c = iv(0, 60), iv(60, 120), iv(30, 90)
    assert not a.overlaps(b) and not b.overlaps(a)  # touching is not overlapping
    assert a.overlaps(c) and c.overlaps(b)
    assert iv(0, 120).contains(c) and not a.contains(c)
    assert a.contains_instant(T0) and not a.contains_instant(T0 + timedelta(minutes=60))
    assert a.padded(timedelta(minutes=10), timedelta(minutes=5)) == iv(-10, 65)
    with pytest.raises(ValueError):
        a.padded(timedelta(minutes=-1), timedelta(0))


def test_to_utc_rejects_naive() -> None:
    with pytest.raises(ValueError):
        to_utc(datetime(2025, 1, 1))
    assert to_utc(datetime(2025, 7, 1, 9, tzinfo=BERLIN)) == datetime(2025, 7, 1, 7, tzinfo=UTC)


# --------------------------------------------------------------------------- set algebra


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], []),
        ([iv(0, 10)], [iv(0, 10)]),
        ([iv(20, 30), iv(0, 10)], [iv(0, 10), iv(20, 30)]),  # sorted
        ([iv(0, 10), iv(10, 20)], [iv(0, 20)]),  # touching merges
        ([iv(0, 15), iv(10, 20)], [iv(0, 20)]),  # overlapping merges
        ([iv(0, 100), iv(10, 20), iv(30, 40)], [iv(0, 100)]),  # contained
        ([iv(0, 10), iv(0, 10)], [iv(0, 10)]),  # duplicates
    ],
)
def test_normalize_table(given: list[Interval], expected: list[Interval]) -> None:
    result = normalize(given)
    assert result == expected
    assert is_normalized(result)


def test_normalize_converts_to_utc() -> None:
    local = Interval(
        datetime(2025, 7, 1, 9, tzinfo=BERLIN), datetime(2025, 7, 1, 17, tzinfo=BERLIN)
    )
    [result] = normalize([local])
    assert result.start == datetime(2025, 7, 1, 7, tzinfo=UTC)
    assert result.start.tzinfo is UTC and normalize([local, local]) == [result]


def test_merged_bounds_matches_normalize() -> None:
    given = [iv(50, 60), iv(0, 10), iv(5, 20), iv(20, 30)]
    starts, ends = merged_bounds(given)
    assert [Interval(s, e) for s, e in zip(starts, ends, strict=True)] == normalize(given)


@pytest.mark.parametrize(
    ("base", "remove", "expected"),
    [
        ([iv(0, 100)], [], [iv(0, 100)]),
        ([iv(0, 100)], [iv(20, 30)], [iv(0, 20), iv(30, 100)]),
        ([iv(0, 100)], [iv(-10, 10), iv(90, 110)], [iv(10, 90)]),
        ([iv(0, 100)], [iv(-10, 110)], []),
        ([iv(0, 100)], [iv(100, 110)], [iv(0, 100)]),  # touching removes nothing
        ([iv(0, 10), iv(20, 30)], [iv(5, 25)], [iv(0, 5), iv(25, 30)]),
        (
            [iv(0, 10), iv(20, 30)],
            [iv(1, 2), iv(3, 4), iv(21, 22)],
            [iv(0, 1), iv(2, 3), iv(4, 10), iv(20, 21), iv(22, 30)],
        ),
    ],
)
def test_subtract_table(
    base: list[Interval], remove: list[Interval], expected: list[Interval]
) -> None:
    assert subtract(base, remove) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([iv(0, 10)], [iv(5, 15)], [iv(5, 10)]),
        ([iv(0, 10)], [iv(10, 15)], []),
        ([iv(0, 10), iv(20, 30)], [iv(5, 25)], [iv(5, 10), iv(20, 25)]),
        ([iv(0, 100)], [iv(10, 20), iv(30, 40)], [iv(10, 20), iv(30, 40)]),
    ],
)
def test_intersect_table(a: list[Interval], b: list[Interval], expected: list[Interval]) -> None:
    assert intersect(a, b) == expected
    assert intersect(b, a) == expected


def test_clip_cuts_to_window() -> None:
    assert clip([iv(0, 50), iv(60, 70), iv(90, 200)], iv(40, 100)) == [
        iv(40, 50),
        iv(60, 70),
        iv(90, 100),
    ]


spans = st.lists(
    st.tuples(st.integers(0, 300), st.integers(1, 60)).map(lambda p: iv(p[0], p[0] + p[1])),
    max_size=12,
)


@given(spans, spans)
def test_set_operations_match_a_minute_model(a: list[Interval], b: list[Interval]) -> None:
    assert minutes(normalize(a)) == minutes(a)
    assert is_normalized(normalize(a))
    assert minutes(subtract(a, b)) == minutes(a) - minutes(b)
    assert is_normalized(subtract(a, b))
    assert minutes(intersect(a, b)) == minutes(a) & minutes(b)
    assert is_normalized(intersect(a, b))
    window = iv(100, 200)
    assert minutes(clip(a, window)) == minutes(a) & minutes([window])


# --------------------------------------------------------------------------- wall clock


@pytest.mark.parametrize(
    ("zone", "day", "utc_start", "utc_end"),
    [
        (
            BERLIN,
            date(2025, 1, 15),
            datetime(2025, 1, 15, 8, tzinfo=UTC),
            datetime(2025, 1, 15, 16, tzinfo=UTC),
        ),
        (
            BERLIN,
            date(2025, 7, 15),
            datetime(2025, 7, 15, 7, tzinfo=UTC),
            datetime(2025, 7, 15, 15, tzinfo=UTC),
        ),
        (
            NEW_YORK,
            date(2025, 1, 15),
            datetime(2025, 1, 15, 14, tzinfo=UTC),
            datetime(2025, 1, 15, 22, tzinfo=UTC),
        ),
        (
            NEW_YORK,
            date(2025, 7, 15),
            datetime(2025, 7, 15, 13, tzinfo=UTC),
            datetime(2025, 7, 15, 21, tzinfo=UTC),
        ),
        (
            SYDNEY,
            date(2025, 1, 15),
            datetime(2025, 1, 14, 22, tzinfo=UTC),
            datetime(2025, 1, 15, 6, tzinfo=UTC),
        ),
        (
            SYDNEY,
            date(2025, 7, 15),
            datetime(2025, 7, 14, 23, tzinfo=UTC),
            datetime(2025, 7, 15, 7, tzinfo=UTC),
        ),
    ],
)
def test_nine_to_five_is_local_on_both_sides_of_dst(
    zone: ZoneInfo, day: date, utc_start: datetime, utc_end: datetime
) -> None:
    assert from_wall_clock(day, time(9), time(17), zone) == Interval(utc_start, utc_end)


def test_wall_clock_end_of_day() -> None:
    interval = from_wall_clock(date(2025, 3, 30), time(0), time(0), BERLIN)
    assert interval is not None
    assert interval.duration == timedelta(hours=23)  # the spring-forward day is short
    assert interval.end == local_midnight(date(2025, 3, 31), BERLIN)


def test_wall_clock_gap_uses_offset_before_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2025-03-30; RFC 5545: read it with +01:00.
    interval = from_wall_clock(date(2025, 3, 30), time(2, 30), time(4), BERLIN)
    assert interval == Interval(
        datetime(2025, 3, 30, 1, 30, tzinfo=UTC), datetime(2025, 3, 30, 2, tzinfo=UTC)
    )


def test_wall_clock_fold_uses_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 2025-10-26; the first time is 00:30Z.
    interval = from_wall_clock(date(2025, 10, 26), time(2, 30), time(4), BERLIN)
    assert interval is not None
    assert interval.start == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert interval.duration == timedelta(hours=2, minutes=30)


def test_wall_clock_wholly_in_gap_is_none_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="booking.core.intervals"):
        assert from_wall_clock(date(2025, 3, 30), time(2), time(3), BERLIN) is None
    assert "DST gap" in caplog.text


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, date(2025, 3, 30), 23),
        (BERLIN, date(2025, 10, 26), 25),
        (NEW_YORK, date(2025, 3, 9), 23),
        (NEW_YORK, date(2025, 11, 2), 25),
        (SYDNEY, date(2025, 4, 6), 25),
        (SYDNEY, date(2025, 10, 5), 23),
        (SANTIAGO, date(2024, 9, 8), 23),  # clocks jump from 00:00 to 01:00
        (SANTIAGO, date(2024, 4, 6), 25),  # clocks fall back from 24:00 to 23:00
        (BERLIN, date(2025, 6, 1), 24),
    ],
)
def test_split_by_local_day_on_transition_days(zone: ZoneInfo, day: date, hours: int) -> None:
    week = Interval(
        local_midnight(day - timedelta(days=2), zone), local_midnight(day + timedelta(days=3), zone)
    )
    pieces = split_by_local_day(week, zone)
    assert [d for d, _ in pieces] == [day + timedelta(days=k) for k in range(-2, 3)]
    assert pieces[0][1].start == week.start and pieces[-1][1].end == week.end
    assert all(a.end == b.start for (_, a), (_, b) in zip(pieces, pieces[1:], strict=False))
    assert dict(pieces)[day].duration == timedelta(hours=hours)


@settings(max_examples=60)
@given(
    st.sampled_from([BERLIN, NEW_YORK, SYDNEY, SANTIAGO]),
    st.integers(0, 400 * 24 * 60),
    st.integers(1, 5 * 24 * 60),
)
def test_split_by_local_day_covers_exactly(zone: ZoneInfo, offset: int, length: int) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=offset)
    interval = Interval(start, start + timedelta(minutes=length))
    pieces = split_by_local_day(interval, zone)
    assert pieces[0][1].start == interval.start and pieces[-1][1].end == interval.end
    assert all(a.end == b.start for (_, a), (_, b) in zip(pieces, pieces[1:], strict=False))
    for day, piece in pieces:
        assert piece.start.astimezone(zone).date() == day
        # every piece stays within one local day
        assert (piece.end - timedelta(microseconds=1)).astimezone(zone).date() == day
