"""Build the Radicale WSGI application for a platform, with our plugins handed the
platform's database (Radicale accepts a callable as a plugin type)."""

from __future__ import annotations

import io
from functools import partial
from http import client
from typing import Any

import radicale
from defusedxml import DefusedXmlException
from radicale import config as radicale_config
from radicale import httputils, xmlutils
from radicale.app.base import Access
from radicale.item import filter as radicale_filter

from accounts.services import LoginPolicy
from consult.platform import Platform
from plugins.auth import Auth
from plugins.rights import Rights
from plugins.storage import Collection, Storage


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

    def do_REPORT(
        self,
        environ: Any,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Any:
        """``free-busy-query`` answered from the occurrence index (see
        :meth:`plugins.storage.Collection.free_busy`); every other REPORT as Radicale
        does. Rights are checked exactly as Radicale's own REPORT checks them."""
        raw = httputils.read_raw_request_body(self.configuration, environ)
        environ["wsgi.input"] = io.BytesIO(raw)
        if b"free-busy-query" not in raw or self.configuration.get("sharing", "type") != "none":
            return super().do_REPORT(environ, base_prefix, path, user, user_groups, request_info)
        access = Access(self._rights, user, user_groups, path, None)
        if not access.check("r") and not access.allows_freebusy():
            return httputils.NOT_ALLOWED
        try:
            xml_content = self._read_xml_request_body(environ, request_info)
        except RuntimeError:
            return httputils.BAD_REQUEST
        if xml_content is None or xml_content.tag != xmlutils.make_clark("C:free-busy-query"):
            environ["wsgi.input"] = io.BytesIO(raw)
            return super().do_REPORT(environ, base_prefix, path, user, user_groups, request_info)
        with self._storage.acquire_lock("r", user):
            item = next(iter(self._storage.discover(path)), None)
            if item is None:
                return httputils.NOT_FOUND
            if not isinstance(item, Collection) or item.tag != "VCALENDAR":
                if not isinstance(item, Collection) and not access.check("r"):
                    return httputils.NOT_ALLOWED
                status = client.FORBIDDEN
                headers = {"Content-Type": f"text/xml; charset={self._encoding}"}
                answer = xmlutils.webdav_error("D:supported-report")
                return status, headers, self._xml_response(answer, request_info), None
            if not access.allows_freebusy(item):
                return httputils.NOT_ALLOWED
            time_range = xml_content.find(xmlutils.make_clark("C:time-range"))
            if time_range is None:
                return httputils.BAD_REQUEST
            max_occurrence = self.configuration.get("reporting", "max_freebusy_occurrence")
            try:
                start, end = radicale_filter.parse_time_range(time_range)
                text = item.free_busy(start, end, max_occurrence)
            except ValueError:
                return httputils.BAD_REQUEST
        headers = {"Content-Type": f"text/calendar; charset={self._encoding}"}
        return client.OK, headers, text, None

    def _read_xml_request_body(self, environ: Any, request_info: dict[str, Any]) -> Any:
        try:
            return super()._read_xml_request_body(environ, request_info)
        except DefusedXmlException as error:
            raise RuntimeError(f"XML with entity declarations is not accepted: {error}") from error


def create_dav_app(platform: Platform) -> radicale.Application:
    """A Radicale WSGI app; mount it so that it sees ``SCRIPT_NAME=/dav``."""
    return DavApplication(radicale_configuration(platform))
