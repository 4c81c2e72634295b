"""The embedded CalDAV server's calendars: the transactional store
(:mod:`caldav_server.store`) that the Radicale storage plugin (:mod:`plugins.storage`)
and the booking layer both read and write through, the stored tables, the time-range
index (:mod:`caldav_server.spans`), provisioning of a professional's calendars and
import/export of Radicale file storage.

The Radicale WSGI app itself is built by :func:`plugins.create_dav_app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from caldav_server.store import CalendarStore
from consult.db import Database
from consult.hookspecs import hookimpl
from consult.platform import Platform

# Items whose time-range index ends less than this far ahead are indexed further.
DAV_INDEX_MARGIN = timedelta(days=365)


class CalendarStoreHooks:
    """Upkeep of the store's time-range index for one platform."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @hookimpl
    def maintenance(self, now: datetime) -> Mapping[str, int]:
        """Extend the time-range index of never-ending rules past ``now``."""
        with self.database.session() as session:
            store = CalendarStore(session, clock=lambda: now)
            return {"calendar items re-indexed": store.reindex(stale_before=now + DAV_INDEX_MARGIN)}


def include(platform: Platform) -> None:
    """Wire the calendar store's upkeep into ``platform``."""
    platform.register(CalendarStoreHooks(platform.database), "caldav_server")
