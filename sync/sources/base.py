"""The port every outside calendar sits behind, and the values that cross it.

An adapter (:mod:`.caldav_source`, :mod:`.ics`, :mod:`.google`, :mod:`.microsoft`)
turns one connection's state (:class:`SourceConfig`) into the events that changed
upstream (:class:`FetchResult`), and pushes bookings out when it can. Adapters do
network I/O only: no database, no Flask. They raise only
:class:`~sync.errors.SourceError` subclasses.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import icalendar

from sync.errors import SourceDataError, SourceUnavailable
from sync.events import ZoneReader

__all__ = [
    "CalendarSource",
    "Credentials",
    "FetchResult",
    "Limits",
    "PushEvent",
    "RemoteEvent",
    "SourceConfig",
]


class Credentials:
    """The connection's secret (password or OAuth tokens), decrypted.

    Adapters that refresh OAuth tokens call :meth:`replace`; the sync then stores the
    new value encrypted, even when the sync itself fails afterwards.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data: dict[str, Any] = dict(data)
        self.changed = False

    def replace(self, data: Mapping[str, Any]) -> None:
        """Use ``data`` from now on and mark it to be saved."""
        self.data = dict(data)
        self.changed = True


@dataclass(frozen=True)
class SourceConfig:
    """What an adapter knows about one connection: where, who, and where it left off.

    ``known_etags`` maps remote ids to the etag last mirrored (CalDAV skips
    downloading those). ``skip_remote_ids`` and ``skip_uids`` name events the
    platform wrote itself (bookings pushed there): they are not mirrored back.
    """

    connection_id: int
    kind: str
    url: str
    username: str
    credentials: Credentials
    own_zone: ZoneInfo
    resolved_url: str = ""
    sync_token: str = ""
    http_etag: str = ""
    http_last_modified: str = ""
    content_digest: str = ""
    window_start: datetime | None = None
    known_etags: Mapping[str, str] = field(default_factory=dict)
    skip_remote_ids: frozenset[str] = frozenset()
    skip_uids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Limits:
    """Bounds on one run: per-request timeout, an overall deadline (``time.monotonic``),
    download and event caps, and whether private addresses may be fetched."""

    request_timeout: float
    deadline: float
    max_bytes: int
    max_events: int
    allow_private: bool

    def timeout(self) -> float:
        """The timeout for the next request: the smaller of the per-request timeout and
        what is left until the deadline. Raises :class:`SourceUnavailable` when none is."""
        left = self.deadline - time.monotonic()
        if left <= 0.05:
            raise SourceUnavailable("The calendar server took too long to answer; will retry.")
        return min(self.request_timeout, left)

    def check_events(self, count: int) -> None:
        """Raise :class:`SourceDataError` when ``count`` events exceed the cap."""
        if count > self.max_events:
            raise SourceDataError(
                f"This calendar has more than {self.max_events} events, more than the platform "
                "mirrors. Connect a smaller calendar, or ask the operator to raise the limit."
            )


@dataclass
class RemoteEvent:
    """One remote event (or a whole series, for sources that deliver it in one piece).

    ``group_id`` is the remote id of the series it belongs to (its own id when it
    stands alone): members of a group become one item of the mirror calendar.
    ``components`` is ``None`` when the event is unchanged since ``etag`` (kept as is).
    """

    remote_id: str
    group_id: str
    etag: str = ""
    components: list[icalendar.cal.Component] | None = None


@dataclass
class FetchResult:
    """What changed upstream since the state in :class:`SourceConfig`.

    ``complete``: ``events`` lists every remote event (with ``components=None`` for
    unchanged ones), so known events missing from it were deleted. Otherwise the
    result is a delta and ``deleted`` names the removed ones. ``not_modified``:
    nothing changed at all (an HTTP 304). ``reader`` resolves the calendar's time
    zones. The ``new_*`` fields are sync state to store (``None`` keeps the old).
    """

    complete: bool
    events: list[RemoteEvent] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_modified: bool = False
    reader: ZoneReader | None = None
    remote_name: str = ""
    new_sync_token: str | None = None
    new_http_etag: str | None = None
    new_http_last_modified: str | None = None
    new_content_digest: str | None = None
    new_resolved_url: str | None = None
    new_window_start: datetime | None = None


@dataclass(frozen=True)
class PushEvent:
    """A booking as written to an outside calendar: times in UTC, a title, a link."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str
    url: str
    booking_id: int


class CalendarSource(Protocol):
    """An outside calendar. ``fetch`` reads changes; the rest write (CalDAV, Google,
    Microsoft: an ICS feed raises :class:`SourceError` for writes)."""

    def fetch(self, config: SourceConfig, limits: Limits) -> FetchResult:
        """Return the changes since ``config``'s state; raise a ``SourceError``."""
        ...

    def push(
        self, config: SourceConfig, limits: Limits, event: PushEvent, remote_id: str
    ) -> tuple[str, str]:
        """Create (``remote_id`` empty) or replace the event; return (remote id, etag)."""
        ...

    def delete(self, config: SourceConfig, limits: Limits, remote_id: str) -> None:
        """Delete the event; an event already gone is not an error."""
        ...

    def revoke(self, config: SourceConfig, limits: Limits) -> None:
        """Give up the access the connection holds, where the protocol allows it."""
        ...
