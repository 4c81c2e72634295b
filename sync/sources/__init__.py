"""Adapters for outside calendars behind one port (:class:`~.base.CalendarSource`):
CalDAV servers, ICS feeds, Google Calendar and Microsoft Outlook. Only these
modules import the libraries that talk to them (``caldav``, ``requests``,
``authlib``). :func:`sync.sources.adapters.source_for` picks one for a kind."""

from __future__ import annotations

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
]
