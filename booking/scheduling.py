"""Gathering what slot computation needs from the calendar store and the
database, then asking the pure core (:mod:`booking.core.slots`).

Open hours come from the professional's Availability calendar (parsed, cached by
the calendar's ctag, so a change from a phone shows at once); busy time from the
busy-time index of every other calendar plus existing bookings padded with
their own service's buffers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.busy_index import busy_blocks
from booking.core.availability import open_intervals
from booking.core.ical.expand import occurrences
from booking.core.intervals import Interval, normalize
from booking.core.slots import (
    Slot,
    SlotRejection,
    SlotRules,
    check_group_session,
    check_slot,
    compute_group_slots,
    compute_slots,
)
from booking.models import (
    ACTIVE_STATUSES,
    Booking,
    GroupOccurrence,
    GroupSession,
    Service,
)
from caldav_server.provisioning import AVAILABILITY_CALENDAR, BOOKINGS_CALENDAR
from caldav_server.store import CalendarStore, CollectionRecord
from consult.cache import caches_of

MAX_OCCURRENCES = 5000


@dataclass(frozen=True)
class ProfessionalCalendars:
    """Where a professional's calendars live and which zone their hours are in."""

    principal: str
    zone: ZoneInfo
    availability_path: str
    bookings_path: str
    busy_paths: tuple[str, ...]
    # The collections as read with the paths, so the steps after need not look them
    # up again: Bookings for writing events (its id and path never change), and
    # Availability, whose ctag keys the open-hours cache.
    bookings_record: CollectionRecord | None = field(default=None, compare=False)
    availability_record: CollectionRecord | None = field(default=None, compare=False)


def professional_calendars(session: Session, professional: User) -> ProfessionalCalendars:
    """The professional's calendar paths (read from the store, so calendars created from
    a calendar app count as busy time too)."""
    principal = professional.principal
    if principal is None:
        raise ValueError("not a professional: no CalDAV principal")
    availability = f"{principal}/{AVAILABILITY_CALENDAR}"
    bookings = f"{principal}/{BOOKINGS_CALENDAR}"
    calendars = CalendarStore(session).calendar_collections(principal)
    return ProfessionalCalendars(
        principal=principal,
        zone=ZoneInfo(professional.timezone),
        availability_path=availability,
        bookings_path=bookings,
        busy_paths=tuple(record.path for record in calendars if record.path != availability),
        bookings_record=next((record for record in calendars if record.path == bookings), None),
        availability_record=next(
            (record for record in calendars if record.path == availability), None
        ),
    )


# --- open hours --------------------------------------------------------------------

# Open hours are computed per fixed block of time and cached by the Availability
# calendar's ctag: requests for overlapping windows share the work, and any change
# to the calendar (from the API or a phone) changes the ctag, so nothing stale is served.
_BLOCK = timedelta(days=28)
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)
_OPEN_CACHE = "booking.open_hours"
_OPEN_CACHE_SIZE = 2048


def open_hours(
    session: Session, calendars: ProfessionalCalendars, window: Interval
) -> list[Interval]:
    """Open intervals overlapping ``window`` (whole, not clipped, so the slot grid keeps
    its origin), from what the Availability calendar held when ``calendars`` was read."""
    store = CalendarStore(session)
    record = calendars.availability_record or store.get_collection(calendars.availability_path)
    if record is None:
        return []
    first = (window.start - timedelta(days=1) - _EPOCH) // _BLOCK
    last = (window.end + timedelta(days=1) - _EPOCH) // _BLOCK
    pieces: list[Interval] = []
    for block in range(first, last + 1):
        pieces.extend(_open_block(store, record.path, record.ctag, calendars.zone, block))
    return normalize(piece for piece in pieces if piece.overlaps(window))


def _open_block(
    store: CalendarStore, path: str, ctag: str, zone: ZoneInfo, block: int
) -> list[Interval]:
    cache = caches_of(store.session).cache(_OPEN_CACHE, _OPEN_CACHE_SIZE)
    key = (path, ctag, str(zone), block)
    cached: list[Interval] | None = cache.get(key)
    if cached is not None:
        return cached
    span = Interval(_EPOCH + block * _BLOCK, _EPOCH + (block + 1) * _BLOCK)
    items = store.items_in_range(
        [path], span.start - timedelta(days=1), span.end + timedelta(days=1)
    )
    result = open_intervals(
        [item.text for item in items], span, zone, max_occurrences=MAX_OCCURRENCES
    )
    cache.put(key, result)
    return result


# --- busy time ---------------------------------------------------------------------


def busy_time(
    session: Session,
    calendars: ProfessionalCalendars,
    professional_id: int,
    window: Interval,
    *,
    exclude: Booking | None = None,
) -> list[Interval]:
    """Busy intervals overlapping ``window``: calendar events (from the index) and
    active one-on-one bookings padded with their own service's buffers.

    ``exclude`` leaves one booking and its event out (rescheduling it must not collide
    with itself).
    """
    exclude_hrefs = []
    if exclude is not None and not exclude.is_group:
        exclude_hrefs.append((calendars.bookings_path, exclude.event_href))
    busy = busy_blocks(
        session,
        calendars.principal,
        window,
        calendars=calendars.busy_paths,
        exclude_hrefs=exclude_hrefs,
    )
    margin = timedelta(days=1)
    rows = session.execute(
        select(
            Booking.id,
            Booking.start,
            Booking.end,
            Service.buffer_before_minutes,
            Service.buffer_after_minutes,
        )
        .join(Service, Service.id == Booking.service_id)
        .where(
            Booking.professional_id == professional_id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.group_session_id.is_(None),
            Booking.start < window.end + margin,
            Booking.end > window.start - margin,
        )
    ).all()
    for booking_id, start, end, before, after in rows:
        if exclude is not None and booking_id == exclude.id:
            continue
        busy.append(
            Interval(start, end).padded(timedelta(minutes=before), timedelta(minutes=after))
        )
    return busy


def bookings_per_day(
    session: Session, service: Service, window: Interval, zone: ZoneInfo, *, exclude_id: int | None
) -> dict[date, int]:
    """Active bookings of ``service`` per local day of the professional, around ``window``."""
    margin = timedelta(days=1)
    query = select(Booking.start).where(
        Booking.service_id == service.id,
        Booking.status.in_(ACTIVE_STATUSES),
        Booking.start >= window.start - margin,
        Booking.start < window.end + margin,
    )
    if exclude_id is not None:
        query = query.where(Booking.id != exclude_id)
    counts: dict[date, int] = defaultdict(int)
    for (start,) in session.execute(query):
        counts[start.astimezone(zone).date()] += 1
    return counts


def slot_rules(service: Service) -> SlotRules:
    duration = timedelta(minutes=service.duration_minutes)
    return SlotRules(
        duration=duration,
        step=timedelta(minutes=service.step_minutes) if service.step_minutes else duration,
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        min_notice=timedelta(minutes=service.min_notice_minutes),
        horizon=timedelta(days=service.horizon_days),
        daily_max=service.daily_max,
    )


@dataclass(frozen=True)
class OneOnOneInputs:
    open_hours: list[Interval]
    busy: list[Interval]
    rules: SlotRules
    zone: ZoneInfo
    per_day: dict[date, int]


def _one_on_one_inputs(
    session: Session,
    service: Service,
    professional: User,
    window: Interval,
    exclude: Booking | None,
    calendars: ProfessionalCalendars | None = None,
) -> OneOnOneInputs:
    calendars = calendars or professional_calendars(session, professional)
    rules = slot_rules(service)
    padded = Interval(
        window.start - rules.buffer_before - rules.duration,
        window.end + rules.duration + rules.buffer_after,
    )
    return OneOnOneInputs(
        open_hours=open_hours(session, calendars, window),
        busy=busy_time(session, calendars, professional.id, padded, exclude=exclude),
        rules=rules,
        zone=calendars.zone,
        # Only a daily maximum needs the count.
        per_day=bookings_per_day(
            session, service, window, calendars.zone, exclude_id=exclude.id if exclude else None
        )
        if service.daily_max is not None
        else {},
    )


# --- group sessions ----------------------------------------------------------------


@dataclass(frozen=True)
class SessionOccurrence:
    session: GroupSession
    interval: Interval
    recurrence_id: datetime | None
    seats_taken: int


def group_occurrences(
    session: Session, service: Service, professional: User, window: Interval
) -> list[SessionOccurrence]:
    """Occurrences of the service's sessions overlapping ``window``, read from their
    events in the Bookings calendar (so a session cancelled or moved from a calendar app
    is seen as such), with the seats already taken."""
    sessions = list(
        session.scalars(
            select(GroupSession).where(
                GroupSession.service_id == service.id, GroupSession.cancelled_at.is_(None)
            )
        )
    )
    if not sessions:
        return []
    calendars = professional_calendars(session, professional)
    store = CalendarStore(session)
    by_uid = {group_session.event_uid: group_session for group_session in sessions}
    texts = []
    for group_session in sessions:
        item = store.get_item_by_uid(calendars.bookings_path, group_session.event_uid)
        if item is not None:
            texts.append(item.text)
    found = occurrences(texts, window, calendars.zone, max_occurrences=MAX_OCCURRENCES)
    taken = _seats_taken(session, [s.id for s in sessions], window)
    result = []
    for occurrence in found:
        owner = by_uid.get(occurrence.uid)
        if owner is None or occurrence.end <= occurrence.start:
            continue
        result.append(
            SessionOccurrence(
                session=owner,
                interval=Interval(occurrence.start, occurrence.end),
                recurrence_id=occurrence.recurrence_id,
                seats_taken=taken.get((owner.id, occurrence.start), 0),
            )
        )
    return result


def _seats_taken(
    session: Session, session_ids: Sequence[int], window: Interval
) -> dict[tuple[int, datetime], int]:
    margin = timedelta(days=1)
    rows = session.execute(
        select(Booking.group_session_id, Booking.start, func.count())
        .where(
            and_(
                Booking.group_session_id.in_(session_ids),
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.start >= window.start - margin,
                Booking.start < window.end + margin,
            )
        )
        .group_by(Booking.group_session_id, Booking.start)
    ).all()
    # group_session_id is never null here (filtered by IN above).
    return {(session_id or 0, start): count for session_id, start, count in rows}


# --- the public questions -----------------------------------------------------------


def service_slots(
    session: Session,
    service: Service,
    professional: User,
    window: Interval,
    now: datetime,
    *,
    exclude: Booking | None = None,
) -> list[Slot]:
    """Bookable slots of ``service`` whose start lies in ``window``."""
    if service.is_group:
        found = group_occurrences(session, service, professional, window)
        return compute_group_slots(
            sessions=[(item.interval, item.seats_taken) for item in found],
            capacity=service.capacity or 1,
            rules=slot_rules(service),
            window=window,
            now=now,
        )
    inputs = _one_on_one_inputs(session, service, professional, window, exclude)
    return compute_slots(
        open_hours=inputs.open_hours,
        busy=inputs.busy,
        rules=inputs.rules,
        window=window,
        now=now,
        zone=inputs.zone,
        bookings_per_day=inputs.per_day,
    )


def check_one_on_one(
    session: Session,
    service: Service,
    professional: User,
    start: datetime,
    now: datetime,
    *,
    exclude: Booking | None = None,
    calendars: ProfessionalCalendars | None = None,
) -> SlotRejection | None:
    """Why ``start`` cannot be booked for this one-on-one service now, or None."""
    duration = timedelta(minutes=service.duration_minutes)
    window = Interval(start - timedelta(days=1), start + duration + timedelta(days=1))
    inputs = _one_on_one_inputs(session, service, professional, window, exclude, calendars)
    return check_slot(
        start=start,
        open_hours=inputs.open_hours,
        busy=inputs.busy,
        rules=inputs.rules,
        window=window,
        now=now,
        zone=inputs.zone,
        bookings_per_day=inputs.per_day,
    )


def find_group_occurrence(
    session: Session, service: Service, professional: User, start: datetime, now: datetime
) -> tuple[SessionOccurrence | None, SlotRejection | None]:
    """The session occurrence starting at ``start`` and why it can't be booked, if so."""
    window = Interval(start - timedelta(days=1), start + timedelta(days=1))
    for item in group_occurrences(session, service, professional, window):
        if item.interval.start == start:
            rejection = check_group_session(
                start=start,
                session=item.interval,
                seats_taken=item.seats_taken,
                capacity=service.capacity or 1,
                rules=slot_rules(service),
                now=now,
            )
            return item, rejection
    return None, SlotRejection.OUTSIDE_OPEN_HOURS


__all__ = [
    "GroupOccurrence",
    "ProfessionalCalendars",
    "SessionOccurrence",
    "check_one_on_one",
    "find_group_occurrence",
    "group_occurrences",
    "professional_calendars",
    "service_slots",
]
