"""Helpers for the calendar sync tests: iCalendar text, API calls that wait for the
background sync, slots of a day, a scripted DNS and a listener that counts who
connects."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(
    uid: str,
    start: datetime | str,
    end: datetime | str | None = None,
    *,
    summary: str = "Dentist",
    extra: Sequence[str] = (),
) -> str:
    """One VEVENT; ``start``/``end`` as datetimes (written in UTC) or ready lines
    (``DTSTART;TZID=...:...``)."""
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20240101T000000Z"]
    lines.append(start if isinstance(start, str) else f"DTSTART:{stamp(start)}")
    if end is not None:
        lines.append(end if isinstance(end, str) else f"DTEND:{stamp(end)}")
    lines.append(f"SUMMARY:{summary}")
    lines.append("DESCRIPTION:Private notes that must never be copied")
    lines.append("ATTENDEE;CN=Someone:mailto:someone@example.org")
    lines.extend(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def vcalendar(*events: str, headers: Sequence[str] = ()) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//tests//external//EN", *headers]
    return "\r\n".join(lines) + "\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


def get_connection(client: Any, headers: dict[str, str], connection_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/external-calendars/{connection_id}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def wait_synced(
    client: Any, headers: dict[str, str], connection_id: int, previous: str | None = None
) -> dict[str, Any]:
    """Wait until the connection's last attempt is newer than ``previous``; return it."""

    def attempted() -> dict[str, Any] | None:
        body = get_connection(client, headers, connection_id)
        return body if body["last_attempt_at"] and body["last_attempt_at"] != previous else None

    return dict(wait_for(attempted))


def connect(client: Any, headers: dict[str, str], **payload: Any) -> dict[str, Any]:
    """Connect a CalDAV or ICS calendar and wait for its first sync."""
    response = client.post("/api/v1/external-calendars", json=payload, headers=headers)
    assert response.status_code == 201, response.get_json()
    return wait_synced(client, headers, response.get_json()["id"])


def sync_now(client: Any, headers: dict[str, str], connection_id: int) -> dict[str, Any]:
    """``POST .../sync`` (202) and wait for that sync to finish."""
    previous = get_connection(client, headers, connection_id)["last_attempt_at"]
    response = client.post(f"/api/v1/external-calendars/{connection_id}/sync", headers=headers)
    assert response.status_code == 202, response.get_json()
    return wait_synced(client, headers, connection_id, previous)


def slot_times(client: Any, service_id: int, day: date) -> list[str]:
    """The local start times (HH:MM) offered on ``day``."""
    response = client.get(f"/api/v1/services/{service_id}/slots?start={day.isoformat()}")
    assert response.status_code == 200, response.get_json()
    return [slot["start"][11:16] for slot in response.get_json()]


class ScriptedDns:
    """``socket.getaddrinfo`` answering for one host name from a script: the first
    look-up gets the first answer, and so on, the last answer repeating. An answer is
    one address or a tuple of them. Other names resolve as usual; ``asked`` counts
    the look-ups of ``host``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, host: str, *answers: str | tuple[str, ...]):
        self.host = host
        self.answers = [(a,) if isinstance(a, str) else a for a in answers]
        self.asked = 0
        real = socket.getaddrinfo

        def getaddrinfo(name: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
            if (name.decode() if isinstance(name, bytes) else name) != host:
                return real(name, port, *args, **kwargs)
            answer = self.answers[min(self.asked, len(self.answers) - 1)]
            self.asked += 1
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, int(port or 0)),
                )
                for address in answer
            ]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Listener:
    """A TCP port on ``host`` that accepts connections, counts them and hangs up."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.connections = 0
        self.socket = socket.create_server((host, 0))
        self.port = int(self.socket.getsockname()[1])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed by stop()
                return
            self.connections += 1
            connection.close()

    def stop(self) -> None:
        try:
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone may not)
        except OSError:
            pass
        self.socket.close()
        self.thread.join(timeout=5)
