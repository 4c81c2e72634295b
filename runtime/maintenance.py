"""Periodic upkeep of derived data, so indexes never fall behind time.

Each package implements the ``maintenance`` hook (:mod:`consult.hookspecs`): the
CalDAV time-range index holds occurrences of never-ending rules up to a horizon
(:mod:`caldav_server`), the busy-time index expands recurring events over a
rolling window (:mod:`booking`). :func:`run_maintenance` runs them all; it is
idempotent and safe to run from several processes at once. ``consult worker``
runs it every ``[app] maintenance_minutes``; without Redis the app process does.
"""

from __future__ import annotations

import logging
from datetime import datetime

from consult.db import utcnow
from consult.periodic import Periodic
from consult.platform import Platform

log = logging.getLogger(__name__)


def run_maintenance(platform: Platform, now: datetime | None = None) -> dict[str, int]:
    """Run every package's upkeep at ``now``; returns the counts they report."""
    counts: dict[str, int] = {}
    for result in platform.hooks.maintenance(now=now or utcnow()):
        counts.update(result)
    if any(counts.values()):
        log.info("maintenance: %s", ", ".join(f"{n} {what}" for what, n in counts.items()))
    return counts


def schedule_maintenance(platform: Platform) -> None:
    """Run the upkeep every ``[app] maintenance_minutes`` in this process (0: never)."""
    minutes = platform.settings.app.maintenance_minutes
    if minutes <= 0:
        return

    def step() -> None:
        run_maintenance(platform)

    platform.add_background(Periodic("maintenance", step, minutes * 60, wait_first=True))
