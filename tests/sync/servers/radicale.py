"""A second, stock Radicale (not the platform's): the "external" CalDAV server.

Started as its own process with htpasswd authentication and a folder of its own,
on a free loopback port (of 127.0.0.1 unless told another loopback address); the
tests create calendars and events in it over plain WebDAV requests, as a calendar
app would.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from tests.helpers import free_port

USER = "alice"
PASSWORD = "external-secret"


class ExternalRadicale:
    """A running stock Radicale with one user; ``stop()`` ends the process."""

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        self.folder = folder
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.users = folder / "users"
        self.users.write_text(f"{USER}:{PASSWORD}\n")
        users = self.users
        self.log = open(folder / "radicale.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "radicale",
                "--config",
                "",
                "--server-hosts",
                f"{host}:{self.port}",
                "--storage-filesystem-folder",
                str(folder / "collections"),
                "--auth-type",
                "htpasswd",
                "--auth-htpasswd-filename",
                str(users),
                "--auth-htpasswd-encryption",
                "plain",
                "--auth-delay",
                "0",
                "--rights-type",
                "owner_only",
                "--logging-level",
                "warning",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection((host, self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the external Radicale did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.session.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def new_user(self) -> tuple[str, str]:
        """Add a user (Radicale re-reads its htpasswd file); returns (name, password)."""
        name, password = f"user{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        with self.users.open("a") as handle:
            handle.write(f"{name}:{password}\n")
        return name, password

    def new_calendar(
        self,
        name: str | None = None,
        display: str = "Work",
        user: tuple[str, str] | None = None,
        components: str = "VEVENT",
    ) -> str:
        """Create a calendar of ``user`` (default: the first user); returns its URL."""
        name = name or f"cal-{uuid.uuid4().hex[:8]}"
        owner, password = user or (USER, PASSWORD)
        url = f"{self.url}/{owner}/{name}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<D:set><D:prop><D:displayname>{display}</D:displayname>"
            f'<C:supported-calendar-component-set><C:comp name="{components}"/>'
            "</C:supported-calendar-component-set></D:prop></D:set>"
            "</C:mkcalendar>"
        )
        response = self.session.request(
            "MKCALENDAR", url, data=body, auth=(owner, password), timeout=30
        )
        assert response.status_code == 201, response.text
        return url

    def put(
        self, calendar_url: str, uid: str, ics: str, user: tuple[str, str] | None = None
    ) -> None:
        response = self.session.put(
            f"{calendar_url}{uid}.ics",
            data=ics.encode(),
            headers={"Content-Type": "text/calendar"},
            auth=user or (USER, PASSWORD),
            timeout=30,
        )
        assert response.status_code in (201, 204), response.text

    def delete(self, calendar_url: str, uid: str) -> None:
        response = self.session.delete(f"{calendar_url}{uid}.ics", timeout=30)
        assert response.status_code in (200, 204), response.text

    def get(self, url: str) -> requests.Response:
        return self.session.get(url, timeout=30)

    def hrefs(self, calendar_url: str) -> list[str]:
        """The object names in a calendar (PROPFIND depth 1)."""
        response = self.session.request(
            "PROPFIND",
            calendar_url,
            headers={"Depth": "1"},
            data='<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>'
            "</D:prop></D:propfind>",
            timeout=30,
        )
        names = []
        for part in response.text.split("<D:href>")[1:] or response.text.split("<href>")[1:]:
            href = part.split("</", 1)[0]
            if href.endswith(".ics"):
                names.append(href.rsplit("/", 1)[-1])
        return names
