"""Services, group sessions, open hours and slots over the API."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import g, jsonify, request

from accounts.models import User
from booking import catalog, hours, scheduling, sessions
from booking.core.availability import to_payload
from booking.core.intervals import Interval, local_midnight
from booking.errors import InvalidTimezone, ServiceNotFound
from booking.models import Service
from consult.bounds import EARLIEST_DATE, LATEST_DATE, parse_date
from consult.db import utcnow
from web.api.blueprint import bp
from web.api.helpers import bearer_user, json_body, require_professional
from web.errors import ApiError
from web.links import links
from web.ops import SLOT_SECONDS, timed
from web.payments import can_charge
from web.session import get_session

MAX_SLOT_RANGE_DAYS = 62


def service_json(service: Service) -> dict[str, Any]:
    return {
        "id": service.id,
        "professional_id": service.professional_id,
        "kind": service.kind,
        "title": service.title,
        "description": service.description,
        "no_show_policy": service.no_show_policy,
        "duration_minutes": service.duration_minutes,
        "price": {"amount": service.price_amount, "currency": service.price_currency},
        "buffer_before_minutes": service.buffer_before_minutes,
        "buffer_after_minutes": service.buffer_after_minutes,
        "min_notice_minutes": service.min_notice_minutes,
        "horizon_days": service.horizon_days,
        "daily_max": service.daily_max,
        "step_minutes": service.step_minutes or service.duration_minutes,
        "capacity": service.capacity,
        "is_published": service.is_published,
        "cancellation_policy": {
            "full_refund_hours": service.refund_full_hours,
            "partial_refund_hours": service.refund_partial_hours,
            "partial_refund_percent": service.refund_partial_percent,
        },
        "created_at": service.created_at.isoformat(),
        "updated_at": service.updated_at.isoformat(),
    }


def _optional_viewer() -> User | None:
    if request.headers.get("Authorization"):
        return bearer_user(get_session())
    return None


@bp.post("/services")
@require_professional
def create_service() -> Any:
    data = catalog.parse_service_input(json_body(), partial=False)
    session = get_session()
    service = catalog.create_service(session, g.user, data, can_charge=can_charge())
    session.commit()
    return jsonify(service_json(service)), 201


@bp.get("/services")
@require_professional
def list_own_services() -> Any:
    services = catalog.list_services(get_session(), g.user.id, include_unpublished=True)
    return jsonify([service_json(service) for service in services])


@bp.get("/services/<int:service_id>")
def get_service(service_id: int) -> Any:
    service = catalog.get_public_service(get_session(), service_id, _optional_viewer())
    return jsonify(service_json(service))


@bp.patch("/services/<int:service_id>")
@require_professional
def update_service(service_id: int) -> Any:
    data = catalog.parse_service_input(json_body(), partial=True)
    session = get_session()
    service = catalog.update_service(session, g.user, service_id, data, can_charge=can_charge())
    session.commit()
    return jsonify(service_json(service))


@bp.delete("/services/<int:service_id>")
@require_professional
def delete_service(service_id: int) -> Any:
    session = get_session()
    catalog.delete_service(session, g.user, service_id)
    session.commit()
    return "", 204


@bp.post("/services/<int:service_id>/sessions")
@require_professional
def create_session(service_id: int) -> Any:
    session = get_session()
    now = utcnow()
    data = catalog.parse_session_input(json_body(), ZoneInfo(g.user.timezone), now)
    group_session = sessions.schedule_session(
        session, g.user, service_id, data, now=now, links=links()
    )
    session.commit()
    return (
        jsonify(
            {
                "id": group_session.id,
                "service_id": group_session.service_id,
                "start": group_session.start.isoformat(),
                "rrule": group_session.rrule,
                "event_uid": group_session.event_uid,
            }
        ),
        201,
    )


@bp.get("/services/<int:service_id>/slots")
def service_slots(service_id: int) -> Any:
    session = get_session()
    service = catalog.get_public_service(session, service_id, _optional_viewer())
    professional = session.get(User, service.professional_id)
    if professional is None or professional.principal is None:
        raise ServiceNotFound()
    zone = parse_zone(request.args.get("tz") or professional.timezone)
    first = _parse_day(request.args.get("start"), "start")
    last = _parse_day(request.args.get("end"), "end") if request.args.get("end") else first
    if last < first:
        raise ApiError(400, "bad_request", "end must not be before start.")
    if (last - first).days >= MAX_SLOT_RANGE_DAYS:
        raise ApiError(400, "bad_request", f"Ask for at most {MAX_SLOT_RANGE_DAYS} days at a time.")
    window = Interval(local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone))
    with timed(SLOT_SECONDS):
        slots = scheduling.service_slots(session, service, professional, window, utcnow())
    session.commit()  # expanding recurring events beyond the index horizon writes
    return jsonify(
        [
            {
                "start": slot.start.astimezone(zone).isoformat(),
                "end": slot.end.astimezone(zone).isoformat(),
                "seats_left": slot.seats_left,
            }
            for slot in slots
        ]
    )


def parse_zone(name: str) -> ZoneInfo:
    """An IANA zone, or a 400 naming the bad value."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ApiError(400, "invalid_timezone", str(InvalidTimezone(name)))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ApiError(400, "invalid_timezone", str(InvalidTimezone(name))) from None


def _parse_day(value: str | None, name: str) -> date:
    if not value:
        raise ApiError(400, "bad_request", f"Give {name}=YYYY-MM-DD.")
    day = parse_date(value)
    if day is None:
        raise ApiError(
            400,
            "bad_request",
            f"{name} must be a date like 2026-12-01, between {EARLIEST_DATE} and {LATEST_DATE}.",
        )
    return day


@bp.get("/availability")
@require_professional
def get_availability() -> Any:
    session = get_session()
    today = datetime.now(ZoneInfo(g.user.timezone)).date()
    return jsonify(to_payload(hours.get_hours(session, g.user, today)))


@bp.put("/availability")
@require_professional
def put_availability() -> Any:
    session = get_session()
    hours.put_hours(session, g.user, json_body(), utcnow())
    session.commit()
    today = datetime.now(ZoneInfo(g.user.timezone)).date()
    return jsonify(to_payload(hours.get_hours(session, g.user, today)))
