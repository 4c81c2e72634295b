"""Pages anyone can open: a professional's page with the booking widget (pick a
service, a date on a month view, then a time, all in the visitor's time zone), the
booking form, and profile photos.

Everything works without JavaScript: the widget is plain links and a GET form for
the time zone. ``static/js/booking.js`` only swaps the widget in place (``?fragment=1``)
and applies the zone the browser reports.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask import session as flask_session
from flask_login import current_user

from accounts import services
from accounts.errors import EmailTaken, ValidationError
from accounts.models import User
from booking import catalog, scheduling
from booking.core.intervals import Interval, local_midnight
from booking.core.slots import Slot
from booking.errors import BookingError, NotAllowed, OutsideBookingWindow, SlotUnavailable
from booking.models import BOOKING_SOURCES, Booking, Service
from consult.bounds import parse_date, parse_datetime
from consult.db import utcnow
from directory import photos
from directory import search as directory
from directory.profiles import CATEGORIES, LANGUAGES, ProfessionalProfile, get_profile_by_principal
from reviews.services import ReviewPage, public_reviews
from web.extensions import sign_in
from web.forms import BookingForm
from web.ops import SLOT_SECONDS, timed
from web.pages.helpers import TIMEZONES, VisitorZone, render_error
from web.payments import after_booking_url, book_or_hold
from web.session import get_session, get_settings

bp = Blueprint("public", __name__)
# The Flask session key of where the visitor came from: [principal, source].
SOURCE_KEY = "booking_source"


# --- the professional's page --------------------------------------------------------------


@dataclass
class DayCell:
    """One day of the month view: how many free times, and its link when any."""

    day: date | None
    free: int = 0
    selected: bool = False
    url: str | None = None


@dataclass
class Widget:
    """What the booking widget shows for one service and month."""

    service: Service
    month: date
    weeks: list[list[DayCell]]
    prev_url: str | None
    next_url: str | None
    selected: date | None
    times: list[Slot]
    by_day: dict[date, list[Slot]] = field(default_factory=dict)
    next_free: datetime | None = None


def _month_of(value: str | None) -> date | None:
    if not value:
        return None
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


def _day_of(value: str | None) -> date | None:
    return parse_date(value)


def _shift_month(month: date, delta: int) -> date:
    index = month.year * 12 + month.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def month_slots(
    service: Service, professional: User, month: date, zone: ZoneInfo, now: datetime
) -> dict[date, list[Slot]]:
    """Free slots of ``service`` starting in the local ``month``, by local date."""
    start = max(local_midnight(month, zone), now)
    end = min(
        local_midnight(_shift_month(month, 1), zone),
        now + timedelta(days=service.horizon_days, hours=1),
    )
    if end <= start:
        return {}
    with timed(SLOT_SECONDS):
        found = scheduling.service_slots(
            get_session(), service, professional, Interval(start, end), now
        )
    by_day: dict[date, list[Slot]] = {}
    for slot in found:
        by_day.setdefault(slot.start.astimezone(zone).date(), []).append(slot)
    return by_day


def _widget(
    professional: User, service: Service, zone: VisitorZone, now: datetime, args: Any
) -> tuple[Widget, list[str]]:
    notes: list[str] = []
    today = now.astimezone(zone.zone).date()
    this_month = today.replace(day=1)
    horizon_end = now + timedelta(days=service.horizon_days)
    last_month = horizon_end.astimezone(zone.zone).date().replace(day=1)

    asked_day = _day_of(args.get("date"))
    if args.get("date") and asked_day is None:
        notes.append("That date is not valid; pick one on the calendar.")
    month = _month_of(args.get("month"))
    if args.get("month") and month is None:
        notes.append("That month is not valid; showing the first month with free times.")
    next_free = directory.next_free_for(get_session(), professional, [service], now)
    if month is None:
        if asked_day is not None:
            month = asked_day.replace(day=1)
        elif next_free is not None:
            month = next_free.astimezone(zone.zone).date().replace(day=1)
        else:
            month = this_month
    month = min(max(month, this_month), max(last_month, this_month))
    by_day = month_slots(service, professional, month, zone.zone, now)
    selected = asked_day if asked_day and asked_day.replace(day=1) == month else None
    if selected is None and by_day and not service.is_group:
        selected = min(by_day)  # the first free day, so times show at once

    def link(**params: Any) -> str:
        query = {"service": service.id, "month": month.strftime("%Y-%m"), **params}
        if zone.source == "param":
            query["tz"] = zone.name
        return url_for("public.professional", principal=professional.principal, **query)

    weeks: list[list[DayCell]] = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        row = []
        for day in week:
            if day.month != month.month:
                row.append(DayCell(None))
                continue
            free = len(by_day.get(day, []))
            row.append(
                DayCell(
                    day,
                    free,
                    selected=day == selected,
                    url=link(date=day.isoformat()) if free else None,
                )
            )
        weeks.append(row)
    prev_month, next_month = _shift_month(month, -1), _shift_month(month, 1)
    widget = Widget(
        service=service,
        month=month,
        weeks=weeks,
        prev_url=link(month=prev_month.strftime("%Y-%m")) if month > this_month else None,
        next_url=link(month=next_month.strftime("%Y-%m")) if next_month <= last_month else None,
        selected=selected,
        times=by_day.get(selected, []) if selected else [],
        by_day=by_day,
        next_free=next_free,
    )
    return widget, notes


def structured_data(user: User, headline: str, page: ReviewPage) -> dict[str, Any] | None:
    """schema.org markup of the page (JSON-LD): the practice with its aggregate rating
    and the reviews shown; None while there is no review (the rating would be empty)."""
    summary = page.summary
    if not summary.count:
        return None
    return {
        "@context": "https://schema.org",
        "@type": "ProfessionalService",
        "name": user.name,
        "description": headline or None,
        "url": url_for("public.professional", principal=user.principal, _external=True),
        "aggregateRating": {
            "@type": "AggregateRating",
            "ratingValue": summary.average,
            "reviewCount": summary.count,
            "bestRating": 5,
            "worstRating": 1,
        },
        "review": [
            {
                "@type": "Review",
                "author": {"@type": "Person", "name": review.reviewer},
                "datePublished": review.created_at.date().isoformat(),
                "reviewBody": review.text or None,
                "reviewRating": {"@type": "Rating", "ratingValue": review.rating, "bestRating": 5},
            }
            for review in page.reviews
        ],
    }


@bp.get("/p/<principal>")
def professional(principal: str) -> Any:
    """The professional's public page; ``?service=&month=&date=&tz=`` drive the widget."""
    session = get_session()
    profile = get_profile_by_principal(session, principal)
    if profile is None:
        abort(404)
    user = profile.user
    _remember_source(principal)
    offered = catalog.list_services(session, user.id, include_unpublished=False)
    zone = VisitorZone(default=user.timezone)
    now = utcnow()
    notes = [zone.problem] if zone.problem else []
    selected: Service | None = None
    service_arg = request.args.get("service")
    if service_arg:
        selected = next((s for s in offered if str(s.id) == service_arg), None)
        if selected is None:
            notes.append("That service is not offered here (any more); pick one below.")
    elif len(offered) == 1:
        selected = offered[0]
    widget = None
    if selected is not None:
        widget, widget_notes = _widget(user, selected, zone, now, request.args)
        notes.extend(widget_notes)
    raw_page = request.args.get("reviews_page", "1")
    review_page = public_reviews(
        session, user.id, int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 else 1
    )
    session.commit()  # slot computation may extend the busy-time index
    context = {
        "reviews": review_page,
        "structured_data": structured_data(user, profile.headline, review_page),
        "profile": profile,
        "pro": user,
        "offered": offered,
        "widget": widget,
        "zone": zone,
        "notes": notes,
        "timezones": TIMEZONES,
        "category_labels": [CATEGORIES[key] for key in profile.categories if key in CATEGORIES],
        "language_labels": [LANGUAGES[key] for key in profile.languages if key in LANGUAGES],
        "is_own_page": current_user.is_authenticated and current_user.id == user.id,
    }
    if request.args.get("fragment") == "1" and widget is not None:
        return render_template("public/_widget.html", **context)
    return render_template("public/professional.html", **context)


# --- booking ------------------------------------------------------------------------------


def _bookable(principal: str) -> tuple[ProfessionalProfile, Service]:
    session = get_session()
    profile = get_profile_by_principal(session, principal)
    if profile is None:
        abort(404)
    service_arg = request.values.get("service", "")
    if not service_arg.isdigit():
        abort(404)
    try:
        service = catalog.get_public_service(session, int(service_arg))
    except BookingError:
        abort(404)
    if service.professional_id != profile.user_id or not service.is_bookable:
        abort(404)
    return profile, service


def _offered_slot(service: Service, professional: User, start: datetime) -> Slot | None:
    """The slot starting at ``start`` if it is still offered right now."""
    now = utcnow()
    window = Interval(start - timedelta(minutes=1), start + timedelta(minutes=1))
    for slot in scheduling.service_slots(get_session(), service, professional, window, now):
        if slot.start == start:
            return slot
    return None


def _remember_source(principal: str) -> None:
    """Where this visitor came to the professional from, kept in their session until
    they book: ``?ref=search`` on the links of search results (the embed widget will
    set its own). One entry, for the last professional reached that way, so the
    session cookie never grows with browsing; anything else counts as direct."""
    ref = request.args.get("ref")
    if ref in BOOKING_SOURCES and ref != "direct":
        flask_session[SOURCE_KEY] = [principal, ref]


def _source_for(principal: str) -> str:
    remembered = flask_session.get(SOURCE_KEY)
    if isinstance(remembered, list) and len(remembered) == 2 and remembered[0] == principal:
        return str(remembered[1])
    return "direct"


def _create_booking(
    client: User,
    service: Service,
    start: datetime,
    *,
    note: str,
    client_timezone: str,
    source: str = "direct",
) -> Booking:
    """The one place where the web pages book: a free service at once, a paid one held
    while the client pays (:func:`web.payments.book_or_hold`; the browser then goes to
    :func:`web.payments.after_booking_url`, the payment page). Raises the booking
    core's errors, and PaymentGatewayError (shown as a 503 page) when the payment
    provider cannot be reached, in which case nothing is held; the caller commits.
    """
    return book_or_hold(
        client, service.id, start, note=note, client_timezone=client_timezone, source=source
    )


@bp.route("/p/<principal>/book", methods=["GET", "POST"])
def book(principal: str) -> Any:
    """The booking form for one slot (``?service=&start=&tz=``); signs a visitor up on
    the fly, then books through :func:`_create_booking`."""
    profile, service = _bookable(principal)
    professional = profile.user
    zone = VisitorZone(default=professional.timezone)
    start = parse_datetime(request.values.get("start"), ZoneInfo("UTC"))
    back_url = url_for("public.professional", principal=principal, service=service.id, tz=zone.name)
    if start is None:
        return render_error(400, "That booking link has no valid time. Pick a time again.")
    slot = _offered_slot(service, professional, start)
    form = BookingForm()
    anonymous = not current_user.is_authenticated
    status = 200
    if request.method == "POST" and slot is None:
        # Taken (or never offered): say so before anything is created, an account included.
        status = 409
    elif request.method == "POST" and form.validate_on_submit():
        response, status = _submit(form, service, start, zone, anonymous, _source_for(principal))
        if response is not None:
            return response
    elif request.method == "POST":
        status = 422 if form.errors else 400
    get_session().commit()
    anonymous = not current_user.is_authenticated  # a failed booking may follow a sign-up
    login_url = url_for("accounts.login", next=request.full_path.rstrip("?"))
    return (
        render_template(
            "public/book.html",
            profile=profile,
            pro=professional,
            service=service,
            start=start,
            end=start + timedelta(minutes=service.duration_minutes),
            slot=slot,
            zone=zone,
            form=form,
            anonymous=anonymous,
            back_url=back_url,
            login_url=login_url,
            min_password=get_settings().auth.min_password_length,
        ),
        status,
    )


def _submit(
    form: BookingForm,
    service: Service,
    start: datetime,
    zone: VisitorZone,
    anonymous: bool,
    source: str,
) -> tuple[Any, int]:
    """Book from a valid form: a redirect to the confirmation, or (None, status) after
    adding the errors to the form (409 when the slot went meanwhile, else 422)."""
    session = get_session()
    if anonymous:
        client = _sign_up(form, zone)
        if client is None:
            return None, 422
    else:
        client = current_user.account
    try:
        booking = _create_booking(
            client,
            service,
            start,
            note=form.note.data or "",
            client_timezone=zone.name,
            source=source,
        )
        session.commit()
        # Counted once: a later booking by this visitor starts from where they come then.
        flask_session.pop(SOURCE_KEY, None)
    except (SlotUnavailable, NotAllowed) as error:
        session.rollback()
        form.form_errors.append(str(error))
        return None, 409
    except OutsideBookingWindow as error:
        session.rollback()
        form.form_errors.append(str(error))
        return None, 422
    return redirect(after_booking_url(booking)), 302


def _sign_up(form: BookingForm, zone: VisitorZone) -> User | None:
    """Create a client account from the booking form and sign it in; None (with field
    errors) when the input is incomplete or the email already has an account."""
    session = get_session()
    try:
        registration = services.validate_registration(
            {
                "email": form.email.data or "",
                "password": form.password.data or "",
                "name": form.name.data or "",
                "role": "client",
                "timezone": zone.name,
            },
            get_settings().auth.min_password_length,
        )
        user = services.register(session, registration)
        session.commit()
    except ValidationError as error:
        for name, message in error.fields.items():
            target = getattr(form, name, None)
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.form_errors.append(message)
        return None
    except EmailTaken:
        session.rollback()
        form.email.errors = [
            *form.email.errors,
            "An account with this email already exists. Sign in to book with it.",
        ]
        return None
    sign_in(user)
    return user


# --- photos ---------------------------------------------------------------------------------


@bp.get("/photos/<name>")
def photo(name: str) -> Any:
    """A profile photo. Names are random per upload, so they may be cached for a year."""
    if not photos.is_photo_name(name):
        abort(404)
    folder = photos.photo_dir(get_settings().data_dir)
    response = send_from_directory(
        folder, name, mimetype=photos.mime_type_of(name), max_age=365 * 24 * 3600
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def photo_url(filename: str | None, large: bool = False) -> str | None:
    """The URL of a stored profile photo, its small size unless ``large``, or None
    (templates then show initials)."""
    if not filename:
        return None
    return url_for("public.photo", name=filename if large else photos.small_name(filename))
