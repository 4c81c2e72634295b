"""Periodic upkeep of derived calendar data, so indexes never fall behind time.

- The CalDAV time-range index holds occurrences of never-ending rules up to a
  horizon; items indexed less than a year ahead are re-indexed further.
- The busy-time index expands recurring events over a rolling window; items
  expanded less than ``EXPANSION_MARGIN`` ahead are expanded again, so slot
  queries almost never have to do it on demand.

:func:`run_maintenance` is idempotent and safe to run from several processes at
once (each principal is locked while its items change). ``consult worker`` runs
it every ``[app] maintenance_minutes``; without Redis the app process does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from consult.db import Database, utcnow

log = logging.getLogger(__name__)

DAV_INDEX_MARGIN = timedelta(days=365)
EXPANSION_MARGIN = timedelta(days=60)


@dataclass(frozen=True)
class MaintenanceResult:
    dav_items_reindexed: int
    principals_expanded: int


def run_maintenance(database: Database, now: datetime | None = None) -> MaintenanceResult:
    """Extend both calendar indexes past ``now`` plus their margins."""
    import booking
    from booking.busy_index import EXPANSION_AHEAD, EXPANSION_BEHIND, ensure_expanded
    from booking.intervals import Interval
    from booking.models import CalendarItemExpansion
    from caldav_server.store import CalendarStore

    booking.install()
    now = now or utcnow()
    with database.session() as session:
        store = CalendarStore(session, clock=lambda: now)
        reindexed = store.reindex(stale_before=now + DAV_INDEX_MARGIN)
    with database.session() as session:
        principals = list(
            session.scalars(
                select(CalendarItemExpansion.principal)
                .where(
                    CalendarItemExpansion.open_ended.is_(True),
                    CalendarItemExpansion.expanded_until < now + EXPANSION_MARGIN,
                )
                .distinct()
            )
        )
    window = Interval(now - EXPANSION_BEHIND, now + EXPANSION_AHEAD)
    for principal in principals:
        with database.session() as session:
            ensure_expanded(session, principal, window)
    if reindexed or principals:
        log.info(
            "maintenance: %d calendar items re-indexed, %d professionals' busy time extended",
            reindexed,
            len(principals),
        )
    return MaintenanceResult(reindexed, len(principals))


class PeriodicRunner:
    """Runs ``action`` every ``seconds`` on a daemon thread until :meth:`stop`."""

    def __init__(self, action: Callable[[], object], seconds: float, name: str) -> None:
        self._action = action
        self._seconds = seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> PeriodicRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stopped.wait(self._seconds):
            try:
                self._action()
            except Exception:  # the next round tries again
                log.exception("periodic %s failed", self._thread.name)
