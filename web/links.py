"""Absolute URLs for things that leave the web app (calendar events, emails, feeds)."""

from __future__ import annotations

from booking.bookings import Links
from booking.links import manage_token
from booking.models import Booking
from web.session import get_settings


def links() -> Links:
    return Links(base_url=get_settings().app.base_url)


def manage_url(booking: Booking) -> str:
    settings = get_settings()
    return f"{settings.app.base_url}/manage/{manage_token(booking, settings.app.secret_key)}"
