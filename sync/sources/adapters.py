"""Which adapter serves which kind of connection."""

from __future__ import annotations

from consult.config import Settings
from sync.models import CALDAV, GOOGLE, ICS, MICROSOFT
from sync.oauth import provider_for
from sync.sources.base import CalendarSource
from sync.sources.caldav_source import CalDavSource
from sync.sources.google import GoogleSource
from sync.sources.ics import IcsSource
from sync.sources.microsoft import MicrosoftSource


def source_for(kind: str, settings: Settings) -> CalendarSource:
    """The adapter for a connection ``kind``, configured from ``settings``."""
    if kind == CALDAV:
        return CalDavSource()
    if kind == ICS:
        return IcsSource()
    if kind == GOOGLE:
        return GoogleSource(provider_for(settings, GOOGLE))
    if kind == MICROSOFT:
        return MicrosoftSource(provider_for(settings, MICROSOFT))
    raise ValueError(f"unknown calendar kind {kind!r}")
