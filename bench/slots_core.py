"""Micro-benchmark of booking.core.slots.compute_slots: 30 days, 10,000 busy intervals.

Run from the repository root::

    .venv/bin/python bench/slots_core.py [--runs 50] [--busy 10000] [--days 30]

Prints the median and p95 wall time of one compute_slots call (inputs built once, outside the
timed region), plus the same for check_slot on a single start. The brief's target is a median
well under 25 ms on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booking.core.intervals import Interval, from_wall_clock  # noqa: E402
from booking.core.slots import SlotRules, check_slot, compute_slots  # noqa: E402


def build_inputs(days: int, busy_count: int, seed: int = 1) -> dict[str, object]:
    """Return compute_slots keyword arguments: 09:00-17:00 Berlin weekdays, random busy."""
    zone = ZoneInfo("Europe/Berlin")
    rng = random.Random(seed)
    first_day = date(2025, 3, 17)  # the 30 days span the March DST change
    open_hours = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if day.weekday() < 5:
            interval = from_wall_clock(day, time(9), time(17), zone)
            if interval is not None:
                open_hours.append(interval)
    window = Interval(
        datetime.combine(first_day, time(0), tzinfo=zone),
        datetime.combine(first_day + timedelta(days=days), time(0), tzinfo=zone),
    )
    # Busy time as busy_intervals() and the booking table deliver it: UTC, unsorted, often
    # overlapping (imported calendars repeat themselves). It clusters in three meeting blocks
    # a day, so that slots remain between them and the result is not trivially empty.
    blocks = [
        [window.start + timedelta(days=offset, hours=rng.randrange(6, 20)) for _ in range(3)]
        for offset in range(days)
    ]
    busy = []
    for index in range(busy_count):
        start = blocks[index % days][index % 3] + timedelta(minutes=rng.randrange(60))
        busy.append(Interval(start, start + timedelta(minutes=rng.choice((1, 5, 15)))))
    rng.shuffle(busy)
    rules = SlotRules(
        duration=timedelta(minutes=50),
        step=timedelta(minutes=15),
        buffer_before=timedelta(minutes=10),
        buffer_after=timedelta(minutes=10),
        min_notice=timedelta(hours=12),
        horizon=timedelta(days=60),
    )
    return {
        "open_hours": open_hours,
        "busy": busy,
        "rules": rules,
        "window": window,
        "now": window.start - timedelta(days=1),
        "zone": zone,
    }


def measure(runs: int, func: object, kwargs: dict[str, object]) -> list[float]:
    """Return the wall time in milliseconds of each of ``runs`` calls of ``func(**kwargs)``."""
    timings = []
    for _ in range(runs):
        began = perf_counter()
        func(**kwargs)  # type: ignore[operator]
        timings.append((perf_counter() - began) * 1000)
    return timings


def report(name: str, timings: list[float]) -> None:
    """Print median and p95 of ``timings``."""
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    print(
        f"{name}: median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms "
        f"over {len(ordered)} runs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--busy", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    kwargs = build_inputs(args.days, args.busy)
    slots = compute_slots(**kwargs)  # type: ignore[arg-type]
    print(f"{args.days} days, {args.busy} busy intervals, {len(slots)} slots returned")
    measure(3, compute_slots, kwargs)  # warm-up
    report("compute_slots", measure(args.runs, compute_slots, kwargs))
    start = slots[0].start if slots else kwargs["window"].start  # type: ignore[attr-defined]
    report("check_slot", measure(args.runs, check_slot, {**kwargs, "start": start}))


if __name__ == "__main__":
    main()
