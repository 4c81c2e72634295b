"""Outlook / Microsoft 365 through Microsoft Graph (``calendarView/delta``).

A delta query over the calendar view returns every occurrence in a time window
(recurring series arrive expanded, one event per occurrence), then an
``@odata.deltaLink`` that later returns only what changed, deletions as
``@removed`` entries. The window is fixed when the delta starts, so it is started
again (a full listing) :data:`WINDOW_RESTART` after it began, covering
:data:`~sync.events.HISTORY` before then to :data:`WINDOW_AHEAD` after.
Graph returns times in UTC unless asked otherwise, but accepts and returns Windows
zone names (``W. Europe Standard Time``), which :mod:`sync.timezones`
maps to IANA.

Write-back creates the booking's event with a ``transactionId`` (Graph's
idempotency key for creation), then updates it with PATCH and removes it with
DELETE.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import icalendar
import requests

from consult.db import utcnow
from sync.errors import (
    SourceDataError,
    SourceError,
    SyncTokenExpired,
)
from sync.events import HISTORY, ZoneReader
from sync.sources.base import (
    FetchResult,
    Limits,
    PushEvent,
    RemoteEvent,
    SourceConfig,
)
from sync.sources.http import raise_for_status, read_json
from sync.sources.oauth_api import OAuthApiSource, escape_text

__all__ = ["MicrosoftSource", "graph_event_component"]

_WHAT = "Microsoft Outlook"
WINDOW_AHEAD = timedelta(days=400)
WINDOW_RESTART = timedelta(days=30)
_PAGE_SIZE = 200
_MAX_PAGES = 500
_SHOW_AS_FREE = "free"


def _graph_wall(value: str) -> datetime:
    """Graph's ``2030-01-07T09:00:00.0000000`` (seven fractional digits) as naive time."""
    value = value.strip()
    if "." in value:
        head, fraction = value.split(".", 1)
        value = f"{head}.{fraction[:6]}"
    return datetime.fromisoformat(value).replace(tzinfo=None)


def _time_line(name: str, value: Any, all_day: bool) -> str:
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise SourceDataError(f"{_WHAT} sent an event without a valid time.")
    wall = _graph_wall(str(value["dateTime"]))
    if all_day:
        return f"{name};VALUE=DATE:{wall:%Y%m%d}"
    zone = str(value.get("timeZone") or "UTC").replace('"', "")
    if zone.upper() == "UTC":
        return f"{name}:{wall:%Y%m%dT%H%M%S}Z"
    # Windows names ("Pacific Standard Time") or anything else: resolved (or reported
    # as unknown) by the normalisation, like a TZID in an ICS file.
    return f'{name};TZID="{zone}":{wall:%Y%m%dT%H%M%S}'


def graph_event_component(item: dict[str, Any]) -> icalendar.Event:
    """One Graph event (an occurrence or single instance) as a VEVENT: times,
    all-day, showAs (``free`` is transparent), cancellation and subject."""
    all_day = bool(item.get("isAllDay"))
    lines = [
        "BEGIN:VEVENT",
        f"UID:{escape_text(str(item.get('iCalUId') or item['id']))}",
        _time_line("DTSTART", item.get("start"), all_day),
        _time_line("DTEND", item.get("end"), all_day),
    ]
    if item.get("isCancelled"):
        lines.append("STATUS:CANCELLED")
    elif str(item.get("showAs", "")).lower() == "tentative":
        lines.append("STATUS:TENTATIVE")
    if str(item.get("showAs", "")).lower() == _SHOW_AS_FREE:
        lines.append("TRANSP:TRANSPARENT")
    if item.get("subject"):
        lines.append(f"SUMMARY:{escape_text(str(item['subject']))}")
    lines.append("END:VEVENT")
    component: Any = icalendar.Event.from_ical("\r\n".join(lines) + "\r\n")
    return component  # from_ical on the Event class returns an Event


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class MicrosoftSource(OAuthApiSource):
    """The professional's default Outlook calendar."""

    what = _WHAT
    calendar_name = "Outlook calendar"
    version_field = "changeKey"

    def _own(self, url: str) -> bool:
        """Whether ``url`` (a next or delta link from Graph) is on the Graph host, so
        the access token never goes anywhere else."""
        base = urlsplit(self.provider.api_url)
        link = urlsplit(url)
        return (link.scheme, link.netloc) == (base.scheme, base.netloc)

    def fetch(self, config: SourceConfig, limits: Limits) -> FetchResult:
        """The delta since the stored link, or a full listing of a new window."""
        now = utcnow()
        delta_link = config.sync_token
        window_start = config.window_start
        if (
            not delta_link
            or window_start is None
            or now - window_start > HISTORY + WINDOW_RESTART
            or not self._own(delta_link)
        ):
            delta_link = ""
            window_start = now - HISTORY
        if delta_link:
            url = delta_link
        else:
            query = urlencode(
                {
                    "startDateTime": _graph_time(window_start) + "Z",
                    "endDateTime": _graph_time(now + WINDOW_AHEAD) + "Z",
                }
            )
            url = f"{self.provider.api_url}/me/calendarView/delta?{query}"
        headers = {"Prefer": f"odata.maxpagesize={_PAGE_SIZE}"}
        items: list[dict[str, Any]] = []
        new_link = ""
        name = ""
        with self._session(config, limits) as session:
            if not delta_link:
                name = self._calendar_name(session, limits)
            for _ in range(_MAX_PAGES):
                response = self._call(session, limits, "GET", url, headers=headers)
                with response:
                    if response.status_code in (410,) and delta_link:
                        raise SyncTokenExpired("Graph forgot the delta link.")
                    raise_for_status(response, _WHAT)
                    page = read_json(response, limits, _WHAT)
                batch = page.get("value") or []
                if not isinstance(batch, list):
                    raise SourceDataError(f"{_WHAT} sent an unexpected answer.")
                items.extend(item for item in batch if isinstance(item, dict))
                limits.check_events(len(items))
                next_link = str(page.get("@odata.nextLink") or "")
                if next_link:
                    if not self._own(next_link):
                        raise SourceDataError(f"{_WHAT} sent a link to another server.")
                    url = next_link
                    continue
                new_link = str(page.get("@odata.deltaLink") or "")
                break
            else:
                raise SourceDataError(f"{_WHAT} kept sending more pages; giving up this sync.")
        reader = ZoneReader(own_zone=config.own_zone)
        events: list[RemoteEvent] = []
        deleted: list[str] = []
        for item in items:
            event_id = str(item.get("id", ""))
            if not event_id:
                continue
            if "@removed" in item:
                deleted.append(event_id)
                continue
            if event_id in config.skip_remote_ids or item.get("iCalUId") in config.skip_uids:
                continue
            if item.get("type") == "seriesMaster":
                continue  # its occurrences arrive on their own
            try:
                components: list[icalendar.cal.Component] = [graph_event_component(item)]
            except (SourceError, ValueError, KeyError, TypeError):
                reader.findings.skip("its times cannot be read", "an event")
                components = []
            events.append(
                RemoteEvent(
                    remote_id=event_id,
                    group_id=event_id,
                    etag=str(item.get("@odata.etag") or item.get("changeKey") or "")[:255],
                    components=components,
                )
            )
        return FetchResult(
            complete=not delta_link,
            events=events,
            deleted=deleted,
            reader=reader,
            remote_name=name,
            new_sync_token=new_link or None,
            new_window_start=window_start,
        )

    def _calendar_name(self, session: requests.Session, limits: Limits) -> str:
        response = self._call(session, limits, "GET", f"{self.provider.api_url}/me/calendar")
        with response:
            if response.status_code >= 300:
                return ""
            return str(read_json(response, limits, _WHAT).get("name") or "")[:255]

    # --- write-back ------------------------------------------------------------------

    def _body(self, event: PushEvent) -> dict[str, Any]:
        return {
            "subject": event.summary,
            "body": {"contentType": "text", "content": event.description},
            "start": {"dateTime": _graph_time(event.start), "timeZone": "UTC"},
            "end": {"dateTime": _graph_time(event.end), "timeZone": "UTC"},
            "showAs": "busy",
            "isReminderOn": False,
        }

    def push(
        self, config: SourceConfig, limits: Limits, event: PushEvent, remote_id: str
    ) -> tuple[str, str]:
        """Create or update the booking's event; returns (event id, change key)."""
        api = self.provider.api_url
        with self._session(config, limits) as session:
            if remote_id:
                response = self._call(
                    session,
                    limits,
                    "PATCH",
                    f"{api}/me/events/{quote(remote_id)}",
                    json=self._body(event),
                )
                if response.status_code != 404:
                    return self._pushed(response, limits)
            body = {**self._body(event), "transactionId": event.uid[:64]}
            response = self._call(session, limits, "POST", f"{api}/me/calendar/events", json=body)
            return self._pushed(response, limits)

    def delete(self, config: SourceConfig, limits: Limits, remote_id: str) -> None:
        """Delete the booking's event (already gone is fine)."""
        if remote_id:
            self._delete(config, limits, f"{self.provider.api_url}/me/events/{quote(remote_id)}")

    def revoke(self, config: SourceConfig, limits: Limits) -> None:
        """Microsoft offers no endpoint to revoke one app's grant (only all of a user's
        sessions, which would sign them out everywhere), so the tokens are just deleted
        with the connection; the professional can remove the app's consent at
        https://myapps.microsoft.com."""
