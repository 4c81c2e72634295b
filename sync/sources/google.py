"""Google Calendar through the Calendar API v3 (``events.list`` with sync tokens).

The first sync lists every event of the primary calendar (``singleEvents=false``:
recurring events arrive as one master with its RRULE plus their modified or
cancelled instances); later syncs send the stored ``nextSyncToken`` and receive
only what changed, deletions included. A 410 means Google forgot the token: the
sync starts over with a full listing. Events are converted to iCalendar
components (:func:`google_event_component`) and mirrored like any other source.

Write-back uses ``events.insert`` / ``events.update`` / ``events.delete``; the
booking's UID goes in ``iCalUID``, so an insert retried after a lost answer finds
the event instead of creating a second one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import icalendar
import requests

from sync.errors import (
    SourceDataError,
    SourceError,
    SyncTokenExpired,
)
from sync.events import ZoneReader
from sync.oauth import api_calls
from sync.sources.base import (
    FetchResult,
    Limits,
    PushEvent,
    RemoteEvent,
    SourceConfig,
)
from sync.sources.http import raise_for_status, read_json
from sync.sources.oauth_api import OAuthApiSource, escape_text
from sync.timezones import resolve_tzid

__all__ = ["GoogleSource", "google_event_component"]

_WHAT = "Google Calendar"
CALENDAR_ID = "primary"
_PAGE_SIZE = 2500  # the API's maximum
_MAX_PAGES = 200


def _time_line(name: str, value: Any, default_zone: str | None) -> str:
    """``DTSTART;TZID=Europe/Berlin:20300107T090000`` from an API time object."""
    if not isinstance(value, dict):
        raise SourceDataError(f"{_WHAT} sent an event without a valid {name}.")
    if value.get("date"):
        day = date.fromisoformat(str(value["date"]))
        return f"{name};VALUE=DATE:{day:%Y%m%d}"
    moment = datetime.fromisoformat(str(value.get("dateTime", "")).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = resolve_tzid(str(value.get("timeZone") or default_zone or ""))
    if zone is None:
        return f"{name}:{moment.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return f"{name};TZID={zone.key}:{moment.astimezone(zone):%Y%m%dT%H%M%S}"


def google_event_component(item: dict[str, Any], default_zone: str | None) -> icalendar.Event:
    """One API event resource as a VEVENT (times, recurrence, status, transparency,
    title). ``default_zone`` is the calendar's zone, for times that name none.
    Raises :class:`SourceDataError` (or ``ValueError``) for an unusable resource."""
    lines = ["BEGIN:VEVENT", f"UID:{escape_text(str(item.get('iCalUID') or item['id']))}"]
    status = str(item.get("status", "confirmed")).upper()
    start = item.get("start") or item.get("originalStartTime")
    lines.append(_time_line("DTSTART", start, default_zone))
    if item.get("end"):
        lines.append(_time_line("DTEND", item["end"], default_zone))
    if item.get("originalStartTime"):
        lines.append(_time_line("RECURRENCE-ID", item["originalStartTime"], default_zone))
    for rule in item.get("recurrence") or []:
        rule = str(rule).strip()
        if rule.split(":", 1)[0].split(";", 1)[0].upper() in ("RRULE", "RDATE", "EXDATE"):
            lines.append(rule)
    if status in ("CONFIRMED", "TENTATIVE", "CANCELLED"):
        lines.append(f"STATUS:{status}")
    if str(item.get("transparency", "")).lower() == "transparent":
        lines.append("TRANSP:TRANSPARENT")
    if item.get("summary"):
        lines.append(f"SUMMARY:{escape_text(str(item['summary']))}")
    lines.append("END:VEVENT")
    component: Any = icalendar.Event.from_ical("\r\n".join(lines) + "\r\n")
    return component  # from_ical on the Event class returns an Event


class GoogleSource(OAuthApiSource):
    """The professional's primary Google calendar."""

    what = _WHAT
    calendar_name = "Google calendar"
    version_field = "etag"

    def fetch(self, config: SourceConfig, limits: Limits) -> FetchResult:
        """All events (first sync) or the changes since ``config.sync_token``."""
        token = config.sync_token
        url = f"{self.provider.api_url}/calendars/{CALENDAR_ID}/events"
        params: dict[str, Any] = {
            "maxResults": _PAGE_SIZE,
            "showDeleted": "true",
            "singleEvents": "false",
        }
        if token:
            params["syncToken"] = token
        items: list[dict[str, Any]] = []
        name = ""
        zone: str | None = None
        next_token = ""
        with self._session(config, limits) as session:
            for _ in range(_MAX_PAGES):
                with api_calls(self.provider, _WHAT):
                    response = self._call(session, limits, "GET", url, params=params)
                    with response:
                        if response.status_code == 410 and token:
                            raise SyncTokenExpired("Google asks for a full sync.")
                        raise_for_status(response, _WHAT)
                        page = read_json(response, limits, _WHAT)
                name = str(page.get("summary") or name)[:255]
                zone = str(page.get("timeZone") or "") or zone
                batch = page.get("items") or []
                if not isinstance(batch, list):
                    raise SourceDataError(f"{_WHAT} sent an unexpected answer.")
                items.extend(item for item in batch if isinstance(item, dict))
                limits.check_events(len(items))
                if page.get("nextPageToken"):
                    params["pageToken"] = page["nextPageToken"]
                    continue
                next_token = str(page.get("nextSyncToken") or "")
                break
            else:
                raise SourceDataError(f"{_WHAT} kept sending more pages; giving up this sync.")
        reader = ZoneReader(own_zone=config.own_zone, default_zone=zone)
        events: list[RemoteEvent] = []
        deleted: list[str] = []
        for item in items:
            event_id = str(item.get("id", ""))
            if not event_id:
                continue
            if event_id in config.skip_remote_ids or item.get("iCalUID") in config.skip_uids:
                continue
            series = str(item.get("recurringEventId") or "")
            if item.get("status") == "cancelled" and not series:
                deleted.append(event_id)
                continue
            try:
                components: list[icalendar.cal.Component] = [google_event_component(item, zone)]
            except (SourceError, ValueError, KeyError, TypeError):
                reader.findings.skip("its times cannot be read", "an event")
                components = []
            events.append(
                RemoteEvent(
                    remote_id=event_id,
                    group_id=series or event_id,
                    etag=str(item.get("etag", ""))[:255],
                    components=components,
                )
            )
        return FetchResult(
            complete=not token,
            events=events,
            deleted=deleted,
            reader=reader,
            remote_name=name,
            new_sync_token=next_token or None,
        )

    # --- write-back ------------------------------------------------------------------

    def _body(self, event: PushEvent) -> dict[str, Any]:
        return {
            "summary": event.summary,
            "description": event.description,
            "start": {"dateTime": event.start.astimezone(UTC).isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": event.end.astimezone(UTC).isoformat(), "timeZone": "UTC"},
            "transparency": "opaque",
            "source": {"title": "Booking", "url": event.url},
            "extendedProperties": {"private": {"consultBookingId": str(event.booking_id)}},
        }

    def push(
        self, config: SourceConfig, limits: Limits, event: PushEvent, remote_id: str
    ) -> tuple[str, str]:
        """Insert or update the booking's event; returns (event id, etag)."""
        base = f"{self.provider.api_url}/calendars/{CALENDAR_ID}/events"
        with self._session(config, limits) as session:
            if remote_id:
                response = self._call(
                    session, limits, "PUT", f"{base}/{quote(remote_id)}", json=self._body(event)
                )
                if response.status_code not in (404, 410):
                    return self._pushed(response, limits)
            response = self._call(
                session, limits, "POST", base, json={**self._body(event), "iCalUID": event.uid}
            )
            if response.status_code == 409:
                # Created by an earlier attempt whose answer was lost: find it, update it.
                found = self._call(session, limits, "GET", base, params={"iCalUID": event.uid})
                existing = [
                    item
                    for item in read_json(found, limits, _WHAT).get("items") or []
                    if isinstance(item, dict) and item.get("id")
                ]
                if not existing:
                    raise_for_status(response, _WHAT)
                response = self._call(
                    session,
                    limits,
                    "PUT",
                    f"{base}/{quote(str(existing[0]['id']))}",
                    json=self._body(event),
                )
            return self._pushed(response, limits)

    def delete(self, config: SourceConfig, limits: Limits, remote_id: str) -> None:
        """Delete the booking's event (already gone is fine)."""
        if remote_id:
            url = f"{self.provider.api_url}/calendars/{CALENDAR_ID}/events/{quote(remote_id)}"
            self._delete(config, limits, url)

    def revoke(self, config: SourceConfig, limits: Limits) -> None:
        """Revoke the grant at Google (the refresh token revokes the whole grant)."""
        token = config.credentials.data.get("token") or {}
        value = token.get("refresh_token") or token.get("access_token")
        if not value or not self.provider.revoke_url:
            return
        with requests.Session() as session, api_calls(self.provider, _WHAT):
            response = session.post(
                self.provider.revoke_url,
                data={"token": value},
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=limits.timeout(),
            )
            with response:
                if response.status_code != 400:  # 400: already revoked or expired
                    raise_for_status(response, "Google's sign-in service")
