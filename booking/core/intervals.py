"""Half-open time intervals on aware datetimes, and the set algebra slot computation needs.

An :class:`Interval` is ``[start, end)``: it contains ``start`` and not ``end``. Both ends
are instants, stored in UTC; the helpers that return lists (``normalize``, ``subtract``,
``intersect``, ``clip``) return disjoint intervals sorted by start, in UTC, and merge
intervals that overlap or merely touch.

Wall-clock conversion follows RFC 5545 section 3.3.5 and PEP 495 with ``fold=0``: a local
time that falls into a DST gap is read with the UTC offset in force before the gap (02:30 on
the spring-forward night in Berlin is 01:30Z, i.e. 03:30 CEST), and an ambiguous local time
in a fold is its first occurrence. Calendar clients and ``recurring_ical_events`` expand
events the same way, so open hours and events can never disagree about an instant.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = [
    "Interval",
    "clip",
    "from_wall_clock",
    "intersect",
    "local_midnight",
    "merged_bounds",
    "normalize",
    "split_by_local_day",
    "subtract",
    "to_utc",
]

logger = logging.getLogger(__name__)

_ZERO = timedelta(0)


def to_utc(value: datetime) -> datetime:
    """Return ``value`` (aware) as the same instant with ``tzinfo=datetime.UTC``.

    Comparisons between datetimes that share the very same ``tzinfo`` object skip the
    ``utcoffset()`` calls, which is why the hot paths normalise to ``UTC`` first.
    """
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Interval:
    """The half-open span ``[start, end)`` between two instants, stored in UTC.

    Construction takes aware datetimes in any zone and converts both ends to UTC: Python
    compares two datetimes that share a ``tzinfo`` by their wall-clock readings, which is
    wrong across a DST change, so an interval never keeps a local zone. It raises
    :class:`ValueError` for a naive datetime or when ``end`` is not after ``start`` in
    elapsed time (empty intervals do not exist; callers skip them).
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime):
                raise TypeError(f"Interval.{name} must be a datetime, got {type(value).__name__}")
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Interval.{name} is naive ({value!r}): pass an aware datetime")
            if value.tzinfo is not UTC:
                object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError(f"Interval end {self.end} is not after start {self.start}")

    @property
    def duration(self) -> timedelta:
        """Return the elapsed time between start and end."""
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        """Return whether the two intervals share at least one instant (touching is not)."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        """Return whether ``other`` lies wholly inside this interval."""
        return self.start <= other.start and other.end <= self.end

    def contains_instant(self, instant: datetime) -> bool:
        """Return whether the aware ``instant`` lies in ``[start, end)``."""
        return self.start <= to_utc(instant) < self.end

    def padded(self, before: timedelta, after: timedelta) -> Interval:
        """Return the interval widened by ``before`` at the start and ``after`` at the end.

        Used to turn an existing booking into the busy time it really occupies (its own
        buffers). Both paddings must be non-negative.
        """
        if before < _ZERO or after < _ZERO:
            raise ValueError("paddings must not be negative")
        return Interval(self.start - before, self.end + after)

    def astimezone(self, zone: tzinfo) -> tuple[datetime, datetime]:
        """Return ``(start, end)`` expressed in ``zone``, e.g. for display."""
        return self.start.astimezone(zone), self.end.astimezone(zone)


def _utc_pairs(intervals: Iterable[Interval]) -> list[tuple[datetime, datetime]]:
    return sorted((i.start, i.end) for i in intervals)


def merged_bounds(intervals: Iterable[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Return the starts and the ends of ``normalize(intervals)`` as two parallel lists.

    The same union as :func:`normalize` without building Interval objects: the fast path for
    bisecting over thousands of busy intervals. Both lists are sorted (the union is disjoint).
    """
    return _merge_pairs(_utc_pairs(intervals))


def _merge_pairs(
    pairs: list[tuple[datetime, datetime]],
) -> tuple[list[datetime], list[datetime]]:
    """Merge sorted ``(start, end)`` pairs; return parallel lists of starts and ends."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for start, end in pairs:
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Return the union of ``intervals`` as disjoint UTC intervals sorted by start.

    Overlapping and touching intervals are merged (``[9, 12)`` and ``[12, 17)`` become
    ``[9, 17)``). The input may be in any order and any zone.
    """
    starts, ends = merged_bounds(intervals)
    return [Interval(s, e) for s, e in zip(starts, ends, strict=True)]


def subtract(base: Iterable[Interval], remove: Iterable[Interval]) -> list[Interval]:
    """Return the parts of ``base`` not covered by ``remove``, normalized (sorted, UTC).

    Linear in the total number of intervals after sorting: both sides are normalized and
    swept once.
    """
    result: list[Interval] = []
    cut_starts, cut_ends = merged_bounds(remove)
    j = 0
    for interval in normalize(base):
        start, end = interval.start, interval.end
        while j < len(cut_ends) and cut_ends[j] <= start:
            j += 1
        k = j
        while k < len(cut_starts) and cut_starts[k] < end:
            if cut_starts[k] > start:
                result.append(Interval(start, cut_starts[k]))
            start = max(start, cut_ends[k])
            if start >= end:
                break
            k += 1
        if start < end:
            result.append(Interval(start, end))
    return result


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """Return the instants covered by both ``a`` and ``b``, normalized (sorted, UTC)."""
    left, right = normalize(a), normalize(b)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            result.append(Interval(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return result


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """Return ``intervals`` cut to ``window``, normalized (sorted, UTC).

    Do not clip open hours before slot computation: slots are aligned to the start of each
    open interval, and clipping would move that origin.
    """
    return intersect(intervals, [window])


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """Return the first instant of the local calendar ``day`` in ``zone``, in UTC.

    Where midnight itself falls into a DST gap, this is the end of the gap (RFC 5545 rule).
    """
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def from_wall_clock(day: date, start: time, end: time, zone: tzinfo) -> Interval | None:
    """Return the instants between two wall-clock times of ``day`` in ``zone``, in UTC.

    ``end == time(0)`` means midnight at the end of ``day`` (24:00). Gap and fold times are
    resolved with ``fold=0`` (see the module docstring), so "09:00-17:00" is 09:00-17:00 local
    on both sides of a DST change. Returns ``None`` when the wall-clock span covers no real
    time at all (it lies wholly inside a DST gap); that is logged, never silent.
    """
    first = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
    end_day = day + timedelta(days=1) if end == time(0) else day
    last = datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
    if last <= first:
        logger.warning(
            "wall-clock interval %s %s-%s in %s covers no real time (DST gap); skipped",
            day,
            start,
            end,
            zone,
        )
        return None
    return Interval(first, last)


def split_by_local_day(interval: Interval, zone: tzinfo) -> list[tuple[date, Interval]]:
    """Return ``interval`` cut at local midnights in ``zone`` as ``(local date, piece)`` pairs.

    Pieces are in UTC, in order, and cover the interval exactly. Each piece is labelled with
    the local date of its start.
    """
    start, end = interval.start, interval.end
    pieces: list[tuple[date, Interval]] = []
    while start < end:
        day = start.astimezone(zone).date()
        boundary = local_midnight(day + timedelta(days=1), zone)
        if boundary <= start:  # a zone whose clocks fall back across midnight
            boundary = local_midnight(day + timedelta(days=2), zone)
        piece_end = min(end, boundary)
        pieces.append((day, Interval(start, piece_end)))
        start = piece_end
    return pieces
