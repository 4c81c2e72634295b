"""The embedded CalDAV server, driven by the real ``caldav`` client over HTTP
against a running app: discovery, calendars, events, sync, and access control."""

from __future__ import annotations

import uuid
from typing import Any

import caldav
import pytest
import requests
from caldav.lib import error as caldav_error

from tests.helpers import TEST_PASSWORD, LiveServer

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//tests//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261101T000000Z
DTSTART:20261201T090000Z
DTEND:20261201T100000Z
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


def dav_client(live_server: LiveServer, user: Any, password: str | None = None) -> caldav.DAVClient:
    return caldav.DAVClient(
        url=live_server.url + "/dav/",
        username=user.email,
        password=password or user.test_password,
    )


def test_caldav_client_discovers_principal_and_default_calendars(
    live_server: LiveServer, make_user: Any
) -> None:
    maya = make_user(role="professional")
    with dav_client(live_server, maya) as client:
        principal = client.principal()
        assert principal.url.path.rstrip("/").endswith(maya.principal)
        names = sorted(calendar.get_display_name() for calendar in principal.calendars())
        assert names == ["Availability", "Bookings"]


def test_discovery_from_the_host_root(live_server: LiveServer, make_user: Any) -> None:
    maya = make_user(role="professional")
    with caldav.DAVClient(
        url=live_server.url + "/", username=maya.email, password=TEST_PASSWORD
    ) as client:
        assert client.principal().url.path.rstrip("/").endswith(maya.principal)


def test_create_read_update_delete_and_sync(live_server: LiveServer, make_user: Any) -> None:
    maya = make_user(role="professional")
    with dav_client(live_server, maya) as client:
        calendar = client.principal().make_calendar(name="Personal", cal_id="personal")
        uid = str(uuid.uuid4())
        calendar.save_event(EVENT.format(uid=uid, summary="Dentist"))
        before = calendar.objects_by_sync_token(load_objects=False)
        token = before.sync_token

        event = calendar.event_by_uid(uid)
        assert "Dentist" in event.data
        event.icalendar_component["summary"] = "Dentist (moved)"
        event.save()
        assert "Dentist (moved)" in calendar.event_by_uid(uid).data

        second = str(uuid.uuid4())
        calendar.save_event(EVENT.format(uid=second, summary="Gym"))
        changed = calendar.objects_by_sync_token(sync_token=token, load_objects=True)
        changed_uids = {obj.icalendar_component["uid"] for obj in changed if obj.data}
        assert changed_uids == {uid, second}

        token = changed.sync_token
        calendar.event_by_uid(second).delete()
        after_delete = calendar.objects_by_sync_token(sync_token=token, load_objects=False)
        assert len(list(after_delete)) == 1  # the deleted href is reported
        with pytest.raises(caldav_error.NotFoundError):
            calendar.event_by_uid(second)


def test_wrong_password_is_401(live_server: LiveServer, make_user: Any) -> None:
    maya = make_user(role="professional")
    with (
        dav_client(live_server, maya, password="wrong password"),
        pytest.raises(caldav_error.AuthorizationError),
    ):
        dav_client(live_server, maya, password="wrong password").principal()
    response = requests.request(
        "PROPFIND",
        f"{live_server.url}/dav/{maya.principal}/",
        auth=(maya.email, "wrong password"),
        headers={"Depth": "0"},
        timeout=10,
    )
    assert response.status_code == 401


def test_app_password_works_and_revocation_stops_it(
    live_server: LiveServer, make_user: Any, database: Any
) -> None:
    from accounts import services
    from accounts.models import User

    maya = make_user(role="professional")
    with database.session() as session:
        account = session.get(User, maya.id)
        app_password, secret = services.create_app_password(session, account, "iPhone")
    url = f"{live_server.url}/dav/{maya.principal}/"
    ok = requests.request(
        "PROPFIND", url, auth=(maya.email, secret), headers={"Depth": "0"}, timeout=10
    )
    assert ok.status_code == 207
    with database.session() as session:
        account = session.get(User, maya.id)
        services.revoke_app_password(session, account, app_password.id)
    refused = requests.request(
        "PROPFIND", url, auth=(maya.email, secret), headers={"Depth": "0"}, timeout=10
    )
    assert refused.status_code == 401


def test_nobody_reads_or_lists_another_principal(live_server: LiveServer, make_user: Any) -> None:
    maya, ken = make_user(role="professional"), make_user(role="professional")
    auth = (ken.email, TEST_PASSWORD)
    for path in (f"/dav/{maya.principal}/", f"/dav/{maya.principal}/bookings/"):
        response = requests.request(
            "PROPFIND", live_server.url + path, auth=auth, headers={"Depth": "1"}, timeout=10
        )
        assert response.status_code in (403, 404)
    put = requests.put(
        f"{live_server.url}/dav/{maya.principal}/bookings/x.ics",
        data=EVENT.format(uid="x", summary="intrusion"),
        auth=auth,
        headers={"Content-Type": "text/calendar"},
        timeout=10,
    )
    assert put.status_code in (403, 404)
    root = requests.request(
        "PROPFIND", live_server.url + "/dav/", auth=auth, headers={"Depth": "1"}, timeout=10
    )
    assert root.status_code == 207
    assert maya.principal not in root.text and ken.principal in root.text


def test_clients_without_calendars_cannot_sign_in_to_dav(
    live_server: LiveServer, make_user: Any
) -> None:
    sam = make_user(role="client")
    response = requests.request(
        "PROPFIND", live_server.url + "/dav/", auth=(sam.email, TEST_PASSWORD), timeout=10
    )
    assert response.status_code == 401


def test_oversized_and_malformed_bodies_get_4xx_and_store_nothing(
    live_server: LiveServer, make_user: Any
) -> None:
    maya = make_user(role="professional")
    auth = (maya.email, TEST_PASSWORD)
    base = f"{live_server.url}/dav/{maya.principal}/bookings/"
    huge = EVENT.format(
        uid="huge", summary="x" * (live_server.settings.dav.max_content_length + 10)
    )
    response = requests.put(
        base + "huge.ics",
        data=huge,
        auth=auth,
        timeout=30,
        headers={"Content-Type": "text/calendar"},
    )
    assert response.status_code == 413
    response = requests.put(
        base + "bad.ics",
        data="BEGIN:VCALENDAR\nnonsense",
        auth=auth,
        timeout=10,
        headers={"Content-Type": "text/calendar"},
    )
    assert 400 <= response.status_code < 500
    response = requests.request(
        "REPORT",
        base,
        data="<not xml",
        auth=auth,
        timeout=10,
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert 400 <= response.status_code < 500
    listing = requests.request("PROPFIND", base, auth=auth, headers={"Depth": "1"}, timeout=10)
    assert listing.status_code == 207
    assert "huge.ics" not in listing.text and "bad.ics" not in listing.text


def test_dav_root_in_a_browser_explains_itself(live_server: LiveServer) -> None:
    page = requests.get(live_server.url + "/dav/", timeout=10)
    assert page.status_code == 200
    assert "CalDAV server" in page.text and live_server.url + "/dav/" in page.text


def test_the_home_and_the_platform_calendars_cannot_be_deleted(
    live_server: LiveServer, make_user: Any
) -> None:
    maya = make_user(role="professional")
    auth = (maya.email, TEST_PASSWORD)
    for path in (
        f"/dav/{maya.principal}/",
        f"/dav/{maya.principal}/bookings/",
        f"/dav/{maya.principal}/availability/",
    ):
        response = requests.delete(live_server.url + path, auth=auth, timeout=10)
        assert response.status_code == 403, path
    with dav_client(live_server, maya) as client:
        names = sorted(c.get_display_name() for c in client.principal().calendars())
        assert names == ["Availability", "Bookings"]
        own = client.principal().make_calendar(name="Scratch", cal_id="scratch")
        own.delete()
