"""``/pro/services``: create, edit, publish or unpublish, delete services, and
schedule the sessions of group classes (once, or repeating daily or weekly)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from booking import catalog, scheduling, sessions
from booking.core.currency import minor_exponent
from booking.core.intervals import Interval
from booking.errors import BookingError, ServiceNotFound, ValidationError
from booking.models import Service
from consult.db import utcnow
from web.forms import EmptyForm, ServiceForm, SessionForm
from web.links import links
from web.pages.helpers import CURRENCIES, load_zone, price_input, professional_required
from web.pages.pro import after_step, bp, progress_of
from web.payments import can_charge
from web.session import get_session

# catalog's field names → this form's
_FIELD_NAMES = MappingProxyType(
    {
        "price": "price",
        "price.amount": "price",
        "price.currency": "currency",
        "min_notice_minutes": "min_notice_hours",
        "cancellation_policy.full_refund_hours": "full_refund_hours",
        "cancellation_policy.partial_refund_hours": "partial_refund_hours",
        "cancellation_policy.partial_refund_percent": "partial_refund_percent",
    }
)
SESSION_LIST_DAYS = 90


def _own(service_id: int) -> Service:
    try:
        return catalog.get_own_service(get_session(), current_user.account, service_id)
    except ServiceNotFound:
        abort(404)


@bp.get("/services")
@professional_required
def services() -> Any:
    """The professional's services, with edit, publish/unpublish and delete."""
    session = get_session()
    user = current_user.account
    return render_template(
        "pro/services.html",
        services=catalog.list_services(session, user.id, include_unpublished=True),
        form=EmptyForm(),
        public_url=url_for("public.professional", principal=user.principal),
    )


def _service_form(service: Service | None) -> ServiceForm:
    form = ServiceForm()
    currencies = list(CURRENCIES)
    if service is not None and service.price_currency not in currencies:
        currencies.append(service.price_currency)
    form.currency.choices = [SelectChoice(code) for code in currencies]
    if request.method == "GET" and service is not None:
        form.kind.data = service.kind
        form.title.data = service.title
        form.description.data = service.description
        form.no_show_policy.data = service.no_show_policy
        form.duration_minutes.data = service.duration_minutes
        form.price.data = price_input(service.price_amount, service.price_currency)
        form.currency.data = service.price_currency
        form.capacity.data = service.capacity
        form.buffer_before_minutes.data = service.buffer_before_minutes
        form.buffer_after_minutes.data = service.buffer_after_minutes
        form.min_notice_hours.data = service.min_notice_minutes // 60
        form.horizon_days.data = service.horizon_days
        form.daily_max.data = service.daily_max
        form.step_minutes.data = service.step_minutes
        form.is_published.data = service.is_published
        form.full_refund_hours.data = service.refund_full_hours
        form.partial_refund_hours.data = service.refund_partial_hours
        form.partial_refund_percent.data = service.refund_partial_percent or None
    return form


def _payload(form: ServiceForm, *, editing: Service | None) -> dict[str, Any] | None:
    """The API-shaped service payload from the form, or None after adding field errors."""
    currency = (form.currency.data or "EUR").upper()
    price_text = (form.price.data or "0").strip().replace(",", ".")
    try:
        price = Decimal(price_text or "0")
    except InvalidOperation:
        form.price.errors = [*form.price.errors, "Enter a price such as 45 or 45.50 (0 = free)."]
        return None
    exponent = minor_exponent(currency)
    if not price.is_finite() or price < 0 or price != round(price, exponent):
        form.price.errors = [
            *form.price.errors,
            f"Enter a price of 0 or more with at most {exponent} decimals.",
        ]
        return None
    notice = form.min_notice_hours.data
    payload: dict[str, Any] = {
        "title": form.title.data or "",
        "description": form.description.data or "",
        "no_show_policy": form.no_show_policy.data or "",
        "duration_minutes": form.duration_minutes.data,
        "price": {"amount": int(price.scaleb(exponent)), "currency": currency},
        "buffer_before_minutes": form.buffer_before_minutes.data or 0,
        "buffer_after_minutes": form.buffer_after_minutes.data or 0,
        "min_notice_minutes": (notice or 0) * 60,
        "horizon_days": form.horizon_days.data or 60,
        "daily_max": form.daily_max.data,
        "step_minutes": form.step_minutes.data,
        "is_published": bool(form.is_published.data),
        "cancellation_policy": {
            "full_refund_hours": form.full_refund_hours.data,
            "partial_refund_hours": form.partial_refund_hours.data,
            "partial_refund_percent": form.partial_refund_percent.data,
        },
    }
    kind = editing.kind if editing is not None else form.kind.data
    if editing is None:
        payload["kind"] = kind
    if kind == "group":
        payload["capacity"] = form.capacity.data
    return payload


def _errors_into(form: ServiceForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = getattr(form, _FIELD_NAMES.get(name, name), None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


@bp.route("/services/new", methods=["GET", "POST"])
@professional_required
def new_service() -> Any:
    """Create a service; a group class goes on to its sessions, onboarding to the next step."""
    form = _service_form(None)
    if request.method == "GET" and request.args.get("kind") == "group":
        form.kind.data = "group"
        form.duration_minutes.data = 60
        form.capacity.data = 10
    status = 200
    if request.method == "POST":
        status = 422
        # Both checks run, so every mistake shows at once.
        valid = form.validate_on_submit()
        payload = _payload(form, editing=None)
        if valid and payload is not None:
            session = get_session()
            try:
                data = catalog.parse_service_input(payload, partial=False)
                service = catalog.create_service(
                    session, current_user.account, data, can_charge=can_charge()
                )
                session.commit()
            except ValidationError as error:
                session.rollback()
                _errors_into(form, error.errors)
            else:
                flash(f"“{service.title}” is created.", "success")
                if service.is_group:
                    return redirect(
                        url_for(
                            "pro.sessions",
                            service_id=service.id,
                            onboarding=request.args.get("onboarding"),
                        )
                    )
                return redirect(after_step("service") or url_for("pro.services"))
    return _render_form(form, None, status)


def _render_form(form: ServiceForm, service: Service | None, status: int) -> Any:
    return (
        render_template(
            "pro/service_form.html",
            form=form,
            service=service,
            onboarding=request.args.get("onboarding") == "1",
            progress=progress_of(get_session(), current_user.account),
        ),
        status,
    )


@bp.route("/services/<int:service_id>", methods=["GET", "POST"])
@professional_required
def edit_service(service_id: int) -> Any:
    """Edit one of the professional's services (its kind stays)."""
    service = _own(service_id)
    form = _service_form(service)
    status = 200
    if request.method == "POST":
        status = 422
        valid = form.validate_on_submit()
        payload = _payload(form, editing=service)
        if valid and payload is not None:
            session = get_session()
            try:
                data = catalog.parse_service_input(payload, partial=True)
                catalog.update_service(
                    session, current_user.account, service.id, data, can_charge=can_charge()
                )
                session.commit()
            except ValidationError as error:
                session.rollback()
                _errors_into(form, error.errors)
            else:
                flash(f"“{service.title}” is saved.", "success")
                return redirect(url_for("pro.services"))
    return _render_form(form, service, status)


@bp.post("/services/<int:service_id>/publish")
@professional_required
def publish_service(service_id: int) -> Any:
    """Publish (``publish=1``) or unpublish a service; bookings already made stay."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    service = _own(service_id)
    publish = request.form.get("publish") == "1"
    session = get_session()
    data = catalog.parse_service_input({"is_published": publish}, partial=True)
    try:
        catalog.update_service(
            session, current_user.account, service.id, data, can_charge=can_charge()
        )
    except ValidationError as error:  # a paid service on a platform without payments
        session.rollback()
        flash(" ".join(error.errors.values()), "error")
        return redirect(url_for("pro.services"))
    session.commit()
    if publish:
        flash(f"“{service.title}” is published: clients can book it.", "success")
    else:
        flash(f"“{service.title}” is unpublished: nobody new can book it.", "success")
    return redirect(url_for("pro.services"))


@bp.post("/services/<int:service_id>/delete")
@professional_required
def delete_service(service_id: int) -> Any:
    """Delete a service (soft: bookings already made keep it)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    service = _own(service_id)
    session = get_session()
    catalog.delete_service(session, current_user.account, service.id)
    session.commit()
    flash(f"“{service.title}” is deleted. Existing bookings stay as they are.", "success")
    return redirect(url_for("pro.services"))


# --- group class sessions -------------------------------------------------------------------


@bp.route("/services/<int:service_id>/sessions", methods=["GET", "POST"], endpoint="sessions")
@professional_required
def sessions_page(service_id: int) -> Any:
    """The upcoming sessions of a group class with the places left; add more."""
    service = _own(service_id)
    if not service.is_group:
        abort(404)
    user = current_user.account
    zone = load_zone(user.timezone) or ZoneInfo("UTC")
    form = SessionForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit() and _schedule(form, service, zone):
            flash("The sessions are scheduled.", "success")
            return redirect(after_step("service") or url_for("pro.sessions", service_id=service.id))
    session = get_session()
    now = utcnow()
    occurrences = scheduling.group_occurrences(
        session, service, user, Interval(now, now + timedelta(days=SESSION_LIST_DAYS))
    )
    session.commit()
    return (
        render_template(
            "pro/sessions.html",
            service=service,
            form=form,
            zone=zone,
            occurrences=occurrences,
            days=SESSION_LIST_DAYS,
            onboarding=request.args.get("onboarding") == "1",
        ),
        status,
    )


def _schedule(form: SessionForm, service: Service, zone: ZoneInfo) -> bool:
    count = form.count.data
    repeat = form.repeat.data
    rrule = None
    if repeat in ("weekly", "daily"):
        if count is None or not 2 <= count <= 104:
            form.count.errors = [*form.count.errors, "Repeat between 2 and 104 times."]
            return False
        rrule = f"FREQ={repeat.upper()};COUNT={count}"
    elif repeat != "none":
        form.repeat.errors = [*form.repeat.errors, "Choose once, every week or every day."]
        return False
    start = datetime.combine(form.day.data, form.time.data, tzinfo=zone)
    session = get_session()
    now = utcnow()
    try:
        data = catalog.parse_session_input({"start": start.isoformat(), "rrule": rrule}, zone, now)
        sessions.schedule_session(
            session, current_user.account, service.id, data, now=now, links=links()
        )
        session.commit()
    except ValidationError as error:
        session.rollback()
        for name, message in error.errors.items():
            target = {"start": form.day, "rrule": form.repeat}.get(name)
            if target is not None:
                target.errors = [*target.errors, message]
            else:
                form.form_errors.append(message)
        return False
    except BookingError as error:
        session.rollback()
        form.form_errors.append(str(error))
        return False
    return True
