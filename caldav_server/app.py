"""Build the Radicale WSGI application from the platform's settings."""

from __future__ import annotations

from typing import Any

import radicale
from radicale import config as radicale_config

from consult.config import Settings

# Names of the calendars every professional gets (collection names under the principal).
BOOKINGS_CALENDAR = "bookings"
AVAILABILITY_CALENDAR = "availability"


def radicale_configuration(settings: Settings) -> radicale_config.Configuration:
    """Radicale's configuration: our plugins, our limits, no web UI, no file storage."""
    configuration = radicale_config.load()
    database_url = settings.database.url
    dav = settings.dav
    values: dict[str, dict[str, Any]] = {
        "server": {
            "max_content_length": str(dav.max_content_length),
            "max_resource_size": str(dav.max_resource_size),
            "max_vevent_rrule_occurrence": str(dav.max_occurrences),
        },
        "auth": {
            "type": "plugins.auth",
            "database_url": database_url,
            # Failed logins are throttled by the accounts service; keep Radicale's own
            # constant-time padding short.
            "delay": "0.2",
        },
        "rights": {"type": "plugins.rights", "permit_delete_collection": "False"},
        "storage": {
            "type": "plugins.storage",
            "database_url": database_url,
            "max_occurrences": str(dav.max_occurrences),
            "filesystem_folder": str(settings.data_dir / "radicale-unused"),
        },
        "web": {"type": "none"},
        "hook": {"type": "none"},
        "logging": {"level": "warning" if settings.app.log_level != "debug" else "debug"},
    }
    configuration.update(values, "consult settings", privileged=True)
    return configuration


def create_dav_app(settings: Settings) -> radicale.Application:
    """A Radicale WSGI app; mount it so that it sees ``SCRIPT_NAME=/dav``."""
    return radicale.Application(radicale_configuration(settings))
