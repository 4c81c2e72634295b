"""Pages for one booking: ``/bookings/<id>`` for its client and professional, and
``/manage/<token>``, the signed link from emails that works without signing in.
Both offer cancel and reschedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from accounts.models import User
from booking import bookings, scheduling
from booking.catalog import parse_datetime
from booking.errors import BookingError
from booking.intervals import Interval
from booking.links import booking_from_manage_token
from booking.models import Booking
from consult.db import utcnow
from web.forms import EmptyForm
from web.links import links
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


def _render(
    booking: Booking, action_base: str, viewer_zone: str, *, as_professional: bool = False
) -> Any:
    session = get_session()
    other = session.get(User, booking.client_id if as_professional else booking.professional_id)
    return (
        render_template(
            "bookings/detail.html",
            booking=booking,
            other_name=other.name if other else "",
            zone=ZoneInfo(viewer_zone),
            zone_name=viewer_zone,
            alternatives=_alternatives(booking),
            action_base=action_base,
            form=EmptyForm(),
        ),
        200,
    )


def _act(booking: Booking, by: Any, redirect_to: str) -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    action = request.form.get("action")
    try:
        if action == "cancel":
            bookings.cancel(
                session, booking, by=by, now=utcnow(), reason=request.form.get("reason", "")
            )
            flash("The booking is cancelled.", "success")
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


@bp.route("/bookings/<int:booking_id>", methods=["GET", "POST"])
@login_required
def booking_detail(booking_id: int) -> Any:
    session = get_session()
    try:
        booking = bookings.get_booking_for(session, current_user.account, booking_id)
    except BookingError:
        abort(404)
    here = url_for("booking_pages.booking_detail", booking_id=booking_id)
    if request.method == "POST":
        return _act(booking, bookings.role_in(booking, current_user.account), here)
    as_professional = current_user.id == booking.professional_id
    return _render(booking, here, current_user.timezone, as_professional=as_professional)


@bp.route("/manage/<token>", methods=["GET", "POST"])
def manage(token: str) -> Any:
    session = get_session()
    booking = booking_from_manage_token(session, token, get_settings().app.secret_key)
    if booking is None:
        abort(404)
    here = url_for("booking_pages.manage", token=token)
    if request.method == "POST":
        return _act(booking, "client", here)
    return _render(booking, here, booking.client_timezone or "UTC")
