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
:func:`install` wires it into a process.
"""

from __future__ import annotations

from consult.jobs import JobQueue

__all__ = ["install"]


def install(queue: JobQueue | None = None) -> None:
    """Wire calendar sync into this process (idempotent): the pre-booking sync hook,
    the booking subscriber for write-back, and the job queue jobs are enqueued on."""
    from booking import events
    from booking.bookings import add_pre_booking_hook
    from sync import tasks, writeback
    from sync.syncing import sync_before_booking

    add_pre_booking_hook(sync_before_booking)
    events.subscribe(writeback.on_booking_changed)
    tasks.set_job_queue(queue)
    writeback.set_enqueue(tasks.enqueue_push)
