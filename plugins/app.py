"""Build the Radicale WSGI application for a platform, with our plugins handed the
platform's database (Radicale accepts a callable as a plugin type)."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterable
from functools import partial
from http import client
from typing import Any

import radicale
from defusedxml import DefusedXmlException
from radicale import config as radicale_config
from radicale import httputils, pathutils, rights, xmlutils
from radicale.app.base import Access
from radicale.item import filter as radicale_filter

from accounts.services import LoginPolicy
from caldav_server.errors import TooManyListedDates
from caldav_server.limits import check_listed_dates
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


def _refusal(status: int, reason: str) -> Any:
    """A 4xx with its reason as plain text (Radicale's own answers carry none)."""
    return status, {"Content-Type": "text/plain; charset=utf-8"}, reason + "\n", None


class DavApplication(radicale.Application):
    """Radicale with what hostile input needs before Radicale's own code runs.

    - XML that declares entities is 400: Radicale parses request bodies with
      defusedxml, which refuses entity declarations (billion laughs, external
      entities) by raising ``DefusedXmlException``, and Radicale only turns
      ``ParseError`` into 400. Every method that reads XML (PROPFIND, PROPPATCH,
      REPORT, MKCOL, MKCALENDAR) answers 400 for a ``RuntimeError`` from
      :meth:`_read_xml_request_body`.
    - A PUT is bounded on its raw bytes before vobject parses it: an object over
      ``max_resource_size`` is 412 (Radicale's answer for that limit) and a component
      listing too many EXDATE/RDATE dates is 400, each with its reason.
    - The root collection can neither be deleted nor given properties: 403, where
      the storage's refusal would otherwise surface as a 500 or a bare 400.
    - A request body in a charset Python does not know is 400 (Radicale's decoding
      raised ``LookupError``, a 500).
    """

    def __call__(self, environ: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE") or ""
        if "charset=" in content_type:
            charset = content_type.split("charset=")[1].split(";")[0].strip().strip('"')
            try:
                codecs.lookup(charset)
            except LookupError:
                answer = f"Unknown charset {charset[:40]!r} in Content-Type.\n".encode()
                start_response(
                    "400 Bad Request",
                    [
                        ("Content-Type", "text/plain; charset=utf-8"),
                        ("Content-Length", str(len(answer))),
                    ],
                )
                return [answer]
        return super().__call__(environ, start_response)

    def do_PUT(
        self,
        environ: Any,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Any:
        try:
            raw = httputils.read_raw_request_body(self.configuration, environ)
        except RuntimeError:
            return httputils.BAD_REQUEST
        environ["wsgi.input"] = io.BytesIO(raw)
        # One object (not a whole calendar) when the parent may be written: the test
        # Radicale's own PUT makes before it parses.
        access = Access(self._rights, user, user_groups, path, None)
        whole_collection = rights.intersect(access.permissions, "Ww") and not rights.intersect(
            access.parent_permissions, "w"
        )
        if not whole_collection and len(raw) > self._max_resource_size:
            return _refusal(
                client.PRECONDITION_FAILED,
                f"The calendar object has {len(raw)} bytes; the limit is "
                f"{self._max_resource_size} (max-resource-size).",
            )
        try:
            # The structure is ASCII; a body in another charset is checked again by
            # the storage once Radicale has decoded and parsed it.
            check_listed_dates(raw.decode("utf-8", errors="replace"))
        except TooManyListedDates as error:
            return _refusal(client.BAD_REQUEST, f"The calendar object is refused: {error.message}.")
        return super().do_PUT(environ, base_prefix, path, user, user_groups, request_info)

    def do_DELETE(
        self,
        environ: Any,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Any:
        if not pathutils.strip_path(path):
            return _refusal(client.FORBIDDEN, "The root collection cannot be deleted.")
        return super().do_DELETE(environ, base_prefix, path, user, user_groups, request_info)

    def do_PROPPATCH(
        self,
        environ: Any,
        base_prefix: str,
        path: str,
        user: str,
        user_groups: set[str],
        request_info: dict[str, Any],
    ) -> Any:
        if not pathutils.strip_path(path):
            return _refusal(client.FORBIDDEN, "The root collection has no properties to change.")
        return super().do_PROPPATCH(environ, base_prefix, path, user, user_groups, request_info)

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
