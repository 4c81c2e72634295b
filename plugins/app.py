"""Build the Radicale WSGI application for a platform, with our plugins handed the
platform's database (Radicale accepts a callable as a plugin type)."""

from __future__ import annotations

from functools import partial
from typing import Any

import radicale
from defusedxml import DefusedXmlException
from radicale import config as radicale_config

from accounts.services import LoginPolicy
from consult.platform import Platform
from plugins.auth import Auth
from plugins.rights import Rights
from plugins.storage import Storage


def radicale_configuration(platform: Platform) -> radicale_config.Configuration:
    """Radicale's configuration: our plugins, our limits, no web UI, no file storage."""
    settings = platform.settings
    configuration = radicale_config.load()
    dav = settings.dav
    values: dict[str, dict[str, Any]] = {
        "server": {
            "max_content_length": str(dav.max_content_length),
            "max_resource_size": str(dav.max_resource_size),
            "max_vevent_rrule_occurrence": str(dav.max_occurrences),
        },
        "auth": {
            "type": partial(
                Auth,
                database=platform.database,
                policy=LoginPolicy.from_settings(settings.auth),
            ),
            # Failed logins are throttled by the accounts service; keep Radicale's own
            # constant-time padding short.
            "delay": "0.2",
        },
        "rights": {"type": Rights, "permit_delete_collection": "False"},
        "storage": {
            "type": partial(Storage, database=platform.database),
            "max_occurrences": str(dav.max_occurrences),
            "filesystem_folder": str(settings.data_dir / "radicale-unused"),
        },
        "web": {"type": "none"},
        "hook": {"type": "none"},
        "logging": {"level": "warning" if settings.app.log_level != "debug" else "debug"},
    }
    configuration.update(values, "consult settings", privileged=True)
    return configuration


class DavApplication(radicale.Application):
    """Radicale, answering 400 to XML that declares entities.

    Radicale parses request bodies with defusedxml, which refuses entity
    declarations (billion laughs, external entities) by raising
    ``DefusedXmlException``; Radicale only turns ``ParseError`` into 400, so those
    requests got a 500. Every method that reads XML (PROPFIND, PROPPATCH, REPORT,
    MKCOL, MKCALENDAR) answers 400 for a ``RuntimeError`` from this one method.
    """

    def _read_xml_request_body(self, environ: Any, request_info: dict[str, Any]) -> Any:
        try:
            return super()._read_xml_request_body(environ, request_info)
        except DefusedXmlException as error:
            raise RuntimeError(f"XML with entity declarations is not accepted: {error}") from error


def create_dav_app(platform: Platform) -> radicale.Application:
    """A Radicale WSGI app; mount it so that it sees ``SCRIPT_NAME=/dav``."""
    return DavApplication(radicale_configuration(platform))
