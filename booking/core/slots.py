"""Bookable slots: which start times a client may pick, and why any other start is refused.

One engine answers both questions. :func:`compute_slots` walks the candidate grid and keeps the
starts that :func:`check_slot` would accept; :func:`check_slot` runs the very same predicate on
one requested start. The two cannot disagree about a start that lies on the grid, and a start
off the grid is refused as :attr:`SlotRejection.NOT_ALIGNED` or
:attr:`SlotRejection.OUTSIDE_OPEN_HOURS`.

The rules are the ones a Calendly or Cal.com user expects:

* candidate starts are ``open.start + k * step`` for each *merged* open interval (adjacent
  open intervals such as 09:00-12:00 and 12:00-17:00 form one interval, aligned at 09:00);
  the open intervals already encode the professional's zone, so the grid is local;
* a slot ``[s, s + duration)`` lies wholly inside one merged open interval;
* the slot padded by its buffers, ``[s - buffer_before, s + duration + buffer_after)``, overlaps
  no busy interval;
* ``now + min_notice <= s <= now + horizon`` and ``window.start <= s < window.end``;
* a local day (in the professional's zone) whose booking count has reached ``daily_max``
  offers nothing.

Busy intervals are everything that blocks time: other calendar events and existing bookings.
The caller passes each existing booking already padded with *its own* buffers
(:meth:`booking.core.intervals.Interval.padded`), because those may differ from the buffers of the
service being booked now.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from booking.core.intervals import Interval, merged_bounds, to_utc

__all__ = [
    "Slot",
    "SlotRejection",
    "SlotRules",
    "check_group_session",
    "check_slot",
    "compute_group_slots",
    "compute_slots",
]

_ZERO = timedelta(0)


@dataclass(frozen=True)
class SlotRules:
    """The booking rules of one service.

    ``step`` is the distance between candidate starts (callers usually pass the duration);
    ``daily_max`` caps bookings per local day of the professional (``None`` = no cap).
    Raises :class:`ValueError` for a non-positive duration or step, a negative buffer,
    notice or horizon, or a negative ``daily_max``.
    """

    duration: timedelta
    step: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    daily_max: int | None = None

    def __post_init__(self) -> None:
        if self.duration <= _ZERO:
            raise ValueError("SlotRules.duration must be positive")
        if self.step <= _ZERO:
            raise ValueError("SlotRules.step must be positive")
        for name in ("buffer_before", "buffer_after", "min_notice", "horizon"):
            if getattr(self, name) < _ZERO:
                raise ValueError(f"SlotRules.{name} must not be negative")
        if self.daily_max is not None and self.daily_max < 0:
            raise ValueError("SlotRules.daily_max must not be negative")


@dataclass(frozen=True)
class Slot:
    """A bookable ``[start, end)`` in UTC with the seats still free (1 for one-on-one)."""

    start: datetime
    end: datetime
    seats_left: int


class SlotRejection(StrEnum):
    """Why a requested start cannot be booked.

    Only :attr:`CONFLICT` (and :attr:`FULL` for group sessions) depends on what other people
    booked meanwhile: an API maps those to 409 Conflict and the rest to 422.
    When several reasons apply, the first in this order is reported.
    """

    TOO_SOON = "too_soon"
    TOO_FAR = "too_far"
    OUTSIDE_WINDOW = "outside_window"
    OUTSIDE_OPEN_HOURS = "outside_open_hours"
    NOT_ALIGNED = "not_aligned"
    DAILY_MAX_REACHED = "daily_max_reached"
    CONFLICT = "conflict"
    FULL = "full"

    @property
    def is_conflict(self) -> bool:
        """Return whether the refusal comes from concurrent bookings (HTTP 409)."""
        return self in (SlotRejection.CONFLICT, SlotRejection.FULL)


class _Engine:
    """The inputs of one slot query, normalized once: sorted, merged, in UTC."""

    __slots__ = (
        "bookings_per_day",
        "busy_ends",
        "busy_starts",
        "daily_max",
        "duration",
        "earliest",
        "latest",
        "open_ends",
        "open_starts",
        "pad_after",
        "pad_before",
        "step",
        "window_end",
        "window_start",
        "zone",
    )

    def __init__(
        self,
        *,
        open_hours: Sequence[Interval],
        busy: Sequence[Interval],
        rules: SlotRules,
        window: Interval,
        now: datetime,
        zone: ZoneInfo,
        bookings_per_day: Mapping[date, int] | None,
    ) -> None:
        self.open_starts, self.open_ends = merged_bounds(open_hours)
        self.busy_starts, self.busy_ends = merged_bounds(busy)
        now = to_utc(now)
        self.duration = rules.duration
        self.step = rules.step
        self.pad_before = rules.buffer_before
        self.pad_after = rules.duration + rules.buffer_after
        self.earliest = now + rules.min_notice
        self.latest = now + rules.horizon
        self.window_start = window.start
        self.window_end = window.end
        self.zone = zone
        self.bookings_per_day: Mapping[date, int] = bookings_per_day or {}
        # With no cap, or a positive cap and no bookings, no day can be full: skip the
        # per-candidate time zone conversion entirely.
        self.daily_max = (
            None
            if rules.daily_max is None or (rules.daily_max > 0 and not self.bookings_per_day)
            else rules.daily_max
        )

    def rejection(self, start: datetime) -> SlotRejection | None:
        """Return why ``start`` (UTC) is not bookable, or ``None`` when it is."""
        if start < self.earliest:
            return SlotRejection.TOO_SOON
        if start > self.latest:
            return SlotRejection.TOO_FAR
        if start < self.window_start or start >= self.window_end:
            return SlotRejection.OUTSIDE_WINDOW
        i = bisect_right(self.open_starts, start) - 1
        if i < 0 or start + self.duration > self.open_ends[i]:
            return SlotRejection.OUTSIDE_OPEN_HOURS
        if (start - self.open_starts[i]) % self.step:
            return SlotRejection.NOT_ALIGNED
        if self.daily_max is not None:
            day = start.astimezone(self.zone).date()
            if self.bookings_per_day.get(day, 0) >= self.daily_max:
                return SlotRejection.DAILY_MAX_REACHED
        # The first busy interval ending after the padded start is the only one that can
        # overlap: merged busy intervals are disjoint, so their ends are sorted too.
        j = bisect_right(self.busy_ends, start - self.pad_before)
        if j < len(self.busy_starts) and self.busy_starts[j] < start + self.pad_after:
            return SlotRejection.CONFLICT
        return None

    def candidates(self) -> Iterator[datetime]:
        """Yield every grid start inside open hours and the time bounds, in order."""
        lowest = max(self.earliest, self.window_start)
        first = bisect_right(self.open_ends, lowest)
        for i in range(first, len(self.open_starts)):
            open_start, open_end = self.open_starts[i], self.open_ends[i]
            if open_start > self.latest or open_start >= self.window_end:
                break
            k = 0
            if lowest > open_start:
                k = -((open_start - lowest) // self.step)  # ceiling division
            start = open_start + k * self.step
            while (
                start + self.duration <= open_end
                and start <= self.latest
                and start < self.window_end
            ):
                yield start
                start += self.step


def compute_slots(
    *,
    open_hours: Sequence[Interval],
    busy: Sequence[Interval],
    rules: SlotRules,
    window: Interval,
    now: datetime,
    zone: ZoneInfo,
    bookings_per_day: Mapping[date, int] | None = None,
) -> list[Slot]:
    """Return the bookable one-on-one slots, sorted by start, in UTC, without duplicates.

    Assumes aware datetimes throughout; ``open_hours`` and ``busy`` may be unsorted and
    overlapping. Do not clip ``open_hours`` to the window (that moves the grid origin); pass
    whole open intervals and let ``window`` bound the starts. ``busy`` must already contain
    existing bookings padded with their own buffers, and should cover ``window`` widened by
    the buffers. ``bookings_per_day`` maps local dates in ``zone`` to bookings already made.
    Runs in O((n + m) log(n + m) + c log m) for n open, m busy intervals and c candidates.
    """
    engine = _Engine(
        open_hours=open_hours,
        busy=busy,
        rules=rules,
        window=window,
        now=now,
        zone=zone,
        bookings_per_day=bookings_per_day,
    )
    duration = rules.duration
    return [
        Slot(start, start + duration, 1)
        for start in engine.candidates()
        if engine.rejection(start) is None
    ]


def check_slot(
    *,
    start: datetime,
    open_hours: Sequence[Interval],
    busy: Sequence[Interval],
    rules: SlotRules,
    window: Interval,
    now: datetime,
    zone: ZoneInfo,
    bookings_per_day: Mapping[date, int] | None = None,
) -> SlotRejection | None:
    """Return ``None`` when ``start`` is bookable, else the first reason it is not.

    Same inputs and assumptions as :func:`compute_slots`; ``start`` must be aware. A start is
    accepted exactly when :func:`compute_slots` would return a slot starting there.
    """
    engine = _Engine(
        open_hours=open_hours,
        busy=busy,
        rules=rules,
        window=window,
        now=now,
        zone=zone,
        bookings_per_day=bookings_per_day,
    )
    return engine.rejection(to_utc(start))


def check_group_session(
    *,
    session: Interval,
    seats_taken: int,
    capacity: int,
    rules: SlotRules,
    now: datetime,
    start: datetime | None = None,
    window: Interval | None = None,
) -> SlotRejection | None:
    """Return ``None`` when a seat in ``session`` can be booked, else why not.

    Only ``rules.min_notice`` and ``rules.horizon`` apply to group sessions: the session's
    times are fixed by the teacher. ``seats_taken`` counts seats already booked. A requested
    ``start`` other than the session's is :attr:`SlotRejection.NOT_ALIGNED`; ``window``, when
    given, bounds the session's start like :func:`compute_slots`' window.
    """
    session_start = session.start
    now = to_utc(now)
    if session_start < now + rules.min_notice:
        return SlotRejection.TOO_SOON
    if session_start > now + rules.horizon:
        return SlotRejection.TOO_FAR
    if window is not None and not window.contains_instant(session_start):
        return SlotRejection.OUTSIDE_WINDOW
    if start is not None and to_utc(start) != session_start:
        return SlotRejection.NOT_ALIGNED
    if capacity - seats_taken <= 0:
        return SlotRejection.FULL
    return None


def compute_group_slots(
    *,
    sessions: Sequence[tuple[Interval, int]],
    capacity: int,
    rules: SlotRules,
    window: Interval,
    now: datetime,
) -> list[Slot]:
    """Return the group-session occurrences that still have seats, sorted, in UTC.

    ``sessions`` pairs each occurrence with the seats already taken. A slot's ``seats_left``
    is ``capacity - taken``; full sessions and those outside notice, horizon or window are
    dropped (see :func:`check_group_session`). Distinct sessions at the same time are all
    kept, in input order.
    """
    slots = [
        Slot(session.start, session.end, capacity - taken)
        for session, taken in sessions
        if check_group_session(
            session=session,
            seats_taken=taken,
            capacity=capacity,
            rules=rules,
            now=now,
            window=window,
        )
        is None
    ]
    slots.sort(key=lambda slot: (slot.start, slot.end))
    return slots
