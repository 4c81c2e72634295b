"""``/pro/hours``: the availability editor (weekly hours per weekday with several
intervals, date overrides) and a preview of the bookable times that result.

The hours live in the professional's Availability calendar (see
:mod:`booking.hours`); this page reads them with ``get_hours`` and writes the
whole week with ``put_hours``, so what a calendar app shows and what this page
shows are the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from booking import catalog, hours, scheduling
from booking.core.availability import WEEKDAYS, WeeklyHours, to_payload
from booking.core.intervals import Interval, local_midnight
from booking.core.slots import Slot
from booking.errors import InvalidWeeklyHours
from booking.models import Service
from consult.bounds import parse_date
from consult.db import utcnow
from web.forms import EmptyForm
from web.pages.helpers import TIMEZONES, load_zone, professional_required
from web.pages.pro import after_step, bp, progress_of, span_label
from web.session import get_session

DAY_NAMES = MappingProxyType(
    dict(
        zip(
            WEEKDAYS,
            ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
            strict=True,
        )
    )
)
MAX_ROWS = 12
OVERRIDE_ROWS = 3
PREVIEW_DAYS = 7


@dataclass
class Row:
    """One interval row of the weekly editor, as typed, with its error."""

    start: str = ""
    end: str = ""
    error: str | None = None


@dataclass
class DayRows:
    """A weekday in the editor: open or not, its rows, a day-level error."""

    key: str
    name: str
    open: bool
    rows: list[Row] = field(default_factory=list)
    error: str | None = None


def _clock(value: time, *, end: bool = False) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


def _rows_from(weekly: WeeklyHours) -> list[DayRows]:
    days = []
    for key in WEEKDAYS:
        ranges = weekly.weekly[key]
        rows = [Row(_clock(start), _clock(end, end=True)) for start, end in ranges]
        if not rows:
            rows.append(Row())
        days.append(DayRows(key, DAY_NAMES[key], bool(ranges), rows))
    return days


def _parse_rows(form: Any) -> tuple[list[DayRows], dict[str, Any], dict[tuple[str, int], int]]:
    """The submitted week as rows (to show again) and as the API payload; plus where each
    payload interval came from, to put the core's errors next to the right row."""
    days: list[DayRows] = []
    weekly: dict[str, list[list[str]]] = {}
    origin: dict[tuple[str, int], int] = {}
    for key in WEEKDAYS:
        is_open = form.get(f"{key}-open") == "on"
        day = DayRows(key, DAY_NAMES[key], is_open)
        weekly[key] = []
        for index in range(MAX_ROWS):
            start = (form.get(f"{key}-{index}-start") or "").strip()
            end = (form.get(f"{key}-{index}-end") or "").strip()
            if f"{key}-{index}-start" not in form and f"{key}-{index}-end" not in form:
                continue
            row = Row(start[:5], end[:5])
            day.rows.append(row)
            if not is_open or (not start and not end):
                continue
            if not start or not end:
                row.error = "Give both a start and an end time."
                continue
            origin[(key, len(weekly[key]))] = len(day.rows) - 1
            weekly[key].append([start[:5], end[:5]])
        if not day.rows:
            day.rows.append(Row())
        if is_open and not weekly[key] and not any(row.error for row in day.rows):
            day.error = "Add the hours you are open, or untick the day."
        days.append(day)
    return days, {"weekly": weekly}, origin


def _place_errors(
    days: list[DayRows], origin: dict[tuple[str, int], int], errors: dict[str, str]
) -> list[str]:
    """Put ``weekly.mon[1]``-style errors on their rows; return the others."""
    by_key = {day.key: day for day in days}
    rest = []
    for path, message in errors.items():
        if path.startswith("weekly.") and "[" in path:
            key, _, index = path[len("weekly.") :].partition("[")
            row_index = origin.get((key, int(index.rstrip("]") or 0)))
            if key in by_key and row_index is not None:
                row = by_key[key].rows[row_index]
                row.error = _friendly(message)
                continue
        rest.append(f"{path}: {message}" if path else message)
    return rest


def _friendly(message: str) -> str:
    if message.startswith("overlaps"):
        return "This overlaps another interval of the same day."
    if message == "end must be after start":
        return "The end must be after the start (00:00 as an end means midnight)."
    return message[:1].upper() + message[1:] + "."


@dataclass
class PreviewDay:
    """A day of the preview: open hours and the bookable start times."""

    day: date
    open: list[str]  # "09:00–12:00", "all day"
    slots: list[Slot]


def _preview(user: Any, service: Service | None, zone: ZoneInfo, now: datetime) -> list[PreviewDay]:
    session = get_session()
    today = now.astimezone(zone).date()
    window = Interval(
        local_midnight(today, zone), local_midnight(today + timedelta(PREVIEW_DAYS), zone)
    )
    calendars = scheduling.professional_calendars(session, user)
    open_hours = scheduling.open_hours(session, calendars, window)
    slots = scheduling.service_slots(session, service, user, window, now) if service else []
    days = []
    for offset in range(PREVIEW_DAYS):
        day = today + timedelta(days=offset)
        start, end = local_midnight(day, zone), local_midnight(day + timedelta(1), zone)
        days.append(
            PreviewDay(
                day,
                [
                    span_label(max(i.start, start), min(i.end, end), start, end, zone)
                    for i in open_hours
                    if i.start < end and i.end > start
                ],
                [slot for slot in slots if start <= slot.start < end],
            )
        )
    return days


def _page(
    days: list[DayRows], timezone: str, problems: list[str], status: int, current: WeeklyHours
) -> Any:
    session = get_session()
    user = current_user.account
    zone = load_zone(user.timezone) or ZoneInfo("UTC")
    offered = catalog.list_services(session, user.id, include_unpublished=True)
    preview_id = request.args.get("preview", "")
    preview_service = next((s for s in offered if str(s.id) == preview_id), None)
    if preview_service is None and offered:
        preview_service = next((s for s in offered if not s.is_group), offered[0])
    now = utcnow()
    preview = _preview(user, preview_service, zone, now)
    overrides = sorted(current.overrides.items())
    session.commit()
    return (
        render_template(
            "pro/hours.html",
            days=days,
            timezone=timezone,
            timezones=TIMEZONES,
            problems=problems,
            overrides=[(day, ranges) for day, ranges in overrides if day >= now.date()],
            override_rows=OVERRIDE_ROWS,
            offered=offered,
            preview_service=preview_service,
            preview=preview,
            zone=zone,
            form=EmptyForm(),
            onboarding=request.args.get("onboarding") == "1",
            progress=progress_of(session, user),
            max_rows=MAX_ROWS,
        ),
        status,
    )


def _current() -> WeeklyHours:
    user = current_user.account
    return hours.get_hours(get_session(), user, utcnow().date())


@bp.get("/hours", endpoint="hours_page")
@professional_required
def hours_page() -> Any:
    """The editor with the hours the Availability calendar holds now."""
    current = _current()
    return _page(_rows_from(current), current.timezone, [], 200, current)


@bp.post("/hours")
@professional_required
def save_hours() -> Any:
    """Replace the weekly hours (overrides stay as they are)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    current = _current()
    days, payload, origin = _parse_rows(request.form)
    timezone = (request.form.get("timezone") or "").strip()
    problems = []
    if load_zone(timezone) is None:
        problems.append("Choose your time zone from the list.")
    row_errors = any(row.error for day in days for row in day.rows) or any(
        day.error for day in days
    )
    if problems or row_errors:
        return _page(days, timezone or current.timezone, problems, 422, current)
    payload["timezone"] = timezone
    payload["overrides"] = to_payload(current)["overrides"]
    session = get_session()
    try:
        hours.put_hours(session, current_user.account, payload, utcnow())
        session.commit()
    except InvalidWeeklyHours as error:
        session.rollback()
        problems = _place_errors(days, origin, error.errors)
        return _page(days, timezone, problems, 422, current)
    flash("Your weekly hours are saved.", "success")
    return redirect(after_step("hours") or url_for("pro.hours_page"))


@bp.post("/hours/overrides")
@professional_required
def add_override() -> Any:
    """Close a date, or give it different hours than its weekday."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    current = _current()
    problems: list[str] = []
    day = parse_date(request.form.get("date", ""))
    if day is None:
        problems.append("Pick the date to change.")
    ranges: list[list[str]] = []
    if request.form.get("mode") == "hours":
        for index in range(OVERRIDE_ROWS):
            start = (request.form.get(f"override-{index}-start") or "").strip()[:5]
            end = (request.form.get(f"override-{index}-end") or "").strip()[:5]
            if start and end:
                ranges.append([start, end])
            elif start or end:
                problems.append("Give both a start and an end for each interval of the date.")
        if not ranges and not problems:
            problems.append("Give the hours for that date, or choose “Closed all day”.")
    elif request.form.get("mode") != "closed":
        problems.append("Choose “Closed all day” or “Different hours”.")
    if day is not None and day < utcnow().astimezone(ZoneInfo(current.timezone)).date():
        problems.append("Pick today or a later date.")
    if not problems and day is not None:
        payload = to_payload(current)
        payload["overrides"] = [o for o in payload["overrides"] if o["date"] != day.isoformat()]
        payload["overrides"].append({"date": day.isoformat(), "intervals": ranges})
        session = get_session()
        try:
            hours.put_hours(session, current_user.account, payload, utcnow())
            session.commit()
        except InvalidWeeklyHours as error:
            session.rollback()
            problems = [_friendly(message) for message in error.errors.values()]
        else:
            flash(f"{day:%A} {day.day} {day:%B %Y} is changed.", "success")
            return redirect(url_for("pro.hours_page") + "#overrides")
    return _page(_rows_from(current), current.timezone, problems, 422, current)


@bp.post("/hours/overrides/<day>/delete")
@professional_required
def delete_override(day: str) -> Any:
    """Let a date follow its weekday's hours again (404 when it has no change)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    current = _current()
    payload = to_payload(current)
    kept = [o for o in payload["overrides"] if o["date"] != day]
    if len(kept) == len(payload["overrides"]):
        abort(404)
    payload["overrides"] = kept
    session = get_session()
    hours.put_hours(session, current_user.account, payload, utcnow())
    session.commit()
    flash("The date follows your weekly hours again.", "success")
    return redirect(url_for("pro.hours_page") + "#overrides")
