"""Connections of the sync worker go to the address that was checked
(:mod:`sync.sources.pinning`): a host whose DNS answer turns from public to
loopback between the check and the connection (DNS rebinding) is refused before
anything connects, over ``requests`` (ICS) and over the caldav library's niquests.

Nothing here leaves this machine: local servers stand in for the outside world.
127.0.0.2 plays a public address (the tests count it as one), 127.0.0.1 the
platform's own network, and a scripted DNS answers for ``calendar.rebind.test``.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import trustme

import sync.urls
from sync.errors import SourceDataError
from sync.models import CALDAV, ICS
from sync.sources.base import Credentials, Limits, SourceConfig
from sync.sources.caldav_source import CalDavSource
from sync.sources.ics import IcsSource
from tests.sync.helpers import Listener, ScriptedDns, vcalendar, vevent
from tests.sync.servers.ics import IcsServer
from tests.sync.servers.radicale import PASSWORD, USER, ExternalRadicale

HOST = "calendar.rebind.test"
OUTSIDE = "127.0.0.2"  # stands in for a public address
INSIDE = "127.0.0.1"  # the platform's own network
FEED = vcalendar(vevent("dentist", "DTSTART:20300107T100000Z", "DTEND:20300107T110000Z"))


@pytest.fixture(autouse=True)
def outside_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """Count :data:`OUTSIDE` as a public address, and nothing else that is not."""
    real = sync.urls._is_public
    outside = ipaddress.ip_address(OUTSIDE)
    monkeypatch.setattr(
        sync.urls, "_is_public", lambda address: address == outside or real(address)
    )


@pytest.fixture
def inside() -> Iterator[Listener]:
    listener = Listener(INSIDE)
    yield listener
    listener.stop()


def config(url: str, kind: str = ICS, username: str = "", password: str = "") -> SourceConfig:
    return SourceConfig(
        connection_id=1,
        kind=kind,
        url=url,
        username=username,
        credentials=Credentials({"password": password} if password else {}),
        own_zone=ZoneInfo("Europe/Berlin"),
    )


def limits() -> Limits:
    """Production's rule: private addresses refused."""
    return Limits(
        request_timeout=10,
        deadline=time.monotonic() + 60,
        max_bytes=1_000_000,
        max_events=100,
        allow_private=False,
    )


def test_an_ics_host_that_turns_to_loopback_after_the_check_is_not_reached(
    monkeypatch: pytest.MonkeyPatch, inside: Listener
) -> None:
    dns = ScriptedDns(monkeypatch, HOST, OUTSIDE, INSIDE)
    with pytest.raises(SourceDataError, match="private or local network"):
        IcsSource().fetch(config(f"http://{HOST}:{inside.port}/feed.ics"), limits())
    assert dns.asked == 2  # the check before the request, then the connection's own
    assert inside.connections == 0


def test_a_caldav_host_that_turns_to_loopback_after_the_check_is_not_reached(
    monkeypatch: pytest.MonkeyPatch, inside: Listener
) -> None:
    dns = ScriptedDns(monkeypatch, HOST, OUTSIDE, INSIDE)
    url = f"http://{HOST}:{inside.port}/{USER}/work/"
    with pytest.raises(SourceDataError, match="private or local network"):
        CalDavSource().fetch(config(url, CALDAV, USER, PASSWORD), limits())
    assert dns.asked == 2
    assert inside.connections == 0


def test_a_host_with_one_private_address_among_public_ones_is_not_reached(
    monkeypatch: pytest.MonkeyPatch, inside: Listener
) -> None:
    ScriptedDns(monkeypatch, HOST, OUTSIDE, (OUTSIDE, INSIDE))
    with pytest.raises(SourceDataError, match="private or local network"):
        IcsSource().fetch(config(f"http://{HOST}:{inside.port}/feed.ics"), limits())
    assert inside.connections == 0


def test_the_checked_address_is_fetched_with_the_host_name_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside = IcsServer(OUTSIDE)
    try:
        outside.publish("feed", FEED)
        ScriptedDns(monkeypatch, HOST, OUTSIDE)
        result = IcsSource().fetch(config(f"http://{HOST}:{outside.port}/feed.ics"), limits())
        assert [event.remote_id for event in result.events] == ["dentist"]
        assert outside.hosts == [f"{HOST}:{outside.port}"]
    finally:
        outside.stop()


def test_tls_to_the_checked_address_names_and_verifies_the_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    authority = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(HOST).configure_cert(tls)  # valid for the name only, not the IP
    names: list[str | None] = []
    tls.sni_callback = lambda _socket, name, _context: names.append(name)  # type: ignore[assignment, func-returns-value]
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    outside = IcsServer(OUTSIDE, tls=tls)
    try:
        outside.publish("feed", FEED)
        ScriptedDns(monkeypatch, HOST, OUTSIDE)
        result = IcsSource().fetch(config(f"https://{HOST}:{outside.port}/feed.ics"), limits())
        assert [event.remote_id for event in result.events] == ["dentist"]
        assert names == [HOST]
    finally:
        outside.stop()


def test_caldav_syncs_through_checked_connections(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outside = ExternalRadicale(tmp_path, host=OUTSIDE)
    try:
        calendar = outside.new_calendar(display="Work")
        outside.put(calendar, "dentist", FEED)
        ScriptedDns(monkeypatch, HOST, OUTSIDE)
        url = calendar.replace(OUTSIDE, HOST)
        result = CalDavSource().fetch(config(url, CALDAV, USER, PASSWORD), limits())
        assert result.remote_name == "Work"
        assert [event.remote_id for event in result.events] == [
            urlsplit(calendar).path + "dentist.ics"
        ]
    finally:
        outside.stop()
