"""Time zones people can pick: the canonical IANA zones, one spelling each.

The list comes from the tz database's own ``zone.tab`` (one canonical zone per
place, with its country), as shipped by the ``tzdata`` package, plus ``UTC``. Old
names that the database keeps as links (``America/Buenos_Aires``, ``US/Eastern``)
are read as their canonical zone (``America/Argentina/Buenos_Aires``,
``America/New_York``) and never offered; ``Etc/GMT+5`` and the like are not places
and are not offered either.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from zoneinfo import ZoneInfo

__all__ = ["Zone", "canonical_zone", "offset_label", "zone_groups", "zones"]

UTC_NAMES = ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Zulu")


@dataclass(frozen=True)
class Zone:
    """A canonical zone: ``key`` (``Europe/Berlin``), the place people know it by
    (``Berlin``), its country (``Germany``) and its region (``Europe``)."""

    key: str
    city: str
    country: str
    region: str


def _read(name: str) -> str:
    return resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")


@functools.cache
def zones() -> tuple[Zone, ...]:
    """Every canonical zone, sorted by region and city; UTC first."""
    countries = {}
    for line in _read("iso3166.tab").splitlines():
        if line and not line.startswith("#"):
            code, _, name = line.partition("\t")
            countries[code] = name.strip()
    found = [Zone("UTC", "Coordinated Universal Time", "", "UTC")]
    for line in _read("zone.tab").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        code, key = fields[0], fields[2]
        region, _, rest = key.partition("/")
        city = rest.rsplit("/", 1)[-1].replace("_", " ")
        found.append(Zone(key, city, countries.get(code, code), region))
    return (found[0], *sorted(found[1:], key=lambda z: (z.region, z.city, z.country)))


@functools.cache
def _links() -> dict[str, str]:
    links = {}
    for line in _read("tzdata.zi").splitlines():
        if line.startswith("L "):
            _, target, alias = line.split()[:3]
            links[alias] = target
    return links


@functools.cache
def _keys() -> frozenset[str]:
    return frozenset(zone.key for zone in zones())


def canonical_zone(name: str) -> str | None:
    """The canonical zone ``name`` means (a link followed to its target, the UTC
    spellings as ``UTC``), or None when it is not a place one can live in."""
    name = name.strip()
    if name in UTC_NAMES:
        return "UTC"
    if name in _keys():
        return name
    target = _links().get(name)
    while target is not None and target not in _keys():
        target = _links().get(target)
    return target


def offset_label(zone: ZoneInfo, at: datetime) -> str:
    """``UTC+01:00`` at ``at`` (``UTC`` itself for zero)."""
    offset = zone.utcoffset(at.replace(tzinfo=None))
    if offset is None or not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_groups(at: datetime) -> list[tuple[str, list[tuple[str, str]]]]:
    """For a picker: ``[(region, [(key, "Berlin, Germany (UTC+01:00)"), ...]), ...]``
    with each zone's offset at ``at``."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in zones():
        offset = offset_label(ZoneInfo(zone.key), at)
        label = f"{zone.city}, {zone.country} ({offset})" if zone.country else zone.city
        groups.setdefault(zone.region, []).append((zone.key, label))
    return list(groups.items())
