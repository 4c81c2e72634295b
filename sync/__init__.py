"""Calendar sync: outside calendars (any CalDAV server, ICS subscriptions, Google
Calendar, Outlook / Microsoft 365) mirrored into the professional's busy time.

Each connected calendar is copied into its own read-only calendar
``<principal>/mirror-<id>`` of the platform's CalDAV store, with only what blocks
time (and titles if the professional opts in), so calendar apps show it and slot
computation blocks it like any other event. Syncs run as jobs: periodically,
on demand, and right before a booking when the mirror is older than a bound
(:mod:`.syncing`, :mod:`.tasks`). Bookings can also be written back to one chosen
outside calendar (:mod:`.writeback`).

Layout: :mod:`.models` (tables), :mod:`.service` (connect, list, change, remove),
:mod:`.sources` (one adapter per kind of calendar, behind a Protocol),
:mod:`.events` and :mod:`.timezones` (pure: reading outside events),
:mod:`.mirror` (diff and write), :mod:`.syncing` (one sync, its stages and
scheduling), :mod:`.tasks` (jobs), :mod:`.oauth`, :mod:`.secrets`, :mod:`.urls`.
:func:`include` wires it into a platform.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from consult.handoff import CommitHandOff
from consult.hookspecs import BookingChanged, ErrorStatuses, hookimpl
from consult.platform import Platform
from sync import tasks, writeback
from sync.errors import HTTP_STATUS
from sync.models import ExternalCalendar
from sync.syncing import SYNC_FLIGHTS, SingleFlight, sync_before_booking
from sync.tasks import observe_runs

__all__ = ["include"]

log = logging.getLogger(__name__)


class SyncHooks:
    """Calendar sync's hook implementations for one platform."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    @hookimpl
    def before_booking(self, session: Session, service_id: int, professional_id: int) -> None:
        platform = self.platform
        sync_before_booking(
            session,
            professional_id,
            platform.settings,
            platform.find(SYNC_FLIGHTS),
            background=platform.database.session,
            observe=observe_runs(platform),
        )

    @hookimpl
    def booking_changed(self, session: Session, change: BookingChanged) -> None:
        writeback.on_booking_changed(session, change)

    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Wire calendar sync into ``platform``: the pre-booking sync, write-back of
    booking changes (a push job after each commit), and in an app process the
    periodic sync dispatcher when calendars are connected."""
    platform.services.provide(SYNC_FLIGHTS, SingleFlight())
    platform.metrics.counter(
        "consult_calendar_syncs_total",
        "Syncs of outside calendars, by kind and outcome (ok, warning, error, skipped).",
        ("kind", "status"),
    )
    platform.register(SyncHooks(platform), "sync")

    def enqueue_pushes(push_ids: Sequence[int]) -> None:
        for push_id in push_ids:
            try:
                tasks.enqueue_push(platform.jobs, push_id)
            except Exception:  # Redis down: the dispatcher retries from the database
                log.exception("could not enqueue the push of %s", push_id)

    CommitHandOff[int](writeback.PUSHES_KEY, enqueue_pushes).listen(platform.database)
    if platform.role == "web":
        try:
            with platform.database.session(readonly=True) as session:
                connected = session.scalar(select(exists().where(ExternalCalendar.id.is_not(None))))
            if connected:
                tasks.schedule_dispatch(platform.jobs, platform.settings)
        except Exception:  # a database not migrated yet must not stop the app
            log.exception("could not start the calendar sync dispatcher")
