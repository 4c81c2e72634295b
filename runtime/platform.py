"""The composition root: the one place that knows every package.

:func:`create_platform` builds a process's :class:`~consult.platform.Platform`
and includes each package in dependency order (a package's ``include`` may use
what those before it registered); :func:`create_app` makes the web app from one.
``consult worker`` and the CLI start from :func:`create_platform` too.
"""

from __future__ import annotations

import logging

import accounts
import booking
import caldav_server
import directory
import insights
import moderation
import notifications
import payments
import reviews
import sync
import video
from consult.config import Settings
from consult.platform import Platform, Role
from runtime import ops
from runtime.maintenance import schedule_maintenance
from runtime.migrate import upgrade

log = logging.getLogger(__name__)

# Bottom to top: the order packages are included in.
PACKAGES = (
    caldav_server,
    accounts,
    booking,
    directory,
    notifications,
    reviews,
    moderation,
    payments,
    sync,
    video,
    insights,
)


def create_platform(settings: Settings, role: Role = "web") -> Platform:
    """A platform for one process in ``role`` with every package included; its
    background threads start with :meth:`~consult.platform.Platform.start`.
    Applies migrations first when ``[app] auto_migrate`` is on (an app process)."""
    platform = Platform(settings, role)
    try:
        if role == "web" and settings.app.auto_migrate:
            upgrade(platform.database.engine)
        for package in PACKAGES:
            package.include(platform)
        ops.include(platform)
        # Without a worker (no Redis) the app keeps the indexes ahead of time itself.
        if role == "worker" or (role == "web" and platform.jobs.backend != "rq"):
            schedule_maintenance(platform)
    except BaseException:
        platform.shutdown()
        raise
    return platform
