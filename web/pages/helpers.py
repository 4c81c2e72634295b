"""Helpers shared by the client and professional pages: the visitor's time zone,
formatting of prices and times (every time says its zone), and role guards."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from booking.core.currency import minor_exponent

F = TypeVar("F", bound=Callable[..., Any])

TZ_COOKIE = "tz"
TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})
_SYMBOLS = MappingProxyType({"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"})
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "JPY")


def load_zone(name: Any) -> ZoneInfo | None:
    """The IANA zone called ``name``, or None for anything else (never raises)."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return None
    if name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


class VisitorZone:
    """The zone times are shown in, and where it came from.

    Order: the ``tz`` query parameter (a choice made on this page, or the no-JS
    fallback), the ``tz`` cookie (set by the browser from ``Intl`` or the zone
    picker), the signed-in account's zone, then ``default``. ``problem`` says why an
    asked-for zone was not used.
    """

    def __init__(self, default: str = "UTC") -> None:
        self.problem: str | None = None
        self.source = "default"
        asked = request.args.get("tz")
        zone = None
        if asked:
            zone = load_zone(asked)
            if zone is None:
                self.problem = (
                    f"We do not know the time zone “{asked[:64]}”, so times are shown "
                    "in another zone (see below)."
                )
            else:
                self.source = "param"
        if zone is None:
            zone = load_zone(unquote(request.cookies.get(TZ_COOKIE) or ""))
            if zone is not None:
                self.source = "cookie"
        if zone is None and current_user.is_authenticated:
            zone = load_zone(current_user.timezone)
            if zone is not None:
                self.source = "account"
        self.zone: ZoneInfo = zone or load_zone(default) or ZoneInfo("UTC")
        self.name: str = self.zone.key


def format_price(amount: int, currency: str) -> str:
    """``4500, "EUR"`` → "€45.00"; ``0`` → "Free"; codes without a symbol go first
    ("CHF 80.00")."""
    if amount == 0:
        return "Free"
    exponent = minor_exponent(currency)
    value = Decimal(amount).scaleb(-exponent)
    number = f"{value:,.{exponent}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{currency} {number}"


def price_input(amount: int, currency: str) -> str:
    """A price in main units for a form field ("45.00", "3000" for JPY)."""
    exponent = minor_exponent(currency)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def format_duration(minutes: int) -> str:
    """50 → "50 min"; 90 → "1 h 30 min"; 120 → "2 h"."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def zone_label(zone: ZoneInfo | str) -> str:
    """A zone's name for people: "America/New York" for ``America/New_York``."""
    key = zone if isinstance(zone, str) else zone.key
    return key.replace("_", " ")


def format_when(moment: datetime, zone: ZoneInfo) -> str:
    """Return e.g. "Tue 3 Dec 2026, 10:00 (Europe/Berlin)": a time always says its zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({zone_label(zone)})"


def format_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """Return e.g. "Tue 3 Dec 2026, 10:00–10:50 (Europe/Berlin)"."""
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.date() == last.date():
        return f"{first:%a} {first.day} {first:%b %Y, %H:%M}–{last:%H:%M} ({zone_label(zone)})"
    return (
        f"{first:%a} {first.day} {first:%b %Y, %H:%M} – "
        f"{last:%a} {last.day} {last:%b %Y, %H:%M} ({zone_label(zone)})"
    )


def format_day(day: date) -> str:
    """Return e.g. "Tuesday 3 December 2026"."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def zone_offset(zone: ZoneInfo, at: datetime | None = None) -> str:
    """The zone's UTC offset now (or ``at``), e.g. "UTC+01:00"."""
    moment = (at or datetime.now(zone)).astimezone(zone)
    offset = moment.strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def user_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Names of the accounts with these ids (one query)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


def render_error(status: int, message: str) -> Any:
    """The friendly error page with ``status`` and a message saying what to do."""
    return render_template("error.html", status=status, message=message), status


def professional_required(view: F) -> F:
    """Decorator: signed in (else the sign-in page) and a professional (else a 403 page
    that explains how to become one)."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.account.is_professional:
            return render_error(
                403,
                "This page is for professionals. Your account books sessions; to offer "
                "sessions, create a professional account.",
            )
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def operator_required(view: F) -> F:
    """Decorator: signed in as an operator, else the 404 of a page that does not
    exist (not the sign-in page), so the operators' area is not revealed."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.account.is_operator:
            abort(404)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def template_helpers() -> dict[str, Any]:
    """Functions and data every template may use."""
    return {
        "format_price": format_price,
        "format_duration": format_duration,
        "format_when": format_when,
        "format_span": format_span,
        "format_day": format_day,
        "zone_offset": zone_offset,
        "zone_label": zone_label,
    }
