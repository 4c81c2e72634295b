"""ICS subscriptions: a calendar file fetched over HTTP(S).

Incremental where HTTP allows: the ETag and Last-Modified of the last download go
out as ``If-None-Match`` / ``If-Modified-Since``, and a 304 ends the sync without
reading anything. Servers that ignore both still cost no writes: a body with the
same SHA-256 as last time is not parsed. A changed feed is parsed whole (it is one
file); each event's text is hashed and compared with the hash mirrored last time, so
only changed events are normalised and written.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

import icalendar
import requests

from sync.errors import SourceDataError, SourceError
from sync.events import ZoneReader
from sync.sources.base import (
    FetchResult,
    Limits,
    PushEvent,
    RemoteEvent,
    SourceConfig,
)
from sync.sources.http import (
    check_target,
    guard_session,
    mapped,
    raise_for_status,
    read_capped,
)

__all__ = ["IcsSource", "parse_feed"]

_WHAT = "The calendar feed's server"


def _decode(body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def parse_feed(text: str) -> list[icalendar.Calendar]:
    """The VCALENDARs in a feed's text. Raises :class:`SourceDataError` with a message
    for the professional when there is none (an HTML login page, a broken file)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] == "<":
        raise SourceDataError(
            "The link returned a web page, not a calendar. Use the calendar's ICS or iCal "
            "address (often it ends in .ics)."
        )
    try:
        parsed = icalendar.Calendar.from_ical(stripped, multiple=True)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError, ...
        raise SourceDataError(f"The feed is not valid iCalendar data: {error}"[:300]) from error
    calendars = [c for c in parsed if getattr(c, "name", "") == "VCALENDAR"]
    if not calendars and "BEGIN:VCALENDAR" in stripped.upper():
        raise SourceDataError("The feed is not valid iCalendar data: it is cut off or malformed.")
    if not calendars:
        raise SourceDataError("The feed contains no calendar (no BEGIN:VCALENDAR).")
    return calendars


_FOLD = re.compile(r"\r?\n[ \t]")
_UID = re.compile(r"^UID[;:]", re.IGNORECASE)


def split_feed(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split a feed into its skeleton (everything but the top-level VEVENTs: calendar
    properties, VTIMEZONEs) and ``(uid, text)`` for each VEVENT, without parsing.

    Lines are unfolded first. An event without a UID is named by a hash of its text.
    Raises :class:`SourceDataError` when BEGIN and END lines do not match up (a feed
    cut off in the middle).
    """
    skeleton: list[str] = []
    blocks: list[tuple[str, str]] = []
    stack: list[str] = []
    current: list[str] | None = None
    uid = ""
    for line in _FOLD.sub("", text).splitlines():
        if not line.strip():
            continue
        head, _, value = line.partition(":")
        name = value.strip().upper()
        if head.upper() == "BEGIN":
            if name == "VEVENT" and stack == ["VCALENDAR"]:
                current, uid = [], ""
            stack.append(name)
        elif head.upper() == "END":
            if not stack or stack[-1] != name:
                raise SourceDataError("The feed is not valid iCalendar data: it is malformed.")
            stack.pop()
            if current is not None and name == "VEVENT" and stack == ["VCALENDAR"]:
                current.append(line)
                block = "\r\n".join(current) + "\r\n"
                if not uid:
                    uid = "no-uid:" + hashlib.sha256(block.encode()).hexdigest()
                blocks.append((uid, block))
                current = None
                continue
        elif current is not None and len(stack) == 2 and _UID.match(line):
            uid = value.strip()
        (current if current is not None else skeleton).append(line)
    if stack:
        raise SourceDataError("The feed is not valid iCalendar data: it is cut off or malformed.")
    return "\r\n".join(skeleton) + "\r\n", blocks


def _parse_events(texts: list[str], reader: ZoneReader) -> list[icalendar.cal.Component]:
    """The VEVENTs of one UID; [] (mirrors nothing, with a warning) if one is unreadable."""
    components = []
    for text in texts:
        try:
            components.append(icalendar.Event.from_ical(text))
        except Exception:  # one broken event must not stop the others
            reader.findings.skip("it is not valid iCalendar", "an event")
            return []
    return components


class IcsSource:
    """An ICS feed (read-only: bookings cannot be written back to it)."""

    def fetch(self, config: SourceConfig, limits: Limits) -> FetchResult:
        """Download the feed unless unchanged; see the module docstring."""
        check_target(config.url, limits)
        headers = {"Accept": "text/calendar, text/plain;q=0.8, */*;q=0.5"}
        if config.http_etag:
            headers["If-None-Match"] = config.http_etag
        if config.http_last_modified:
            headers["If-Modified-Since"] = config.http_last_modified
        password = str(config.credentials.data.get("password", ""))
        auth = (config.username, password) if config.username else None
        with requests.Session() as session, mapped(_WHAT):
            guard_session(session, limits)
            with session.get(
                config.url, headers=headers, auth=auth, timeout=limits.timeout(), stream=True
            ) as response:
                raise_for_status(response, _WHAT)
                if response.status_code == 304:
                    return FetchResult(complete=False, not_modified=True)
                body = read_capped(response, limits, _WHAT)
                etag = response.headers.get("ETag", "")[:255]
                last_modified = response.headers.get("Last-Modified", "")[:64]
                content_type = response.headers.get("Content-Type", "")
        digest = hashlib.sha256(body).hexdigest()
        if digest == config.content_digest:
            return FetchResult(
                complete=False,
                not_modified=True,
                new_http_etag=etag,
                new_http_last_modified=last_modified,
            )
        text = _decode(body, content_type)
        skeleton, blocks = split_feed(text)
        calendars = parse_feed(skeleton)
        limits.check_events(len(blocks))
        reader = ZoneReader(
            own_zone=config.own_zone,
            default_zone=_first(calendars, "X-WR-TIMEZONE"),
            calendar=calendars[0],
        )
        for calendar in calendars[1:]:
            reader.learn(calendar)
        by_uid: dict[str, list[str]] = defaultdict(list)
        for uid, block in blocks:
            if uid not in config.skip_uids:
                by_uid[uid].append(block)
        events = []
        for uid, texts in by_uid.items():
            # The event's own etag: a hash of its text. An event unchanged since the last
            # sync is not even parsed, so a change to a big feed costs what changed.
            event_digest = hashlib.sha256("".join(texts).encode()).hexdigest()
            components = None
            if config.known_etags.get(uid) != event_digest:
                components = _parse_events(texts, reader)
            events.append(RemoteEvent(uid, uid, etag=event_digest, components=components))
        return FetchResult(
            complete=True,
            events=events,
            reader=reader,
            remote_name=_first(calendars, "X-WR-CALNAME") or "",
            new_http_etag=etag,
            new_http_last_modified=last_modified,
            new_content_digest=digest,
        )

    def push(
        self, config: SourceConfig, limits: Limits, event: PushEvent, remote_id: str
    ) -> tuple[str, str]:
        """ICS feeds are read-only."""
        raise SourceError("An ICS subscription is read-only; bookings cannot be added to it.")

    def delete(self, config: SourceConfig, limits: Limits, remote_id: str) -> None:
        """ICS feeds are read-only."""
        raise SourceError("An ICS subscription is read-only.")

    def revoke(self, config: SourceConfig, limits: Limits) -> None:
        """Nothing to revoke: the feed's URL is all we hold."""


def _first(calendars: list[icalendar.Calendar], name: str) -> str | None:
    for calendar in calendars:
        value = calendar.get(name)
        if value:
            return str(value).strip()[:255]
    return None
