"""Bookings over the API: book, list, read, cancel, reschedule; and the same
cancel/reschedule through a signed link, without signing in."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, jsonify, request

from booking import bookings
from booking.links import booking_from_manage_token
from booking.models import Booking
from consult.bounds import parse_datetime
from consult.db import utcnow
from web.api.blueprint import bp
from web.api.helpers import Fields, json_body, optional_json_body, require_user
from web.api.representations import booking_json
from web.errors import ApiError
from web.links import links
from web.payments import book_or_hold
from web.session import get_session, get_settings


def _start(data: dict[str, Any], zone: ZoneInfo) -> datetime:
    value = data.get("start")
    if isinstance(value, str) and "T" in value and not _has_offset(value):
        raise ApiError(
            422,
            "validation_error",
            "Some fields are invalid.",
            {"start": "Include the UTC offset, e.g. 2026-12-01T09:00:00+01:00."},
        )
    start = parse_datetime(value, zone)
    if start is None:
        raise ApiError(
            422,
            "validation_error",
            "Some fields are invalid.",
            {"start": "Use an ISO 8601 date-time with offset, e.g. 2026-12-01T09:00:00+01:00."},
        )
    return start


def _has_offset(value: str) -> bool:
    tail = value.split("T", 1)[1]
    return tail.endswith("Z") or "+" in tail or "-" in tail


@bp.post("/bookings")
@require_user
def create_booking() -> Any:
    data = json_body()
    fields = Fields(data)
    service_id = fields.integer("service_id", minimum=1)
    note = fields.string("client_note", required=False, max_length=bookings.MAX_NOTE)
    fields.check()
    start = _start(data, ZoneInfo("UTC"))
    session = get_session()
    # A paid service is held while the client pays (payment.client_secret in the answer).
    booking = book_or_hold(
        g.user,
        int(service_id or 0),
        start,
        note=note,
        client_timezone=g.user.timezone,
        source="api",
    )
    body = booking_json(booking, g.user)  # read in the same transaction: no second one
    session.commit()
    return jsonify(body), 201


@bp.get("/bookings")
@require_user
def list_bookings() -> Any:
    scope = request.args.get("scope", "all")
    if scope not in ("all", "upcoming", "past"):
        raise ApiError(400, "bad_request", "scope must be all, upcoming or past.")
    upcoming = {"all": None, "upcoming": True, "past": False}[scope]
    found = bookings.list_bookings_for(get_session(), g.user, upcoming=upcoming, now=utcnow())
    return jsonify([booking_json(booking, g.user) for booking in found])


@bp.get("/bookings/<int:booking_id>")
@require_user
def get_booking(booking_id: int) -> Any:
    booking = bookings.get_booking_for(get_session(), g.user, booking_id)
    return jsonify(booking_json(booking, g.user))


def _reason() -> str:
    data = optional_json_body()
    fields = Fields(data)
    reason = fields.string("reason", required=False, max_length=bookings.MAX_REASON)
    fields.check()
    return reason


@bp.post("/bookings/<int:booking_id>/cancel")
@require_user
def cancel_booking(booking_id: int) -> Any:
    reason = _reason()
    session = get_session()
    booking = bookings.get_booking_for(session, g.user, booking_id)
    bookings.cancel(
        session, booking, by=bookings.role_in(booking, g.user), now=utcnow(), reason=reason
    )
    session.commit()
    return jsonify(booking_json(booking, g.user))


@bp.post("/bookings/<int:booking_id>/reschedule")
@require_user
def reschedule_booking(booking_id: int) -> Any:
    start = _start(json_body(), ZoneInfo("UTC"))
    session = get_session()
    booking = bookings.get_booking_for(session, g.user, booking_id)
    bookings.reschedule(
        session, booking, start, by=bookings.role_in(booking, g.user), now=utcnow(), links=links()
    )
    session.commit()
    return jsonify(booking_json(booking, g.user))


# --- signed links (no sign-in) -----------------------------------------------------------


def _booking_from_token(token: str) -> Booking:
    booking = booking_from_manage_token(get_session(), token, get_settings().app.secret_key)
    if booking is None:
        raise ApiError(404, "not_found", "This link is not valid.")
    return booking


@bp.get("/manage/<token>")
def manage_get(token: str) -> Any:
    return jsonify(booking_json(_booking_from_token(token), None))


@bp.post("/manage/<token>/cancel")
def manage_cancel(token: str) -> Any:
    reason = _reason()
    booking = _booking_from_token(token)
    session = get_session()
    bookings.cancel(session, booking, by="client", now=utcnow(), reason=reason)
    session.commit()
    return jsonify(booking_json(booking, None))


@bp.post("/manage/<token>/reschedule")
def manage_reschedule(token: str) -> Any:
    start = _start(json_body(), ZoneInfo("UTC"))
    booking = _booking_from_token(token)
    session = get_session()
    bookings.reschedule(session, booking, start, by="client", now=utcnow(), links=links())
    session.commit()
    return jsonify(booking_json(booking, None))
