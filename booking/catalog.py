"""What professionals offer: create, read, edit, unpublish and delete services,
and schedule the sessions of group classes.

Deleting is soft: the row stays so existing bookings keep their service, but it
no longer appears anywhere and cannot be booked.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.errors import NotAllowed, ServiceNotFound, ValidationError
from booking.models import GROUP, ONE_ON_ONE, SERVICE_KINDS, GroupSession, Service
from consult.bounds import parse_datetime
from consult.db import utcnow
from consult.text import InvalidText, clean_text

MAX_TITLE = 120
MAX_DESCRIPTION = 5000
MAX_NO_SHOW_POLICY = 500
MAX_DURATION_MINUTES = 24 * 60
MAX_HORIZON_DAYS = 365
MAX_CAPACITY = 1000
MAX_PRICE = 100_000_000  # minor units
MAX_NOTICE_MINUTES = 60 * 24 * 90
MAX_REFUND_HOURS = 24 * 365
# A new service's policy unless it says otherwise: full refund up to a day before.
DEFAULT_FULL_REFUND_HOURS = 24
# The error for publishing a paid service on a platform that cannot take payments.
NO_PAYMENTS_MESSAGE = (
    "Online payment is not set up on this platform (no Stripe key), so a paid service "
    "cannot be published. Set the price to 0, or keep the service unpublished."
)


@dataclass(frozen=True)
class ServiceInput:
    """Validated service fields; ``None`` in an update means "leave unchanged"."""

    kind: str | None = None
    title: str | None = None
    description: str | None = None
    no_show_policy: str | None = None
    duration_minutes: int | None = None
    price_amount: int | None = None
    price_currency: str | None = None
    buffer_before_minutes: int | None = None
    buffer_after_minutes: int | None = None
    min_notice_minutes: int | None = None
    horizon_days: int | None = None
    daily_max: int | None = None
    step_minutes: int | None = None
    capacity: int | None = None
    is_published: bool | None = None
    # The cancellation policy, given together as ``cancellation_policy``.
    refund_full_hours: int | None = None
    refund_partial_hours: int | None = None
    refund_partial_percent: int | None = None
    # Fields explicitly set to null in an update (daily_max, step_minutes, refund tiers).
    cleared: frozenset[str] = frozenset()


_INT_LIMITS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "duration_minutes": (5, MAX_DURATION_MINUTES),
        "buffer_before_minutes": (0, 24 * 60),
        "buffer_after_minutes": (0, 24 * 60),
        "min_notice_minutes": (0, MAX_NOTICE_MINUTES),
        "horizon_days": (1, MAX_HORIZON_DAYS),
        "daily_max": (1, 1000),
        "step_minutes": (5, MAX_DURATION_MINUTES),
        "capacity": (1, MAX_CAPACITY),
    }
)
_NULLABLE = frozenset({"daily_max", "step_minutes", "capacity"})


def parse_service_input(data: Mapping[str, Any], *, partial: bool) -> ServiceInput:
    """Validate the API's service payload; raise ValidationError naming every bad field.

    ``partial`` (PATCH) makes every field optional. Amounts are minor units; the
    currency is an ISO 4217 code.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    cleared: set[str] = set()
    known = {f.name for f in fields(ServiceInput)} - {"cleared", "price_amount", "price_currency"}
    known -= set(_POLICY_FIELDS.values())
    known |= {"price", "cancellation_policy"}
    for key in data:
        if key not in known:
            errors[key] = "Unknown field."

    kind = data.get("kind")
    if kind is not None or not partial:
        if kind not in SERVICE_KINDS:
            errors["kind"] = "Use one_on_one or group."
        else:
            values["kind"] = kind

    texts = (
        ("title", MAX_TITLE),
        ("description", MAX_DESCRIPTION),
        ("no_show_policy", MAX_NO_SHOW_POLICY),
    )
    for name, limit in texts:
        value = data.get(name)
        if value is None:
            if name == "title" and not partial:
                errors[name] = "This field is required."
            continue
        if name == "title" and isinstance(value, str) and not value.strip():
            errors[name] = "Give the service a title."
            continue
        try:
            values[name] = clean_text(
                value, max_length=limit, multiline=name != "title", required=False
            )
        except InvalidText as error:
            errors[name] = error.message

    for name, (low, high) in _INT_LIMITS.items():
        if name not in data:
            if name == "duration_minutes" and not partial:
                errors[name] = "This field is required."
            continue
        value = data[name]
        if value is None:
            if name in _NULLABLE:
                cleared.add(name)
            else:
                errors[name] = "This field is required."
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = "Must be a whole number."
        elif not low <= value <= high:
            errors[name] = f"Must be between {low} and {high}."
        else:
            values[name] = value

    price = data.get("price")
    if price is not None or not partial:
        if price is None:
            values["price_amount"], values["price_currency"] = 0, "EUR"
        elif not isinstance(price, dict):
            errors["price"] = "Use {amount, currency}, the amount in minor units (cents)."
        else:
            amount, currency = price.get("amount"), price.get("currency")
            if isinstance(amount, bool) or not isinstance(amount, int):
                errors["price.amount"] = "Must be a whole number of minor units (cents)."
            elif not 0 <= amount <= MAX_PRICE:
                errors["price.amount"] = f"Must be between 0 and {MAX_PRICE}."
            else:
                values["price_amount"] = amount
            if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
                errors["price.currency"] = "Use a three-letter ISO 4217 code such as EUR."
            else:
                values["price_currency"] = currency.upper()

    published = data.get("is_published")
    if published is not None:
        if not isinstance(published, bool):
            errors["is_published"] = "Must be true or false."
        else:
            values["is_published"] = published

    if "cancellation_policy" in data:
        _parse_policy(data["cancellation_policy"], values, cleared, errors)
    elif not partial:
        values["refund_full_hours"] = DEFAULT_FULL_REFUND_HOURS

    if errors:
        raise ValidationError(errors)
    return ServiceInput(**values, cleared=frozenset(cleared))


# cancellation_policy's keys → Service columns
_POLICY_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "full_refund_hours": "refund_full_hours",
        "partial_refund_hours": "refund_partial_hours",
        "partial_refund_percent": "refund_partial_percent",
    }
)


def _parse_policy(
    policy: Any, values: dict[str, Any], cleared: set[str], errors: dict[str, str]
) -> None:
    """Validate ``{full_refund_hours, partial_refund_hours, partial_refund_percent}``
    (null policy: no refunds when the client cancels). Missing keys mean null."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        errors["cancellation_policy"] = (
            "Use {full_refund_hours, partial_refund_hours, partial_refund_percent}."
        )
        return
    for key in policy:
        if key not in _POLICY_FIELDS:
            errors[f"cancellation_policy.{key}"] = "Unknown field."
    parsed: dict[str, int | None] = {}
    for key, (low, high) in (
        ("full_refund_hours", (0, MAX_REFUND_HOURS)),
        ("partial_refund_hours", (0, MAX_REFUND_HOURS)),
        ("partial_refund_percent", (0, 100)),
    ):
        value = policy.get(key)
        if value is None:
            parsed[key] = None
        elif isinstance(value, bool) or not isinstance(value, int):
            errors[f"cancellation_policy.{key}"] = "Must be a whole number."
        elif not low <= value <= high:
            errors[f"cancellation_policy.{key}"] = f"Must be between {low} and {high}."
        else:
            parsed[key] = value
    if len(parsed) < 3:
        return
    full, partial, percent = (
        parsed["full_refund_hours"],
        parsed["partial_refund_hours"],
        parsed["partial_refund_percent"],
    )
    if partial is not None:
        if full is not None and partial >= full:
            errors["cancellation_policy.partial_refund_hours"] = (
                "The partial refund must end closer to the start than the full refund "
                "(fewer hours before)."
            )
        if percent is None or not 1 <= percent <= 99:
            errors["cancellation_policy.partial_refund_percent"] = (
                "Give the partial refund as a percentage between 1 and 99."
            )
    elif percent:
        errors["cancellation_policy.partial_refund_hours"] = (
            "Say until how many hours before the start the partial refund applies."
        )
    if any(f"cancellation_policy.{key}" in errors for key in _POLICY_FIELDS):
        return
    values["refund_full_hours"] = full
    values["refund_partial_hours"] = partial
    values["refund_partial_percent"] = percent if partial is not None else 0
    for key, column in _POLICY_FIELDS.items():
        if parsed[key] is None and column != "refund_partial_percent":
            cleared.add(column)


def _check_kind_fields(service: Service) -> None:
    errors: dict[str, str] = {}
    if service.kind == GROUP and not service.capacity:
        errors["capacity"] = "A group class needs a capacity."
    if service.kind == ONE_ON_ONE and service.capacity not in (None, 1):
        errors["capacity"] = "A one-on-one service has no capacity."
    if errors:
        raise ValidationError(errors)


def create_service(
    session: Session, professional: User, data: ServiceInput, *, can_charge: bool = True
) -> Service:
    """Create a service for ``professional`` from validated input. ``can_charge`` says
    whether the platform can take payments; without, a paid service cannot be
    published (ValidationError on ``price``)."""
    if not professional.is_professional:
        raise NotAllowed("Only professionals can offer services.")
    service = Service(professional_id=professional.id)
    _apply(service, data)
    _check_kind_fields(service)
    _check_can_charge(service, can_charge)
    session.add(service)
    session.flush()
    return service


def update_service(
    session: Session,
    professional: User,
    service_id: int,
    data: ServiceInput,
    *,
    can_charge: bool = True,
) -> Service:
    """Apply a partial update. Changing the kind of a service with bookings is refused
    because those bookings were made under the old rules. ``can_charge`` as for
    :func:`create_service`: the result may not be a published paid service without it."""
    service = get_own_service(session, professional, service_id)
    if data.kind is not None and data.kind != service.kind:
        raise ValidationError({"kind": "The kind of a service cannot change; create a new one."})
    _apply(service, data)
    _check_kind_fields(service)
    _check_can_charge(service, can_charge)
    service.updated_at = utcnow()
    session.flush()
    return service


def _check_can_charge(service: Service, can_charge: bool) -> None:
    # Before the first flush unset columns are None; a new service is published by default.
    published = service.is_published is not False
    if not can_charge and (service.price_amount or 0) > 0 and published:
        raise ValidationError({"price": NO_PAYMENTS_MESSAGE})


def _apply(service: Service, data: ServiceInput) -> None:
    for item in fields(ServiceInput):
        if item.name == "cleared":
            continue
        value = getattr(data, item.name)
        if value is not None:
            setattr(service, item.name, value)
    for name in data.cleared:
        setattr(service, name, None)
    if service.kind == ONE_ON_ONE:
        service.capacity = None


def delete_service(session: Session, professional: User, service_id: int) -> Service:
    """Soft-delete: bookings keep their service; nothing new can be booked."""
    service = get_own_service(session, professional, service_id)
    service.deleted_at = utcnow()
    service.is_published = False
    return service


def get_own_service(session: Session, professional: User, service_id: int) -> Service:
    """The professional's own (not deleted) service, or ServiceNotFound."""
    service = session.get(Service, service_id)
    if (
        service is None
        or service.deleted_at is not None
        or service.professional_id != professional.id
    ):
        raise ServiceNotFound()
    return service


def get_public_service(session: Session, service_id: int, viewer: User | None = None) -> Service:
    """A service anyone may see: published and not deleted, or the viewer's own; never
    one of a suspended professional (ServiceNotFound, as if it did not exist)."""
    service = session.get(Service, service_id)
    if service is None or service.deleted_at is not None:
        raise ServiceNotFound()
    if is_suspended(session, service.professional_id):
        raise ServiceNotFound()
    if not service.is_published and (viewer is None or viewer.id != service.professional_id):
        raise ServiceNotFound()
    return service


def is_suspended(session: Session, user_id: int) -> bool:
    """Whether an operator has suspended the account, read from the database now
    (not from an object the session may hold from before a lock was taken)."""
    suspended_at = session.scalar(select(User.suspended_at).where(User.id == user_id))
    return suspended_at is not None


def list_services(
    session: Session, professional_id: int, *, include_unpublished: bool
) -> list[Service]:
    query = select(Service).where(
        Service.professional_id == professional_id, Service.deleted_at.is_(None)
    )
    if not include_unpublished:
        query = query.where(Service.is_published.is_(True))
    return list(session.scalars(query.order_by(Service.id)))


# --- group sessions -----------------------------------------------------------------

MAX_RRULE_LENGTH = 500


@dataclass(frozen=True)
class SessionInput:
    start: datetime
    rrule: str | None


def parse_session_input(data: Mapping[str, Any], zone: ZoneInfo, now: datetime) -> SessionInput:
    """Validate ``{start, rrule?}``: an ISO start with an offset (or local to ``zone``)
    in the future, and an RRULE that dateutil accepts and that ends or repeats no
    more often than daily."""
    errors: dict[str, str] = {}
    start = parse_datetime(data.get("start"), zone)
    if start is None:
        errors["start"] = "Use an ISO 8601 date-time, e.g. 2026-12-01T18:00:00+01:00."
    elif start <= now:
        errors["start"] = "The session must start in the future."
    rule = data.get("rrule")
    if rule is not None:
        if not isinstance(rule, str) or not rule.strip() or len(rule) > MAX_RRULE_LENGTH:
            errors["rrule"] = "Use an RRULE such as FREQ=WEEKLY;COUNT=10."
        else:
            rule = rule.strip().removeprefix("RRULE:")
            problem = _check_rrule(rule, start or now)
            if problem:
                errors["rrule"] = problem
    if errors:
        raise ValidationError(errors)
    assert start is not None
    return SessionInput(start, rule)


def _check_rrule(rule: str, start: datetime) -> str | None:
    upper = rule.upper()
    if any(freq in upper for freq in ("FREQ=SECONDLY", "FREQ=MINUTELY", "FREQ=HOURLY")):
        return "Sessions repeat at most daily."
    try:
        rrulestr(rule, dtstart=start)
    except (ValueError, TypeError) as error:
        return f"Not a valid RRULE: {error}."
    return None


def new_event_uid() -> str:
    return f"{uuid.uuid4()}@consult"


def session_duration(service: Service) -> timedelta:
    return timedelta(minutes=service.duration_minutes)


def list_group_sessions(session: Session, service: Service) -> list[GroupSession]:
    return list(
        session.scalars(
            select(GroupSession)
            .where(GroupSession.service_id == service.id, GroupSession.cancelled_at.is_(None))
            .order_by(GroupSession.start)
        )
    )
