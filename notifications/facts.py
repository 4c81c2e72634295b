"""What the booking emails say about a booking, gathered once per change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from accounts.models import User
from booking.links import manage_token
from booking.models import Booking, GroupSession, Service
from notifications.rendering import zone_or_utc


@dataclass(frozen=True)
class Site:
    """The two settings every booking email needs."""

    base_url: str
    secret_key: str


@dataclass(frozen=True)
class BookingFacts:
    booking: Booking
    service: Service
    professional: User
    client: User
    group_session: GroupSession | None
    site: Site

    @classmethod
    def load(cls, session: Session, booking: Booking, site: Site) -> BookingFacts:
        """Everything about ``booking``; assumes its service and both accounts exist
        (the booking core keeps them: services are soft-deleted)."""
        service = booking.service or session.get(Service, booking.service_id)
        professional = session.get(User, booking.professional_id)
        client = session.get(User, booking.client_id)
        assert service is not None and professional is not None and client is not None
        group_session = (
            session.get(GroupSession, booking.group_session_id)
            if booking.group_session_id is not None
            else None
        )
        return cls(booking, service, professional, client, group_session, site)

    @property
    def zone(self) -> ZoneInfo:
        """The professional's zone: the calendar event is written in it."""
        return zone_or_utc(self.professional.timezone)

    @property
    def booking_url(self) -> str:
        return f"{self.site.base_url}/bookings/{self.booking.id}"

    @property
    def join_url(self) -> str:
        # The video session page (served by the video package) for this booking.
        return f"{self.site.base_url}/bookings/{self.booking.id}/session"

    @property
    def manage_url(self) -> str:
        token = manage_token(self.booking, self.site.secret_key)
        return f"{self.site.base_url}/manage/{token}"

    @property
    def recurrence_id(self) -> datetime | None:
        """The occurrence of a recurring group session this seat is in (the
        series' RECURRENCE-ID is the occurrence's original start), else None."""
        if self.group_session is not None and self.group_session.rrule:
            return self.booking.start
        return None

    def context(self, role: str, **extra: Any) -> dict[str, Any]:
        """Template context for the client (``role="client"``) or the professional.
        Only the client gets the manage link; nobody gets the client's note."""
        is_client = role == "client"
        return {
            "role": role,
            "service_title": self.service.title,
            "start": self.booking.start,
            "end": self.booking.end,
            "is_group": self.booking.is_group,
            "professional_name": self.professional.name,
            "client_name": self.client.name,
            "other_name": self.professional.name if is_client else self.client.name,
            "booking_url": self.booking_url,
            "join_url": self.join_url,
            "manage_url": self.manage_url if is_client else None,
            **extra,
        }
