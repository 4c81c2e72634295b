"""Any CalDAV server (iCloud, Fastmail, Nextcloud, Radicale...) through the ``caldav``
library.

The URL may name the calendar itself or anything above it (the server, the
principal): then the first calendar holding events is used, and remembered.
Incremental in two ways: with a server that supports RFC 6578, a sync-collection
REPORT from the stored sync token lists what changed and what was deleted; without
it (or when the server forgot the token) the full listing of hrefs and ETags is
compared with the ETags last mirrored. Either way only changed events are
downloaded, in calendar-multiget batches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

import icalendar
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.elements import cdav, dav
from caldav.lib import error as caldav_error

from sync.errors import (
    SourceAuthError,
    SourceDataError,
    SourceError,
    SourceUnavailable,
    UnsafeUrl,
)
from sync.events import ZoneReader
from sync.sources.base import (
    FetchResult,
    Limits,
    PushEvent,
    RemoteEvent,
    SourceConfig,
)
from sync.sources.http import USER_AGENT, check_target
from sync.sources.pinning import check_connections
from sync.urls import redirect_guard

__all__ = ["CalDavSource", "event_text"]

log = logging.getLogger(__name__)

_WHAT = "The CalDAV server"
_MULTIGET_BATCH = 200
_FAKE_TOKEN_PREFIX = "fake-"  # the caldav library's token when it had to list everything


@contextmanager
def _mapped() -> Iterator[None]:
    """Turn the caldav library's and niquests' exceptions into ``SourceError``s."""
    try:
        yield
    except SourceError:
        raise
    except UnsafeUrl as error:
        # A redirect, or the host's addresses changed after the check before the request.
        raise SourceDataError(f"{_WHAT} led somewhere we may not go: {error}") from error
    except caldav_error.AuthorizationError as error:
        raise SourceAuthError(
            f"{_WHAT} refused the user name or password. Check them (many providers need "
            "an app-specific password) and connect the calendar again."
        ) from error
    except caldav_error.NotFoundError as error:
        raise SourceDataError(f"{_WHAT} says this calendar does not exist.") from error
    except caldav_error.RateLimitError as error:
        raise SourceUnavailable(f"{_WHAT} asks us to slow down; will retry.") from error
    except caldav_error.DAVError as error:
        raise SourceUnavailable(
            f"{_WHAT} answered with an error ({type(error).__name__}); will retry."
        ) from error
    except TimeoutError as error:
        raise SourceUnavailable(f"{_WHAT} did not answer in time; will retry.") from error
    except OSError as error:  # niquests' ConnectionError and Timeout derive from OSError
        name = type(error).__name__
        if "Timeout" in name:
            raise SourceUnavailable(f"{_WHAT} did not answer in time; will retry.") from error
        raise SourceUnavailable(f"{_WHAT} cannot be reached ({name}); will retry.") from error
    except Exception as error:  # lxml on a garbled answer, anything else from the library
        log.info("caldav failure", exc_info=True)
        raise SourceUnavailable(
            f"{_WHAT}'s answer could not be understood ({type(error).__name__}); will retry."
        ) from error


def _path(url: Any) -> str:
    """An object's remote id: its URL path, unquoted (stable across host spellings)."""
    return unquote(urlsplit(str(url)).path)


def event_text(event: PushEvent) -> str:
    """The VCALENDAR written to an outside calendar for a booking."""
    calendar = icalendar.Calendar()
    calendar.add("PRODID", "-//Consult Platform//Booking//EN")
    calendar.add("VERSION", "2.0")
    vevent = icalendar.Event()
    vevent.add("UID", event.uid)
    vevent.add("DTSTAMP", event.start)
    vevent.add("DTSTART", event.start)
    vevent.add("DTEND", event.end)
    vevent.add("SUMMARY", event.summary)
    vevent.add("DESCRIPTION", event.description)
    vevent.add("URL", event.url)
    vevent.add("TRANSP", "OPAQUE")
    vevent.add("X-CONSULT-BOOKING-ID", str(event.booking_id))
    calendar.add_component(vevent)
    return str(calendar.to_ical().decode())


class CalDavSource:
    """A calendar on a CalDAV server (read, and write-back of bookings)."""

    def _client(self, config: SourceConfig, limits: Limits) -> DAVClient:
        check_target(config.url, limits)
        password = str(config.credentials.data.get("password", ""))
        with _mapped():
            client = DAVClient(
                url=config.url,
                username=config.username or None,
                password=password or None,
                timeout=max(1, int(limits.timeout())),
                headers={"User-Agent": USER_AGENT},
                enable_rfc6764=False,
            )
        client.session.hooks["response"].append(redirect_guard(limits.allow_private))
        if not limits.allow_private:
            check_connections(client.session)
        return client

    def _calendar(
        self, client: DAVClient, config: SourceConfig, limits: Limits
    ) -> tuple[Calendar, str, str, str | None]:
        """(calendar, its URL, its display name, its default zone) of the connection."""
        url = config.resolved_url or config.url
        calendar = client.calendar(url=url)
        props = calendar.get_properties(
            [dav.DisplayName(), dav.ResourceType(), cdav.CalendarTimeZone()]
        )
        kinds = props.get(dav.ResourceType.tag) or []
        if cdav.Calendar.tag not in kinds:
            calendar, props = self._discover(client, limits)
            url = str(calendar.url)
        name = str(props.get(dav.DisplayName.tag) or "").strip()
        return calendar, url, name, _zone_of(props.get(cdav.CalendarTimeZone.tag))

    def _discover(self, client: DAVClient, limits: Limits) -> tuple[Calendar, dict[str, Any]]:
        """The principal's first calendar that holds events."""
        limits.timeout()
        principal = client.principal()
        for calendar in principal.calendars():
            try:
                components = calendar.get_supported_components()
            except Exception:  # servers that do not say: assume events
                components = ["VEVENT"]
            if "VEVENT" in components:
                if urlsplit(str(calendar.url)).hostname != urlsplit(str(client.url)).hostname:
                    # A calendar on another host would carry our password elsewhere.
                    continue
                props = calendar.get_properties(
                    [dav.DisplayName(), dav.ResourceType(), cdav.CalendarTimeZone()]
                )
                return calendar, props
        raise SourceDataError(
            "No calendar with events was found at this address. Use the calendar's own URL."
        )

    def fetch(self, config: SourceConfig, limits: Limits) -> FetchResult:
        """Changes since the stored sync token, or a full ETag comparison (module doc)."""
        with _mapped():
            client = self._client(config, limits)
            try:
                calendar, url, name, zone = self._calendar(client, config, limits)
                token = config.sync_token or None
                limits.timeout()
                # The synchronous client returns the collection itself, never a coroutine.
                listing: Any = calendar.get_objects_by_sync_token(
                    sync_token=token, load_objects=False
                )
                new_token = str(listing.sync_token or "")
                complete = token is None or new_token.startswith(_FAKE_TOKEN_PREFIX)
                deleted = {_path(u) for u in listing.deleted_urls}
                limits.check_events(len(listing.objects))
                reader = ZoneReader(own_zone=config.own_zone, default_zone=zone)
                events: list[RemoteEvent] = []
                to_load: list[Any] = []
                for obj in listing.objects:
                    remote_id = _path(obj.url)
                    if remote_id in deleted or remote_id in config.skip_remote_ids:
                        continue
                    etag = str(obj.props.get(dav.GetEtag.tag) or "")[:255]
                    event = RemoteEvent(remote_id=remote_id, group_id=remote_id, etag=etag)
                    events.append(event)
                    if getattr(obj, "data", None):
                        event.components = self._components(obj.data, reader, config, limits)
                    elif not etag or config.known_etags.get(remote_id) != etag:
                        to_load.append((event, obj))
                # Objects that vanish between the listing and the download keep
                # components=None: kept as they were; the next sync reports the deletion.
                self._load(calendar, to_load, reader, config, limits)
            finally:
                client.close()
        return FetchResult(
            complete=complete,
            events=events,
            deleted=sorted(deleted),
            reader=reader,
            remote_name=name,
            new_sync_token=new_token,
            new_resolved_url=url,
        )

    def _load(
        self,
        calendar: Calendar,
        pending: Sequence[tuple[RemoteEvent, Any]],
        reader: ZoneReader,
        config: SourceConfig,
        limits: Limits,
    ) -> None:
        for first in range(0, len(pending), _MULTIGET_BATCH):
            batch = pending[first : first + _MULTIGET_BATCH]
            limits.timeout()
            loaded: Any = calendar.multiget([obj.url for _, obj in batch])
            by_path = {_path(obj.url): obj for obj in loaded}
            for event, _ in batch:
                obj = by_path.get(event.remote_id)
                data = getattr(obj, "data", None) if obj is not None else None
                if data:
                    event.components = self._components(data, reader, config, limits)
                    fresh = obj.props.get(dav.GetEtag.tag) if obj is not None else None
                    if fresh:
                        event.etag = str(fresh)[:255]

    def _components(
        self, data: str, reader: ZoneReader, config: SourceConfig, limits: Limits
    ) -> list[icalendar.cal.Component]:
        """The VEVENTs of one object; [] (mirrors nothing) for data that cannot be read."""
        if len(data) > limits.max_bytes:
            reader.findings.skip("it is larger than the platform accepts", "an event")
            return []
        try:
            calendar = icalendar.Calendar.from_ical(data)
        except Exception:  # one broken object must not stop the others
            reader.findings.skip("it is not valid iCalendar", "an event")
            return []
        reader.learn(calendar)
        events = list(calendar.walk("VEVENT"))
        if any(str(e.get("UID", "")) in config.skip_uids for e in events):
            return []
        return events

    # --- write-back ------------------------------------------------------------------

    def _object_url(self, config: SourceConfig, remote_id: str, uid: str) -> str:
        base = config.resolved_url or config.url
        if remote_id:
            return urljoin(base, quote(remote_id))
        return urljoin(base if base.endswith("/") else base + "/", quote(uid, safe="") + ".ics")

    def push(
        self, config: SourceConfig, limits: Limits, event: PushEvent, remote_id: str
    ) -> tuple[str, str]:
        """PUT the booking's event (same URL every time, so retries are idempotent)."""
        with _mapped():
            client = self._client(config, limits)
            try:
                if not config.resolved_url:
                    _, url, _, _ = self._calendar(client, config, limits)
                    config = replace(config, resolved_url=url)
                url = self._object_url(config, remote_id, event.uid)
                response = client.put(
                    url, event_text(event), {"Content-Type": "text/calendar; charset=utf-8"}
                )
                if response.status not in (200, 201, 204):
                    raise SourceUnavailable(
                        f"{_WHAT} did not accept the booking (HTTP {response.status})."
                    )
                etag = str(response.headers.get("ETag", ""))[:255]
            finally:
                client.close()
        return _path(url), etag

    def delete(self, config: SourceConfig, limits: Limits, remote_id: str) -> None:
        """DELETE the booking's event; a 404 means it is already gone."""
        if not remote_id:
            return
        with _mapped():
            client = self._client(config, limits)
            try:
                response = client.delete(self._object_url(config, remote_id, ""))
                if response.status not in (200, 204, 404, 410):
                    raise SourceUnavailable(
                        f"{_WHAT} did not delete the booking (HTTP {response.status})."
                    )
            finally:
                client.close()

    def revoke(self, config: SourceConfig, limits: Limits) -> None:
        """Nothing to revoke: CalDAV has no tokens (the professional may delete the app
        password at their provider)."""


def _zone_of(vtimezone_text: Any) -> str | None:
    """The TZID of a CALDAV:calendar-timezone property (its default zone), if any."""
    if not vtimezone_text:
        return None
    try:
        calendar = icalendar.Calendar.from_ical(str(vtimezone_text))
    except Exception:
        return None
    for component in calendar.walk("VTIMEZONE"):
        tzid = component.get("TZID")
        if tzid:
            return str(tzid)
    return None
