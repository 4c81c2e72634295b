"""Reading the time zone names outside calendars use.

A TZID in the wild is an IANA name (``Europe/Berlin``), an IANA name behind a
vendor prefix (``/mozilla.org/20050126_1/Europe/Berlin``), a Windows name from
Outlook or Exchange (``W. Europe Standard Time``, mapped through
:mod:`sync.windows_zones`), or a name only the calendar's own VTIMEZONE
defines (``Customized Time Zone``). The last kind is matched to the IANA zone with
the same UTC offsets over two years, preferring the professional's own zone, so
recurring events keep following daylight saving time.

Pure functions; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sync.windows_zones import WINDOWS_TO_IANA

__all__ = ["match_zone", "resolve_tzid"]

_IANA_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$")
_WINDOWS = MappingProxyType({name.lower(): zone for name, zone in WINDOWS_TO_IANA.items()})
_UTC_NAMES = frozenset({"utc", "z", "gmt", "etc/utc", "etc/gmt", "coordinated universal time"})


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    if len(name) > 64 or not _IANA_NAME.match(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


@lru_cache(maxsize=1024)
def resolve_tzid(tzid: str) -> ZoneInfo | None:
    """Return the IANA zone a TZID (or X-WR-TIMEZONE, or Graph ``timeZone``) names.

    Accepts IANA names, IANA names after a vendor prefix, and Windows names (case
    does not matter for those). Returns ``None`` for anything else; the caller
    decides what an unknown zone means.
    """
    name = tzid.strip().strip('"')
    if not name:
        return None
    if name.lower() in _UTC_NAMES:
        return ZoneInfo("UTC")
    windows = _WINDOWS.get(name.lower())
    if windows is not None:
        return ZoneInfo(windows)
    zone = _zone(name)
    if zone is not None:
        return zone
    # "/mozilla.org/20050126_1/America/New_York", "/softwarestudio.org/Olson_.../Europe/Rome":
    # the IANA name is a suffix of the path.
    parts = [part for part in name.split("/") if part]
    for first in range(1, len(parts)):
        zone = _zone("/".join(parts[first:]))
        if zone is not None:
            return zone
    return None


@lru_cache(maxsize=1)
def _all_zones() -> tuple[str, ...]:
    names = available_timezones() - {"localtime", "Factory"}

    def rank(name: str) -> tuple[int, str]:
        # Canonical Area/City names first; legacy aliases (US/Eastern, Etc/GMT+1) last.
        legacy = "/" not in name or name.startswith(("Etc/", "US/", "SystemV/"))
        return (1 if legacy else 0, name)

    return tuple(sorted(names, key=rank))


def _samples(around: datetime) -> list[datetime]:
    """Local noons every week for two years from ``around``'s year: enough to tell
    apart zones whose daylight saving time starts or ends on different weeks."""
    start = datetime(max(around.year, 1971), 1, 1, 12)
    return [start + timedelta(days=7 * week) for week in range(105)]


def _offsets(zone: tzinfo, samples: Sequence[datetime]) -> tuple[timedelta | None, ...]:
    return tuple(sample.replace(tzinfo=zone).utcoffset() for sample in samples)


def match_zone(
    custom: tzinfo, around: datetime, preferred: Sequence[ZoneInfo] = ()
) -> ZoneInfo | None:
    """Return an IANA zone with the same UTC offsets as ``custom`` around ``around``.

    ``preferred`` zones are tried first (the professional's zone, the calendar's
    default zone), then every IANA zone. Returns ``None`` when nothing matches, e.g.
    a VTIMEZONE with made-up rules.
    """
    samples = _samples(around)
    try:
        wanted = _offsets(custom, samples)
    except Exception:  # a broken VTIMEZONE definition: treat as unknown
        return None
    if any(offset is None for offset in wanted):
        return None
    seen: set[str] = set()
    for zone in preferred:
        seen.add(zone.key)
        if _offsets(zone, samples) == wanted:
            return zone
    for name in _all_zones():
        if name in seen:
            continue
        zone = ZoneInfo(name)
        if _offsets(zone, samples) == wanted:
            return zone
    return None
