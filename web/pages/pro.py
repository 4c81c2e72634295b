"""The professional's pages under ``/pro``: onboarding, the dashboard (week and day
views of bookings, classes and busy time, and the upcoming list). Profile, services,
hours and calendar connection add their routes to the same blueprint from their own
modules."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking import catalog, hours, scheduling
from booking.busy_index import busy_blocks
from booking.core.intervals import Interval, local_midnight
from booking.models import ACTIVE_STATUSES, Booking
from consult.bounds import parse_date
from consult.db import utcnow
from directory.profiles import get_profile
from web.pages.helpers import load_zone, professional_required, user_names
from web.session import get_session

bp = Blueprint("pro", __name__, url_prefix="/pro")


# --- onboarding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Which onboarding steps a professional has done."""

    profile: bool
    service: bool
    hours: bool

    @property
    def done(self) -> bool:
        return self.profile and self.service and self.hours

    def next_endpoint(self) -> str | None:
        for done, endpoint in (
            (self.profile, "pro.profile"),
            (self.service, "pro.new_service"),
            (self.hours, "pro.hours_page"),
        ):
            if not done:
                return endpoint
        return None


def progress_of(session: Session, user: User) -> Progress:
    """Onboarding progress read from what exists (nothing is stored for it)."""
    profile = get_profile(session, user.id)
    has_services = bool(catalog.list_services(session, user.id, include_unpublished=True))
    weekly = hours.get_hours(session, user, utcnow().date()).weekly
    return Progress(
        profile=bool(profile and profile.headline and profile.languages),
        service=has_services,
        hours=any(weekly.values()),
    )


def after_step(step_done: str) -> str:
    """Where to go after saving an onboarding step: the next open step, or the welcome
    page when everything is done; outside onboarding, back to the page itself."""
    if request.args.get("onboarding") != "1":
        return ""
    progress = progress_of(get_session(), current_user.account)
    endpoint = progress.next_endpoint()
    if endpoint is None:
        return url_for("pro.welcome", done="1")
    return url_for(endpoint, onboarding="1")


@bp.get("/welcome")
@professional_required
def welcome() -> Any:
    """The onboarding checklist: profile, first service, weekly hours, then calendar."""
    session = get_session()
    user = current_user.account
    return render_template(
        "pro/welcome.html",
        progress=progress_of(session, user),
        public_url=url_for("public.professional", principal=user.principal, _external=True),
    )


# --- dashboard ----------------------------------------------------------------------------


@dataclass
class Entry:
    """Something on the professional's calendar: a booking, a class, busy or open time."""

    kind: str  # "booking" | "class" | "busy" | "open"
    start: datetime
    end: datetime
    title: str
    people: list[str] = field(default_factory=list)
    note: str = ""
    url: str | None = None
    top: float = 0.0
    height: float = 0.0
    # For the agenda: "09:00–17:00", "all day", an end at midnight as 24:00.
    span: str = ""


@dataclass
class Day:
    """One day of the dashboard: its entries and its open hours."""

    day: date
    is_today: bool
    entries: list[Entry]
    open: list[Entry]

    @property
    def items(self) -> list[Entry]:
        return [entry for entry in self.entries if entry.kind != "open"]


def agenda(session: Session, user: User, window: Interval) -> list[Entry]:
    """Bookings, class sessions (with who comes) and busy time overlapping ``window``."""
    calendars = scheduling.professional_calendars(session, user)
    entries: list[Entry] = []
    rows = session.scalars(
        select(Booking)
        .where(
            Booking.professional_id == user.id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.start < window.end,
            Booking.end > window.start,
        )
        .order_by(Booking.start)
    ).all()
    names = user_names(session, (row.client_id for row in rows))
    seats: dict[tuple[int, datetime], list[str]] = defaultdict(list)
    for booking in rows:
        if booking.group_session_id is not None:
            seats[(booking.group_session_id, booking.start)].append(
                names.get(booking.client_id, "")
            )
            continue
        entries.append(
            Entry(
                "booking",
                booking.start,
                booking.end,
                booking.service.title,
                people=[names.get(booking.client_id, "")],
                note=booking.client_note,
                url=url_for("booking_pages.booking_detail", booking_id=booking.id),
            )
        )
    for service in catalog.list_services(session, user.id, include_unpublished=True):
        if not service.is_group:
            continue
        for occurrence in scheduling.group_occurrences(session, service, user, window):
            people = seats.get((occurrence.session.id, occurrence.interval.start), [])
            entries.append(
                Entry(
                    "class",
                    occurrence.interval.start,
                    occurrence.interval.end,
                    service.title,
                    people=people,
                    note=f"{len(people)} of {service.capacity or 0} places booked",
                    url=url_for("pro.sessions", service_id=service.id),
                )
            )
    personal = [path for path in calendars.busy_paths if path != calendars.bookings_path]
    for block in busy_blocks(session, calendars.principal, window, calendars=personal):
        entries.append(Entry("busy", block.start, block.end, "Busy (from your calendar)"))
    for interval in scheduling.open_hours(session, calendars, window):
        entries.append(Entry("open", interval.start, interval.end, "Open hours"))
    entries.sort(key=lambda entry: (entry.start, entry.end))
    return entries


def _grid_hours(entries: list[Entry], zone: ZoneInfo) -> tuple[int, int]:
    first, last = 8, 18
    for entry in entries:
        start, end = entry.start.astimezone(zone), entry.end.astimezone(zone)
        first = min(first, start.hour)
        last = max(last, end.hour + (1 if end.minute else 0) if end.date() == start.date() else 24)
    return max(0, first), min(24, last)


def span_label(
    start: datetime, end: datetime, day_start: datetime, day_end: datetime, zone: ZoneInfo
) -> str:
    """Wall-clock span of a piece of a day: "09:00–17:00", "22:00–24:00" or "all day"."""
    if start <= day_start and end >= day_end:
        return "all day"
    last = "24:00" if end >= day_end else f"{end.astimezone(zone):%H:%M}"
    return f"{start.astimezone(zone):%H:%M}–{last}"


def _days(
    entries: list[Entry], first: date, count: int, zone: ZoneInfo, grid: tuple[int, int]
) -> list[Day]:
    today = utcnow().astimezone(zone).date()
    span = (grid[1] - grid[0]) * 60
    days = []
    for offset in range(count):
        day = first + timedelta(days=offset)
        day_start, day_end = local_midnight(day, zone), local_midnight(day + timedelta(1), zone)
        placed: list[Entry] = []
        for entry in entries:
            start, end = max(entry.start, day_start), min(entry.end, day_end)
            if end <= start:
                continue
            local_start = start.astimezone(zone)
            minutes = (local_start.hour - grid[0]) * 60 + local_start.minute
            length = (end - start).total_seconds() / 60
            piece = Entry(**{**entry.__dict__})
            piece.top = max(0.0, min(100.0, minutes / span * 100))
            piece.height = max(2.5, min(100.0 - piece.top, length / span * 100))
            piece.span = span_label(start, end, day_start, day_end, zone)
            placed.append(piece)
        days.append(
            Day(
                day,
                day == today,
                [e for e in placed if e.kind != "open"],
                [e for e in placed if e.kind == "open"],
            )
        )
    return days


@bp.get("")
@professional_required
def dashboard() -> Any:
    """Week (default) or day view of the professional's calendar, in their zone."""
    session = get_session()
    user = current_user.account
    zone = load_zone(user.timezone) or ZoneInfo("UTC")
    now = utcnow()
    today = now.astimezone(zone).date()
    notes = []
    view = request.args.get("view", "week")
    if view not in ("week", "day"):
        notes.append("Unknown view; showing the week.")
        view = "week"
    day = today
    if request.args.get("date"):
        chosen = parse_date(request.args["date"])
        if chosen is None:
            notes.append("That date is not valid; showing today.")
        else:
            day = chosen
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    count = 7 if view == "week" else 1
    window = Interval(local_midnight(first, zone), local_midnight(first + timedelta(count), zone))
    entries = agenda(session, user, window)
    grid = _grid_hours([e for e in entries if e.kind != "open"] or entries, zone)
    days = _days(entries, first, count, zone, grid)
    step = timedelta(days=count)
    upcoming = session.scalars(
        select(Booking)
        .where(
            Booking.professional_id == user.id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.end > now,
        )
        .order_by(Booking.start)
        .limit(10)
    ).all()
    clients = user_names(session, (b.client_id for b in upcoming))
    progress = progress_of(session, user)
    session.commit()  # expanding recurring busy events may write index rows
    return render_template(
        "pro/dashboard.html",
        view=view,
        day=day,
        days=days,
        grid=grid,
        hours_range=list(range(grid[0], grid[1])),
        zone=zone,
        notes=notes,
        prev_date=(first - step).isoformat(),
        next_date=(first + step).isoformat(),
        today=today,
        upcoming=upcoming,
        clients=clients,
        progress=progress,
        week_count=sum(1 for d in days for e in d.entries if e.kind in ("booking", "class")),
        public_url=url_for("public.professional", principal=user.principal, _external=True),
    )
