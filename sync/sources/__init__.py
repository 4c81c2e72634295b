"""Adapters for outside calendars behind one port (:class:`~.base.CalendarSource`):
CalDAV servers, ICS feeds, Google Calendar and Microsoft Outlook. Only these
modules import the libraries that talk to them (``caldav``, ``requests``,
``authlib``)."""

from __future__ import annotations

from consult.config import Settings
from sync.models import CALDAV, GOOGLE, ICS, MICROSOFT
from sync.sources.base import (
    CalendarSource,
    Credentials,
    FetchResult,
    Limits,
    PushEvent,
    RemoteEvent,
    SourceConfig,
)

__all__ = [
    "CalendarSource",
    "Credentials",
    "FetchResult",
    "Limits",
    "PushEvent",
    "RemoteEvent",
    "SourceConfig",
    "source_for",
]


def source_for(kind: str, settings: Settings) -> CalendarSource:
    """The adapter for a connection ``kind``, configured from ``settings``."""
    from sync.oauth import provider_for

    if kind == CALDAV:
        from sync.sources.caldav_source import CalDavSource

        return CalDavSource()
    if kind == ICS:
        from sync.sources.ics import IcsSource

        return IcsSource()
    if kind == GOOGLE:
        from sync.sources.google import GoogleSource

        return GoogleSource(provider_for(settings, GOOGLE))
    if kind == MICROSOFT:
        from sync.sources.microsoft import MicrosoftSource

        return MicrosoftSource(provider_for(settings, MICROSOFT))
    raise ValueError(f"unknown calendar kind {kind!r}")
