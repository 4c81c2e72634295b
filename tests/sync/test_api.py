"""The external-calendars API: who may use it, and a clear 4xx for every bad input."""

from __future__ import annotations

from typing import Any

import pytest

from caldav_server.store import CalendarStore
from sync.models import ExternalCalendar
from sync.service import MAX_CONNECTIONS
from tests.factories import bearer, setup_professional
from tests.sync.helpers import connect, vcalendar
from tests.sync.servers.ics import IcsServer

URL = "/api/v1/external-calendars"


def error_of(response: Any) -> dict[str, Any]:
    return dict(response.get_json()["error"])


def test_only_professionals_and_only_their_own_connections(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    assert client.get(URL).status_code == 401
    sam = bearer(database, make_user(role="client"))
    assert client.get(URL, headers=sam).status_code == 403
    assert client.post(URL, json={"kind": "ics"}, headers=sam).status_code == 403

    ics.publish("feed", vcalendar())
    maya, maya_headers, _ = setup_professional(client, database, make_user)
    ken, ken_headers, _ = setup_professional(client, database, make_user)
    mine = connect(client, maya_headers, kind="ics", url=ics.url("feed"))
    assert [c["id"] for c in client.get(URL, headers=maya_headers).get_json()] == [mine["id"]]
    assert client.get(URL, headers=ken_headers).get_json() == []
    for method, path, body in [
        ("GET", f"{URL}/{mine['id']}", None),
        ("PATCH", f"{URL}/{mine['id']}", {"show_titles": True}),
        ("POST", f"{URL}/{mine['id']}/sync", None),
        ("DELETE", f"{URL}/{mine['id']}", None),
        ("GET", f"{URL}/999999", None),
    ]:
        response = client.open(path, method=method, json=body, headers=ken_headers)
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"
    assert client.get(f"{URL}/{mine['id']}", headers=maya_headers).status_code == 200


INVALID = [
    ({}, "kind", "Choose one of"),
    ({"kind": "exchange"}, "kind", "Choose one of"),
    ({"kind": "caldav"}, "url", "required"),
    ({"kind": "ics", "url": "ftp://example.org/cal.ics"}, "url", "http://"),
    ({"kind": "ics", "url": "file:///etc/passwd"}, "url", "http://"),
    ({"kind": "ics", "url": "https://"}, "url", "no host"),
    ({"kind": "ics", "url": "https://a:b@example.org/x.ics"}, "url", "own fields"),
    ({"kind": "ics", "url": "https://example.org/ x.ics"}, "url", "spaces"),
    ({"kind": "ics", "url": "https://example.org/" + "x" * 2100}, "url", "at most"),
    ({"kind": "ics", "url": 42}, "url", "string"),
    (
        {"kind": "ics", "url": "https://example.org/x.ics", "show_titles": "yes"},
        "show_titles",
        "true or false",
    ),
    (
        {"kind": "caldav", "url": "https://example.org/dav/", "password": "x"},
        "username",
        "user name",
    ),
    (
        {"kind": "ics", "url": "https://example.org/x.ics", "writeback": True},
        "writeback",
        "read-only",
    ),
    ({"kind": "google", "url": "https://example.org/"}, "url", "Not used"),
    ({"kind": "microsoft", "password": "x"}, "password", "Not used"),
]


def test_invalid_connect_input_is_a_422_naming_the_field(
    client: Any, database: Any, make_user: Any
) -> None:
    pro, headers, _ = setup_professional(client, database, make_user)
    for payload, field, message in INVALID:
        response = client.post(URL, json=payload, headers=headers)
        assert response.status_code == 422, (payload, response.get_json())
        error = error_of(response)
        assert error["code"] == "validation_error"
        assert message in error["fields"][field], (payload, error)
    assert client.get(URL, headers=headers).get_json() == []


def test_malformed_bodies_are_a_400(client: Any, database: Any, make_user: Any) -> None:
    pro, headers, _ = setup_professional(client, database, make_user)
    assert (
        client.post(
            URL, data="{", headers={**headers, "Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert client.post(URL, json=["ics"], headers=headers).status_code == 400
    assert client.post(URL, headers=headers).status_code == 400


INTERNAL = [
    "http://127.0.0.1:8000/feed.ics",
    "http://localhost/feed.ics",
    "https://10.1.2.3/cal.ics",
    "http://192.168.0.10/dav/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/cal.ics",
    "http://[::ffff:127.0.0.1]/cal.ics",
    "http://0.0.0.0/cal.ics",
]


@pytest.mark.parametrize("sync_overrides", [{"allow_private_addresses": "false"}], indirect=True)
def test_internal_addresses_are_refused_in_production(
    client: Any, database: Any, make_user: Any
) -> None:
    pro, headers, _ = setup_professional(client, database, make_user)
    for url in INTERNAL:
        response = client.post(URL, json={"kind": "ics", "url": url}, headers=headers)
        assert response.status_code == 422, (url, response.get_json())
        assert "private or local network" in error_of(response)["fields"]["url"], url


@pytest.mark.parametrize("sync_overrides", [{"google_client_id": ""}], indirect=True)
def test_an_unconfigured_provider_says_so(client: Any, database: Any, make_user: Any) -> None:
    pro, headers, _ = setup_professional(client, database, make_user)
    response = client.post(URL, json={"kind": "google"}, headers=headers)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "provider_not_configured"
    assert "CalDAV or ICS" in error["message"]
    assert client.post(URL, json={"kind": "microsoft"}, headers=headers).status_code == 201


def test_webcal_links_connection_limit_and_settings(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, _ = setup_professional(client, database, make_user)
    created = client.post(
        URL,
        json={"kind": "ics", "url": "webcal://127.0.0.1:9/cal.ics?token=secret"},
        headers=headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    # webcal:// means https; the secret in the query is not echoed back.
    assert body["url"] == "https://127.0.0.1:9/cal.ics"
    assert body["status"] == "pending" and body["last_error"] is None

    # PATCH: titles and write-back only, with clear errors.
    for payload, field in [
        ({"url": "https://example.org"}, "url"),
        ({}, "show_titles"),
        ({"writeback": True}, "writeback"),
        ({"show_titles": 1}, "show_titles"),
    ]:
        response = client.patch(f"{URL}/{body['id']}", json=payload, headers=headers)
        assert response.status_code == 422, payload
        assert field in error_of(response)["fields"]
    changed = client.patch(f"{URL}/{body['id']}", json={"show_titles": True}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["show_titles"] is True

    # Write-back goes to one calendar at a time.
    first = client.post(URL, json={"kind": "microsoft", "writeback": True}, headers=headers)
    second = client.post(URL, json={"kind": "google"}, headers=headers).get_json()
    assert first.get_json()["writeback"] is True
    client.patch(f"{URL}/{second['id']}", json={"writeback": True}, headers=headers)
    chosen = {c["id"]: c["writeback"] for c in client.get(URL, headers=headers).get_json()}
    assert chosen == {body["id"]: False, first.get_json()["id"]: False, second["id"]: True}

    with database.session() as session:
        for _ in range(MAX_CONNECTIONS - 3):
            session.add(ExternalCalendar(user_id=pro.id, kind="ics", url="https://x.test/a.ics"))
    refused = client.post(URL, json={"kind": "ics", "url": ics.url("x")}, headers=headers)
    assert refused.status_code == 422
    assert f"at most {MAX_CONNECTIONS}" in error_of(refused)["fields"]["kind"]


def test_delete_removes_the_mirror_and_its_busy_time(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, _ = setup_professional(client, database, make_user)
    ics.publish("feed", vcalendar())
    connection = connect(client, headers, kind="ics", url=ics.url("feed"))
    path = connection["mirror"]["path"].strip("/").removeprefix("dav/")
    with database.session() as session:
        assert CalendarStore(session).collection_exists(path)
    assert client.delete(f"{URL}/{connection['id']}", headers=headers).status_code == 204
    with database.session() as session:
        assert not CalendarStore(session).collection_exists(path)
        assert session.get(ExternalCalendar, connection["id"]) is None
    assert client.delete(f"{URL}/{connection['id']}", headers=headers).status_code == 404
