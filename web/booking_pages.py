"""Pages for bookings: "My bookings" (upcoming and past), one booking at
``/bookings/<id>`` for its client and professional, the confirmation page with
"add to calendar" (an .ics file and a Google Calendar link), and ``/manage/<token>``,
the signed link from emails that works without signing in. Cancel and reschedule
work from the booking page and the signed link alike."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from accounts.models import User
from booking import bookings, scheduling
from booking.core.ical.write import Attendee, build_booking_event
from booking.core.intervals import Interval
from booking.errors import BookingError
from booking.links import booking_from_manage_token
from booking.models import Booking
from consult.bounds import parse_datetime
from consult.db import utcnow
from web.forms import EmptyForm
from web.links import links, manage_url
from web.pages.helpers import VisitorZone, load_zone, user_names
from web.review_pages import ACTIONS as REVIEW_ACTIONS
from web.review_pages import act as review_act
from web.review_pages import form_values, review_panel
from web.session import get_session, get_settings

bp = Blueprint("booking_pages", __name__)

RESCHEDULE_DAYS = 30


def _alternatives(booking: Booking) -> list[Any]:
    if not booking.is_active or booking.start <= utcnow():
        return []
    session = get_session()
    professional = session.get(User, booking.professional_id)
    if professional is None:
        return []
    now = utcnow()
    window = Interval(now, now + timedelta(days=RESCHEDULE_DAYS))
    slots = scheduling.service_slots(
        session, booking.service, professional, window, now, exclude=booking
    )
    return [slot for slot in slots if slot.start != booking.start][:200]


def google_calendar_url(booking: Booking, title: str, details: str, zone: str) -> str:
    """A Google Calendar "add event" link for the booking (times in UTC, shown in ``zone``)."""
    stamp = "%Y%m%dT%H%M%SZ"
    params = {
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{booking.start.strftime(stamp)}/{booking.end.strftime(stamp)}",
        "details": details,
        "ctz": zone,
    }
    return "https://calendar.google.com/calendar/render?" + urlencode(params, quote_via=quote)


def _people(booking: Booking) -> tuple[User | None, User | None]:
    session = get_session()
    return session.get(User, booking.professional_id), session.get(User, booking.client_id)


def _title_for(booking: Booking, viewer_is_professional: bool) -> str:
    professional, client = _people(booking)
    other = client if viewer_is_professional else professional
    return f"{booking.service.title} with {other.name}" if other else booking.service.title


def _render(
    booking: Booking,
    action_base: str,
    zone: ZoneInfo,
    *,
    as_professional: bool = False,
    signed_link: bool = False,
    review_errors: dict[str, str] | None = None,
) -> Any:
    professional, client = _people(booking)
    panel = review_panel(get_session(), booking, as_professional, utcnow())
    if review_errors:
        panel.errors, panel.values = review_errors, form_values(request.form.get("action", ""))
    other = client if as_professional else professional
    response = render_template(
        "bookings/detail.html",
        booking=booking,
        other_name=other.name if other else "",
        other_label="Client" if as_professional else "With",
        professional=professional,
        zone=zone,
        zone_name=zone.key,
        alternatives=_alternatives(booking),
        action_base=action_base,
        form=EmptyForm(),
        as_professional=as_professional,
        signed_link=signed_link,
        panel=panel,
        # A session that has begun can no longer be moved or cancelled (BookingClosed).
        started=booking.start <= utcnow(),
    )
    get_session().commit()  # slot computation may extend the busy-time index
    return response, 422 if review_errors else 200


def _act(
    booking: Booking, by: Any, redirect_to: str, actor: User, zone: ZoneInfo, signed_link: bool
) -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    action = request.form.get("action")
    if action in REVIEW_ACTIONS:
        errors = review_act(session, booking, actor, action, utcnow())
        if errors:
            as_professional = actor.id == booking.professional_id
            return _render(
                booking,
                redirect_to,
                zone,
                as_professional=as_professional,
                signed_link=signed_link,
                review_errors=errors,
            )
        anchor = "#no-show" if "no_show" in action or action == "contest" else "#review"
        return redirect(redirect_to + anchor)
    try:
        if action == "cancel":
            bookings.cancel(
                session, booking, by=by, now=utcnow(), reason=request.form.get("reason", "")
            )
            flash("The booking is cancelled. The time is free again.", "success")
        elif action == "reschedule":
            start = parse_datetime(request.form.get("start"), ZoneInfo("UTC"))
            if start is None:
                flash("Pick a new time.", "error")
                return redirect(redirect_to)
            bookings.reschedule(session, booking, start, by=by, now=utcnow(), links=links())
            flash("The booking is moved.", "success")
        else:
            abort(400)
        session.commit()
    except BookingError as error:
        session.rollback()
        flash(str(error), "error")
    return redirect(redirect_to)


@bp.get("/bookings")
@login_required
def my_bookings() -> Any:
    """Upcoming and past bookings of the signed-in person (as client or professional)."""
    session = get_session()
    user = current_user.account
    zone = VisitorZone(default=user.timezone)
    now = utcnow()
    upcoming = bookings.list_bookings_for(session, user, upcoming=True, now=now)
    past = bookings.list_bookings_for(session, user, upcoming=False, now=now)[:50]
    people = {b.client_id for b in upcoming + past} | {b.professional_id for b in upcoming + past}
    names = user_names(session, people)
    return render_template(
        "bookings/list.html",
        upcoming=upcoming,
        past=past,
        names=names,
        zone=zone.zone,
        me=user,
    )


@bp.route("/bookings/<int:booking_id>", methods=["GET", "POST"])
@login_required
def booking_detail(booking_id: int) -> Any:
    """One booking for its client or professional, with cancel and reschedule (404 for others)."""
    session = get_session()
    try:
        booking = bookings.get_booking_for(session, current_user.account, booking_id)
    except BookingError:
        abort(404)
    here = url_for("booking_pages.booking_detail", booking_id=booking_id)
    as_professional = current_user.id == booking.professional_id
    # A professional reads their bookings in their working zone; a client in theirs.
    if as_professional:
        zone = load_zone(current_user.timezone) or ZoneInfo("UTC")
    else:
        zone = VisitorZone(default=booking.client_timezone).zone
    if request.method == "POST":
        account = current_user.account
        return _act(booking, bookings.role_in(booking, account), here, account, zone, False)
    return _render(booking, here, zone, as_professional=as_professional)


@bp.get("/bookings/<int:booking_id>/confirmed")
@login_required
def confirmed(booking_id: int) -> Any:
    """The "you are booked" page, with the ways to put it in one's own calendar."""
    session = get_session()
    try:
        booking = bookings.get_booking_for(session, current_user.account, booking_id)
    except BookingError:
        abort(404)
    zone = load_zone(booking.client_timezone) or ZoneInfo("UTC")
    professional, _client = _people(booking)
    page_url = links().booking_page(booking.id)
    title = _title_for(booking, viewer_is_professional=False)
    return render_template(
        "bookings/confirmed.html",
        booking=booking,
        professional=professional,
        zone=zone,
        google_url=google_calendar_url(
            booking, title, f"Booked on Consult. Manage it here: {page_url}", zone.key
        ),
        ics_url=url_for("booking_pages.booking_ics", booking_id=booking.id),
    )


def ics_for_booking(booking: Booking, *, for_professional: bool, now: datetime) -> str:
    """One booking as an .ics file for the person's own calendar app. A one-on-one
    booking keeps its event's UID, so the invitation email and this file are one event."""
    professional, client = _people(booking)
    url = links().booking_page(booking.id)
    uid = booking.event_uid if not booking.is_group else f"seat-{booking.id}-{booking.event_uid}"
    zone = load_zone(booking.client_timezone) if not for_professional else None
    if for_professional and professional is not None:
        zone = load_zone(professional.timezone)
    return build_booking_event(
        uid=uid,
        start=booking.start,
        end=booking.end,
        summary=_title_for(booking, viewer_is_professional=for_professional),
        description=f"Booking page: {url}",
        organizer_email=professional.email if professional else "noreply@invalid",
        organizer_name=professional.name if professional else "",
        attendees=[Attendee(client.email, client.name)] if client else [],
        status="CANCELLED" if not booking.is_active else "CONFIRMED",
        sequence=booking.sequence,
        url=url,
        zone=zone,
        now=now,
        method="PUBLISH",
    )


@bp.get("/bookings/<int:booking_id>/event.ics")
@login_required
def booking_ics(booking_id: int) -> Any:
    """The booking as an .ics download for the signed-in client or professional."""
    session = get_session()
    try:
        booking = bookings.get_booking_for(session, current_user.account, booking_id)
    except BookingError:
        abort(404)
    body = ics_for_booking(
        booking, for_professional=current_user.id == booking.professional_id, now=utcnow()
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="booking-{booking.id}.ics"'},
    )


@bp.route("/manage/<token>", methods=["GET", "POST"])
def manage(token: str) -> Any:
    """The booking behind a signed email link, with cancel and reschedule, without signing in."""
    session = get_session()
    booking = booking_from_manage_token(session, token, get_settings().app.secret_key)
    if booking is None:
        abort(404)
    here = url_for("booking_pages.manage", token=token)
    zone = VisitorZone(default=booking.client_timezone or "UTC").zone
    if request.method == "POST":
        client = session.get(User, booking.client_id)
        if client is None:
            abort(404)
        return _act(booking, "client", here, client, zone, True)
    return _render(booking, here, zone, signed_link=True)


__all__ = ["bp", "google_calendar_url", "ics_for_booking", "manage_url"]
