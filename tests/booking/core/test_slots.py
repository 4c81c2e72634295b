"""Slot computation (booking.core.slots): table-driven cases, DST, properties, speed."""

from __future__ import annotations

import random
import statistics
import time as clock
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.core.intervals import Interval, from_wall_clock, local_midnight, normalize
from booking.core.slots import (
    Slot,
    SlotRejection,
    SlotRules,
    check_group_session,
    check_slot,
    compute_group_slots,
    compute_slots,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
MIN = timedelta(minutes=1)
DAY = date(2025, 1, 13)  # a Monday in winter


def at(hour: int, minute: int = 0, day: date = DAY, zone: ZoneInfo = BERLIN) -> datetime:
    """An aware local time."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def span(start: datetime, end: datetime) -> Interval:
    return Interval(start, end)


def open_days(days: Sequence[date], start: time, end: time, zone: ZoneInfo) -> list[Interval]:
    """The same wall-clock hours on each day."""
    result = []
    for day in days:
        interval = from_wall_clock(day, start, end, zone)
        assert interval is not None
        result.append(interval)
    return result


def whole_days(first: date, count: int, zone: ZoneInfo = BERLIN) -> Interval:
    return Interval(
        local_midnight(first, zone), local_midnight(first + timedelta(days=count), zone)
    )


def rules(minutes: int = 50, step: int | None = None, **kwargs: object) -> SlotRules:
    return SlotRules(
        duration=timedelta(minutes=minutes),
        step=timedelta(minutes=step if step is not None else minutes),
        **kwargs,  # type: ignore[arg-type]
    )


def starts(slots: list[Slot], zone: ZoneInfo = BERLIN) -> list[str]:
    """Local start times as 'HH:MM' (dates only matter in multi-day tests)."""
    return [slot.start.astimezone(zone).strftime("%H:%M") for slot in slots]


def slots_for(
    *,
    open_hours: Sequence[Interval] | None = None,
    busy: Sequence[Interval] = (),
    slot_rules: SlotRules | None = None,
    window: Interval | None = None,
    now: datetime | None = None,
    zone: ZoneInfo = BERLIN,
    bookings_per_day: Mapping[date, int] | None = None,
) -> list[Slot]:
    return compute_slots(
        open_hours=open_hours if open_hours is not None else [span(at(9), at(17))],
        busy=busy,
        rules=slot_rules or rules(),
        window=window or whole_days(DAY, 1),
        now=now or at(0, day=DAY - timedelta(days=1)),
        zone=zone,
        bookings_per_day=bookings_per_day,
    )


# --------------------------------------------------------------------------- rules and types


def test_slot_rules_validation() -> None:
    with pytest.raises(ValueError, match="duration"):
        SlotRules(duration=timedelta(0), step=MIN)
    with pytest.raises(ValueError, match="step"):
        SlotRules(duration=MIN, step=timedelta(0))
    with pytest.raises(ValueError, match="buffer_before"):
        SlotRules(duration=MIN, step=MIN, buffer_before=-MIN)
    with pytest.raises(ValueError, match="min_notice"):
        SlotRules(duration=MIN, step=MIN, min_notice=-MIN)
    with pytest.raises(ValueError, match="daily_max"):
        SlotRules(duration=MIN, step=MIN, daily_max=-1)
    assert SlotRules(duration=MIN, step=MIN).horizon == timedelta(days=60)


def test_rejection_conflict_flag() -> None:
    assert SlotRejection.CONFLICT.is_conflict and SlotRejection.FULL.is_conflict
    assert not any(
        reason.is_conflict
        for reason in SlotRejection
        if reason not in (SlotRejection.CONFLICT, SlotRejection.FULL)
    )
    assert SlotRejection.TOO_SOON == "too_soon"  # StrEnum: serialises as its value


# --------------------------------------------------------------------------- table-driven


def test_grid_is_aligned_to_the_open_interval_start() -> None:
    result = slots_for()
    assert starts(result) == [
        "09:00",
        "09:50",
        "10:40",
        "11:30",
        "12:20",
        "13:10",
        "14:00",
        "14:50",
        "15:40",
    ]
    assert all(slot.end - slot.start == timedelta(minutes=50) for slot in result)
    assert all(slot.seats_left == 1 for slot in result)
    assert all(slot.start.tzinfo is UTC and slot.end.tzinfo is UTC for slot in result)


def test_step_smaller_than_duration() -> None:
    result = slots_for(slot_rules=rules(60, step=30), open_hours=[span(at(9), at(11))])
    assert starts(result) == ["09:00", "09:30", "10:00"]


def test_each_open_interval_has_its_own_grid() -> None:
    result = slots_for(
        open_hours=[span(at(9), at(11)), span(at(13, 15), at(15))], slot_rules=rules(50)
    )
    assert starts(result) == ["09:00", "09:50", "13:15", "14:05"]


def test_touching_open_intervals_merge_into_one_grid() -> None:
    # 09:00-12:00 + 12:00-17:00 (e.g. two events) form one interval: 11:30-12:20 is fine.
    merged = slots_for(open_hours=[span(at(12), at(17)), span(at(9), at(12))])
    assert merged == slots_for(open_hours=[span(at(9), at(17))])
    assert "11:30" in starts(merged)


def test_overlapping_unsorted_open_hours() -> None:
    result = slots_for(
        open_hours=[span(at(10), at(12)), span(at(9), at(11)), span(at(10, 30), at(11))],
        slot_rules=rules(60),
    )
    assert starts(result) == ["09:00", "10:00", "11:00"]


def test_slot_may_end_exactly_at_closing_time() -> None:
    assert starts(slots_for(open_hours=[span(at(9), at(10))], slot_rules=rules(60))) == ["09:00"]
    assert slots_for(open_hours=[span(at(9), at(9, 59))], slot_rules=rules(60)) == []


@pytest.mark.parametrize(
    ("busy", "buffer_before", "buffer_after", "expected"),
    [
        # A busy 10:00-10:30 removes the slot overlapping it.
        ([(10, 0, 10, 30)], 0, 0, ["09:00", "10:40", "11:30"]),
        # Busy touching a slot is no conflict (9:50 ends at 10:40, busy starts at 10:40).
        ([(10, 40, 11, 0)], 0, 0, ["09:00", "09:50", "11:30"]),
        # With 10 minutes after each slot, 9:50-10:40 needs 10:40-10:50 free too.
        ([(10, 45, 11, 0)], 0, 10, ["09:00", "11:30"]),
        # With 10 minutes before, 11:30 needs 11:20 free: busy ending 11:20 is fine...
        ([(11, 0, 11, 20)], 10, 0, ["09:00", "09:50", "11:30"]),
        # ... and busy ending 11:21 is not.
        ([(11, 0, 11, 21)], 10, 0, ["09:00", "09:50"]),
        # Busy intervals may be unsorted and overlap.
        ([(9, 20, 9, 40), (9, 30, 9, 45), (9, 10, 9, 20)], 0, 0, ["09:50", "10:40", "11:30"]),
    ],
)
def test_busy_and_buffers(
    busy: list[tuple[int, int, int, int]],
    buffer_before: int,
    buffer_after: int,
    expected: list[str],
) -> None:
    result = slots_for(
        open_hours=[span(at(9), at(12, 20))],
        busy=[span(at(h1, m1), at(h2, m2)) for h1, m1, h2, m2 in busy],
        slot_rules=rules(
            50,
            buffer_before=timedelta(minutes=buffer_before),
            buffer_after=timedelta(minutes=buffer_after),
        ),
    )
    assert starts(result) == expected


def test_min_notice_keeps_the_grid() -> None:
    # now 09:20 + 1 h notice = 10:20: the first grid start at or after it is 10:40.
    result = slots_for(now=at(9, 20), slot_rules=rules(50, min_notice=timedelta(hours=1)))
    assert starts(result)[0] == "10:40"
    # A start exactly at now + notice is allowed.
    result = slots_for(now=at(9, 40), slot_rules=rules(50, min_notice=timedelta(hours=1)))
    assert starts(result)[0] == "10:40"


def test_no_same_day_bookings_via_notice() -> None:
    # Maya: no same-day bookings = notice until the end of today (computed by the caller).
    now = at(8)
    notice = local_midnight(DAY + timedelta(days=1), BERLIN) - now
    result = slots_for(
        open_hours=open_days([DAY, DAY + timedelta(days=1)], time(9), time(17), BERLIN),
        window=whole_days(DAY, 2),
        now=now,
        slot_rules=rules(50, min_notice=notice),
    )
    assert result and all(
        s.start.astimezone(BERLIN).date() == DAY + timedelta(days=1) for s in result
    )


def test_horizon_is_inclusive() -> None:
    now = at(8)
    result = slots_for(now=now, slot_rules=rules(50, horizon=timedelta(hours=2, minutes=40)))
    assert starts(result) == ["09:00", "09:50", "10:40"]  # 10:40 == now + horizon


def test_window_start_inclusive_end_exclusive() -> None:
    result = slots_for(window=span(at(9, 50), at(11, 30)))
    assert starts(result) == ["09:50", "10:40"]


def test_window_does_not_move_the_grid() -> None:
    result = slots_for(window=span(at(9, 10), at(12)))
    assert starts(result) == ["09:50", "10:40", "11:30"]


def test_daily_max_drops_only_full_days() -> None:
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    common = {
        "open_hours": open_days(days, time(9), time(12), BERLIN),
        "window": whole_days(DAY, 3),
        "slot_rules": rules(60, daily_max=2),
    }
    result = slots_for(**common, bookings_per_day={days[0]: 2, days[1]: 1})  # type: ignore[arg-type]
    assert {s.start.astimezone(BERLIN).date() for s in result} == {days[1], days[2]}
    assert len(result) == 6
    assert len(slots_for(**common)) == 9  # type: ignore[arg-type]


def test_daily_max_counts_local_days() -> None:
    # Sydney open 00:00-02:00 local = 13:00-15:00Z the previous UTC day: the cap must use
    # the local date, not the UTC one.
    day = date(2025, 1, 14)
    result = slots_for(
        open_hours=open_days([day], time(0), time(2), SYDNEY),
        zone=SYDNEY,
        window=whole_days(day, 1, SYDNEY),
        now=datetime(2025, 1, 1, tzinfo=UTC),
        slot_rules=rules(60, daily_max=1),
        bookings_per_day={day - timedelta(days=1): 5},
    )
    assert len(result) == 2
    result = slots_for(
        open_hours=open_days([day], time(0), time(2), SYDNEY),
        zone=SYDNEY,
        window=whole_days(day, 1, SYDNEY),
        now=datetime(2025, 1, 1, tzinfo=UTC),
        slot_rules=rules(60, daily_max=1),
        bookings_per_day={day: 1},
    )
    assert result == []


def test_daily_max_zero_closes_every_day() -> None:
    assert slots_for(slot_rules=rules(50, daily_max=0)) == []


def test_no_open_hours_no_slots() -> None:
    assert slots_for(open_hours=[]) == []


def test_inputs_in_any_zone_give_utc_output() -> None:
    in_new_york = [Interval(at(9).astimezone(NEW_YORK), at(17).astimezone(NEW_YORK))]
    assert slots_for(open_hours=in_new_york) == slots_for()


# --------------------------------------------------------------------------- check_slot


CHECK_DEFAULTS = {
    "open_hours": [span(at(9), at(17))],
    "busy": [span(at(13), at(14))],
    "rules": rules(
        50,
        buffer_after=timedelta(minutes=10),
        min_notice=timedelta(hours=1),
        horizon=timedelta(days=2),
        daily_max=3,
    ),
    "window": whole_days(DAY, 7),
    "now": at(8),
    "zone": BERLIN,
}


@pytest.mark.parametrize(
    ("start", "overrides", "expected"),
    [
        (at(9, 50), {}, None),
        (at(8, 30), {}, SlotRejection.TOO_SOON),
        (at(9), {}, None),  # exactly now + notice
        (at(9), {"now": at(8, 1)}, SlotRejection.TOO_SOON),
        (at(9, 0, DAY + timedelta(days=3)), {}, SlotRejection.TOO_FAR),
        (at(9, 50), {"window": span(at(10), at(17))}, SlotRejection.OUTSIDE_WINDOW),
        (at(17), {}, SlotRejection.OUTSIDE_OPEN_HOURS),
        (at(16, 30), {}, SlotRejection.OUTSIDE_OPEN_HOURS),  # would end 17:20
        (at(9, 55), {}, SlotRejection.NOT_ALIGNED),
        (at(12, 20), {}, SlotRejection.CONFLICT),  # its 10-minute buffer runs into 13:00
        (at(13, 10), {}, SlotRejection.CONFLICT),
        (at(9, 50), {"bookings_per_day": {DAY: 3}}, SlotRejection.DAILY_MAX_REACHED),
        (at(9, 50), {"bookings_per_day": {DAY: 2}}, None),
    ],
)
def test_check_slot_reasons(
    start: datetime, overrides: dict[str, object], expected: SlotRejection | None
) -> None:
    kwargs = {**CHECK_DEFAULTS, **overrides}
    assert check_slot(start=start, **kwargs) == expected  # type: ignore[arg-type]


def test_check_slot_precedence() -> None:
    kwargs: dict[str, object] = {**CHECK_DEFAULTS, "busy": [span(at(8), at(10))]}
    # Busy *and* too soon: the lasting reason (422) wins over the conflict (409).
    assert check_slot(start=at(8, 10), **kwargs) == SlotRejection.TOO_SOON  # type: ignore[arg-type]
    # Busy *and* off the grid: NOT_ALIGNED.
    assert check_slot(start=at(9, 5), **kwargs) == SlotRejection.NOT_ALIGNED  # type: ignore[arg-type]
    # Busy *and* before opening: OUTSIDE_OPEN_HOURS.
    kwargs["now"] = at(0)
    assert check_slot(start=at(8, 10), **kwargs) == SlotRejection.OUTSIDE_OPEN_HOURS  # type: ignore[arg-type]
    # Only busy: CONFLICT.
    assert check_slot(start=at(9), **kwargs) == SlotRejection.CONFLICT  # type: ignore[arg-type]


def test_check_slot_accepts_any_zone() -> None:
    kwargs = dict(CHECK_DEFAULTS)
    assert check_slot(start=at(9, 50).astimezone(SYDNEY), **kwargs) is None  # type: ignore[arg-type]


# --------------------------------------------------------------------------- group sessions


def test_compute_group_slots() -> None:
    now = at(8)
    sessions = [
        (span(at(18, 0, DAY + timedelta(days=2)), at(19, 0, DAY + timedelta(days=2))), 3),
        (span(at(18, 0, DAY + timedelta(days=1)), at(19, 0, DAY + timedelta(days=1))), 0),
        (span(at(9), at(10)), 1),  # too soon (notice 2 h)
        (span(at(18), at(19)), 6),  # full
        (span(at(18, 0, DAY + timedelta(days=9)), at(19, 0, DAY + timedelta(days=9))), 0),
    ]
    result = compute_group_slots(
        sessions=sessions,
        capacity=6,
        rules=rules(60, min_notice=timedelta(hours=2), horizon=timedelta(days=7)),
        window=whole_days(DAY, 30),
        now=now,
    )
    assert [(s.start.astimezone(BERLIN).day, s.seats_left) for s in result] == [(14, 6), (15, 3)]
    assert all(s.start.tzinfo is UTC for s in result)


@pytest.mark.parametrize(
    ("start_hour", "taken", "expected"),
    [
        (12, 0, None),
        (12, 5, None),
        (12, 6, SlotRejection.FULL),
        (12, 7, SlotRejection.FULL),
        (8, 0, SlotRejection.TOO_SOON),
    ],
)
def test_check_group_session(start_hour: int, taken: int, expected: SlotRejection | None) -> None:
    result = check_group_session(
        session=span(at(start_hour), at(start_hour + 1)),
        seats_taken=taken,
        capacity=6,
        rules=rules(60, min_notice=timedelta(hours=1)),
        window=whole_days(DAY, 1),
        now=at(7, 30),
    )
    assert result == expected


def test_check_group_session_window_horizon_and_start() -> None:
    session = span(at(12, 0, DAY + timedelta(days=3)), at(13, 0, DAY + timedelta(days=3)))

    def check(**kwargs: Any) -> SlotRejection | None:
        arguments: dict[str, Any] = {
            "session": session,
            "seats_taken": 0,
            "capacity": 2,
            "now": at(0),
            "rules": rules(60),
        }
        return check_group_session(**{**arguments, **kwargs})

    assert check() is None  # no window: only notice, horizon and seats count
    assert check(rules=rules(60, horizon=timedelta(days=1))) == SlotRejection.TOO_FAR
    assert check(window=whole_days(DAY, 2)) == SlotRejection.OUTSIDE_WINDOW
    assert check(start=session.start.astimezone(SYDNEY)) is None
    assert check(start=session.start + MIN) == SlotRejection.NOT_ALIGNED
    assert check(start=session.start + MIN, seats_taken=2) == SlotRejection.NOT_ALIGNED


# --------------------------------------------------------------------------- DST

# (zone, the day clocks change, "spring" when the day is 23 hours long)
TRANSITIONS = [
    (BERLIN, date(2025, 3, 30)),
    (BERLIN, date(2025, 10, 26)),
    (NEW_YORK, date(2025, 3, 9)),
    (NEW_YORK, date(2025, 11, 2)),
    (SYDNEY, date(2025, 4, 6)),
    (SYDNEY, date(2025, 10, 5)),
]


@pytest.mark.parametrize(("zone", "change"), TRANSITIONS)
def test_same_local_slots_on_both_sides_of_a_dst_change(zone: ZoneInfo, change: date) -> None:
    days = [change + timedelta(days=k) for k in range(-3, 4)]
    result = compute_slots(
        open_hours=open_days(days, time(9), time(17), zone),
        busy=[],
        rules=rules(50, buffer_after=timedelta(minutes=10)),
        window=Interval(
            local_midnight(days[0], zone), local_midnight(change + timedelta(days=4), zone)
        ),
        now=local_midnight(days[0], zone) - timedelta(days=1),
        zone=zone,
    )
    by_day: dict[date, list[str]] = {}
    for slot in result:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(
            slot.start.astimezone(zone).strftime("%H:%M")
        )
    assert sorted(by_day) == days  # no day lost
    expected = ["09:00", "09:50", "10:40", "11:30", "12:20", "13:10", "14:00", "14:50", "15:40"]
    assert all(times == expected for times in by_day.values())
    offsets = {slot.start.astimezone(zone).utcoffset() for slot in result}
    assert len(offsets) == 2  # the UTC times did move by the DST change


@pytest.mark.parametrize(("zone", "change"), TRANSITIONS)
def test_overnight_hours_across_a_dst_change(zone: ZoneInfo, change: date) -> None:
    # Open 00:00-06:00 local on the night of the change, hourly slots: one slot per real
    # hour, none lost and none duplicated, each starting on a local full hour.
    open_hours = open_days([change], time(0), time(6), zone)
    real_hours = int(open_hours[0].duration / timedelta(hours=1))
    assert real_hours in (5, 7)
    result = compute_slots(
        open_hours=open_hours,
        busy=[],
        rules=rules(60),
        window=whole_days(change, 1, zone),
        now=local_midnight(change, zone) - timedelta(days=1),
        zone=zone,
    )
    assert len(result) == real_hours
    assert len({slot.start for slot in result}) == real_hours
    assert all(slot.start.astimezone(zone).minute == 0 for slot in result)


def test_busy_recurring_event_across_dst_blocks_same_local_time() -> None:
    # A 12:00-13:00 local lunch every day blocks the 12:20 slot on both sides of the change.
    change = date(2025, 3, 30)
    days = [change - timedelta(days=1), change + timedelta(days=1)]
    busy = open_days(days, time(12), time(13), BERLIN)
    result = compute_slots(
        open_hours=open_days(days, time(9), time(17), BERLIN),
        busy=busy,
        rules=rules(50),
        window=whole_days(days[0], 3),
        now=at(0, day=days[0] - timedelta(days=1)),
        zone=BERLIN,
    )
    for day in days:
        times = [
            s.start.astimezone(BERLIN).strftime("%H:%M")
            for s in result
            if s.start.astimezone(BERLIN).date() == day
        ]
        assert "12:20" not in times and "11:30" not in times and "13:10" in times


# --------------------------------------------------------------------------- properties

# The model below is deliberately naive: it enumerates every grid point of every merged
# open interval and tests each rule against every busy interval directly.

ZONES = [BERLIN, NEW_YORK, SYDNEY]
BASES = {
    BERLIN: datetime(2025, 3, 28, tzinfo=BERLIN),  # spans the spring change
    NEW_YORK: datetime(2025, 10, 31, tzinfo=NEW_YORK),  # spans the autumn change
    SYDNEY: datetime(2025, 4, 4, tzinfo=SYDNEY),  # spans the autumn (April) change
}


def reference_reason(
    start: datetime,
    *,
    open_hours: Sequence[Interval],
    busy: Sequence[Interval],
    rules: SlotRules,
    window: Interval,
    now: datetime,
    zone: ZoneInfo,
    bookings_per_day: Mapping[date, int] | None,
) -> SlotRejection | None:
    now = now.astimezone(UTC)  # notice and horizon are elapsed time, not wall-clock time
    if start < now + rules.min_notice:
        return SlotRejection.TOO_SOON
    if start > now + rules.horizon:
        return SlotRejection.TOO_FAR
    if not window.start <= start < window.end:
        return SlotRejection.OUTSIDE_WINDOW
    end = start + rules.duration
    containing = [o for o in normalize(open_hours) if o.start <= start and end <= o.end]
    if not containing:
        return SlotRejection.OUTSIDE_OPEN_HOURS
    if (start - containing[0].start) % rules.step:
        return SlotRejection.NOT_ALIGNED
    if rules.daily_max is not None:
        if (bookings_per_day or {}).get(start.astimezone(zone).date(), 0) >= rules.daily_max:
            return SlotRejection.DAILY_MAX_REACHED
    padded_start, padded_end = start - rules.buffer_before, end + rules.buffer_after
    if any(b.start < padded_end and padded_start < b.end for b in busy):
        return SlotRejection.CONFLICT
    return None


def reference_slots(**kwargs: object) -> list[Slot]:
    rules_: SlotRules = kwargs["rules"]  # type: ignore[assignment]
    found = []
    for open_interval in normalize(kwargs["open_hours"]):  # type: ignore[arg-type]
        start = open_interval.start
        while start + rules_.duration <= open_interval.end:
            if reference_reason(start, **kwargs) is None:  # type: ignore[arg-type]
                found.append(Slot(start, start + rules_.duration, 1))
            start += rules_.step
    return found


def generous_or_any(generous: list[int], upper: int, lower: int = 0) -> st.SearchStrategy[int]:
    """Mostly one of the generous values (so most problems have slots), sometimes any."""
    return st.one_of(
        st.sampled_from(generous),
        st.sampled_from(generous),
        st.sampled_from(generous),
        st.integers(lower, upper),
    )


@st.composite
def slot_problems(draw: st.DrawFn) -> dict[str, object]:
    zone = draw(st.sampled_from(ZONES))
    base = BASES[zone].astimezone(UTC)  # elapsed-time arithmetic across the DST change
    horizon_minutes = 5 * 24 * 60

    def interval(max_length: int) -> st.SearchStrategy[Interval]:
        length = st.integers(max_length // 4, max_length) | st.integers(1, max_length)
        return st.tuples(st.integers(0, horizon_minutes), length).map(
            lambda p: Interval(
                base + timedelta(minutes=p[0]), base + timedelta(minutes=p[0] + p[1])
            )
        )

    open_hours = draw(st.lists(interval(10 * 60), min_size=1, max_size=8))
    busy = draw(st.lists(interval(90), max_size=12))
    duration = draw(st.sampled_from([15, 30, 45, 50, 60, 90]))
    step = draw(st.sampled_from([5, 10, 15, 30, 50, 60, duration]))
    # Mostly generous limits, so that most problems have slots; sometimes tight ones.
    rules_ = SlotRules(
        duration=timedelta(minutes=duration),
        step=timedelta(minutes=step),
        buffer_before=timedelta(minutes=draw(st.sampled_from([0, 5, 10, 15]))),
        buffer_after=timedelta(minutes=draw(st.sampled_from([0, 5, 10, 15]))),
        min_notice=timedelta(minutes=draw(generous_or_any([0, 60, 180], 2 * 1440))),
        horizon=timedelta(minutes=draw(generous_or_any([8 * 1440, 60 * 1440], 8 * 1440))),
        daily_max=draw(st.sampled_from([None, None, 0, 1, 2, 3])),
    )
    window_start = draw(generous_or_any([-1440, 0], horizon_minutes, -600))
    window_length = draw(generous_or_any([7 * 1440], horizon_minutes, 1))
    first_day = BASES[zone].date()
    bookings = draw(
        st.dictionaries(
            st.integers(-1, 6).map(lambda k: first_day + timedelta(days=k)),
            st.integers(0, 4),
            max_size=5,
        )
    )
    return {
        "open_hours": open_hours,
        "busy": busy,
        "rules": rules_,
        "window": Interval(
            base + timedelta(minutes=window_start),
            base + timedelta(minutes=window_start + window_length),
        ),
        "now": base + timedelta(minutes=draw(st.integers(-2 * 1440, 0) | st.integers(0, 3 * 1440))),
        "zone": zone,
        "bookings_per_day": bookings or None,
    }


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(slot_problems())
def test_compute_slots_matches_the_naive_model(problem: dict[str, object]) -> None:
    assert compute_slots(**problem) == reference_slots(**problem)  # type: ignore[arg-type]


@PROPERTY_SETTINGS
@given(slot_problems())
def test_every_slot_obeys_every_rule(problem: dict[str, object]) -> None:
    result = compute_slots(**problem)  # type: ignore[arg-type]
    rules_: SlotRules = problem["rules"]  # type: ignore[assignment]
    window: Interval = problem["window"]  # type: ignore[assignment]
    now: datetime = problem["now"]  # type: ignore[assignment]
    zone: ZoneInfo = problem["zone"]  # type: ignore[assignment]
    merged_open = normalize(problem["open_hours"])  # type: ignore[arg-type]
    bookings: Mapping[date, int] = problem["bookings_per_day"] or {}  # type: ignore[assignment]
    assert [s.start for s in result] == sorted({s.start for s in result})  # sorted, unique
    for slot in result:
        assert slot.start.tzinfo is UTC and slot.seats_left == 1
        assert slot.end - slot.start == rules_.duration
        padded = Interval(slot.start - rules_.buffer_before, slot.end + rules_.buffer_after)
        assert not any(padded.overlaps(b) for b in problem["busy"])  # type: ignore[attr-defined]
        [container] = [o for o in merged_open if o.contains(Interval(slot.start, slot.end))]
        assert (slot.start - container.start) % rules_.step == timedelta(0)
        assert now + rules_.min_notice <= slot.start <= now + rules_.horizon
        assert window.start <= slot.start < window.end
        if rules_.daily_max is not None:
            assert bookings.get(slot.start.astimezone(zone).date(), 0) < rules_.daily_max


@PROPERTY_SETTINGS
@given(slot_problems(), st.lists(st.integers(-600, 6 * 24 * 60), max_size=30))
def test_check_slot_agrees_with_compute_slots(
    problem: dict[str, object], probe_minutes: list[int]
) -> None:
    result = compute_slots(**problem)  # type: ignore[arg-type]
    for slot in result:
        assert check_slot(start=slot.start, **problem) is None  # type: ignore[arg-type]
    returned = {slot.start for slot in result}
    zone: ZoneInfo = problem["zone"]  # type: ignore[assignment]
    base = BASES[zone].astimezone(UTC)
    probes = [base + timedelta(minutes=m) for m in probe_minutes]
    # Also probe the grid itself, where only the rules (not alignment) can refuse.
    rules_: SlotRules = problem["rules"]  # type: ignore[assignment]
    for open_interval in normalize(problem["open_hours"])[:3]:  # type: ignore[arg-type]
        probes += [open_interval.start + k * rules_.step for k in range(5)]
    for start in probes:
        reason = check_slot(start=start, **problem)  # type: ignore[arg-type]
        assert (reason is None) == (start in returned)
        assert reason == reference_reason(start, **problem)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    # Sessions of one class start at distinct times (one slot per start).
    st.lists(
        st.tuples(st.integers(0, 30 * 24 * 60), st.integers(0, 10)),
        max_size=20,
        unique_by=lambda session: session[0],
    ),
    st.integers(1, 10),
    st.integers(-3 * 24 * 60, 30 * 24 * 60),
    st.integers(0, 24 * 60),
    st.integers(0, 20 * 24 * 60),
)
def test_group_slots_properties(
    raw: list[tuple[int, int]], capacity: int, now_minute: int, notice: int, horizon: int
) -> None:
    base = datetime(2025, 3, 1, tzinfo=BERLIN)
    sessions = [
        (Interval(base + timedelta(minutes=m), base + timedelta(minutes=m + 60)), taken)
        for m, taken in raw
    ]
    now = base + timedelta(minutes=now_minute)
    slot_rules = rules(60, min_notice=timedelta(minutes=notice), horizon=timedelta(minutes=horizon))
    window = whole_days(base.date(), 20)
    result = compute_group_slots(
        sessions=sessions, capacity=capacity, rules=slot_rules, window=window, now=now
    )
    assert [s.start for s in result] == sorted(s.start for s in result)
    assert all(0 < s.seats_left <= capacity for s in result)
    expected = sorted(
        (session.start, capacity - taken)
        for session, taken in sessions
        if taken < capacity
        and now + slot_rules.min_notice <= session.start
        and session.start <= now + slot_rules.horizon
        and window.contains_instant(session.start)
    )
    assert [(s.start, s.seats_left) for s in result] == expected


# --------------------------------------------------------------------------- speed


def test_thirty_days_with_ten_thousand_busy_intervals_is_fast() -> None:
    rng = random.Random(7)
    first = date(2025, 3, 17)
    days = [first + timedelta(days=k) for k in range(30)]
    open_hours = open_days([d for d in days if d.weekday() < 5], time(9), time(17), BERLIN)
    window = whole_days(first, 30)
    busy = []
    for day in days:
        blocks = [
            local_midnight(day, BERLIN) + timedelta(hours=rng.randrange(6, 20)) for _ in range(3)
        ]
        for index in range(334):
            start = blocks[index % 3] + timedelta(minutes=rng.randrange(60))
            busy.append(Interval(start, start + timedelta(minutes=rng.choice((1, 5, 15)))))
    rng.shuffle(busy)
    kwargs = {
        "open_hours": open_hours,
        "busy": busy[:10_000],
        "window": window,
        "zone": BERLIN,
        "rules": rules(
            50, step=15, buffer_before=timedelta(minutes=10), buffer_after=timedelta(minutes=10)
        ),
        "now": window.start - timedelta(days=1),
    }
    result = compute_slots(**kwargs)  # type: ignore[arg-type]
    assert result  # the scenario leaves room between the meetings
    timings = []
    for _ in range(7):
        began = clock.perf_counter()
        compute_slots(**kwargs)  # type: ignore[arg-type]
        timings.append(clock.perf_counter() - began)
    # The target is well under 25 ms (about 7 ms here); the bound leaves room for slow CI.
    assert statistics.median(timings) < 0.1
