"""Hostile and out-of-range input (issue 14): a clear 4xx every time, never a 500,
on PostgreSQL and SQLite alike; text with control characters refused at the door,
and text stored before that rule never breaks mail or feeds."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sqlalchemy import select

from accounts.models import User
from booking.links import rotate_feed_token
from notifications.delivery import SENDER, Outcome, deliver_due
from notifications.models import OutboxMessage
from notifications.service import NOTIFIER
from tests.factories import at, bearer, next_weekday, one_on_one, setup_professional
from tests.helpers import TEST_PASSWORD, csrf_token

CLOSED_WEEK = {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
BOTH = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the tests send when they want to."""
    return {"notifications": {"sweep_seconds": "0"}}


@BOTH
def test_ids_beyond_what_a_row_can_have_are_404_not_500(
    client: Any, database: Any, make_user: Any
) -> None:
    sam = make_user(role="client")
    headers = bearer(database, sam)
    for path in ("/api/v1/bookings/99999999999", f"/api/v1/bookings/{2**70}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"
    assert client.get(f"/bookings/{2**40}").status_code in (302, 404)  # login first, or 404


@BOTH
def test_numbers_and_times_out_of_range_are_422_with_a_reason(
    client: Any, database: Any, make_user: Any
) -> None:
    _, _, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    headers = bearer(database, sam)
    for service_id in (2**40, 2**70, -(2**70)):
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": service_id, "start": at(next_weekday(2), "09:00").isoformat()},
            headers=headers,
        )
        assert response.status_code == 422, service_id
        assert "service_id" in response.get_json()["error"]["fields"]
    for start in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+14:00"):
        response = client.post(
            "/api/v1/bookings", json={"service_id": service["id"], "start": start}, headers=headers
        )
        assert response.status_code == 422, start
        assert "start" in response.get_json()["error"]["fields"]


@BOTH
def test_slot_queries_at_the_ends_of_time_are_400(
    client: Any, database: Any, make_user: Any
) -> None:
    _, _, service = setup_professional(client, database, make_user)
    for query in (
        "start=9999-12-31",
        "start=0001-01-01&tz=Etc/GMT-14",
        "start=2026-12-01&end=9999-12-31",
    ):
        response = client.get(f"/api/v1/services/{service['id']}/slots?{query}")
        assert response.status_code == 400, query
        assert "between 1970-01-01 and 2199-12-31" in response.get_json()["error"]["message"]


@BOTH
def test_a_huge_read_marker_is_422(client: Any, database: Any, make_user: Any) -> None:
    pro, pro_headers, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": at(next_weekday(2), "09:00").isoformat()},
        headers=bearer(database, sam),
    )
    assert booked.status_code == 201
    response = client.post(
        f"/api/v1/bookings/{booked.get_json()['id']}/messages/read",
        json={"up_to": 2**80},
        headers=pro_headers,
    )
    assert response.status_code == 422
    assert "up_to" in response.get_json()["error"]["fields"]


def test_nul_bytes_are_refused_before_any_query(client: Any, make_user: Any) -> None:
    """PostgreSQL refuses NUL in text: without the guard these were 500s, even to
    people who are not signed in."""
    sam = make_user(role="client")
    attempts = [
        ("/api/v1/auth/register", {"email": "a\x00@example.org", "password": TEST_PASSWORD,
                                   "name": "A", "role": "client"}),
        ("/api/v1/auth/register", {"email": "b@example.org", "password": TEST_PASSWORD,
                                   "name": "B\x00", "role": "client"}),
        ("/api/v1/auth/token", {"email": sam.email + "\x00", "password": TEST_PASSWORD}),
    ]  # fmt: skip
    for path, payload in attempts:
        response = client.post(path, json=payload)
        assert response.status_code == 400, (path, payload)
        assert "NUL" in response.get_json()["error"]["message"]
    assert client.get("/api/v1/professionals?q=yoga%00").status_code == 400
    assert client.get("/p/some%00one").status_code in (400, 404)


@BOTH
def test_line_breaks_and_control_characters_are_refused_beside_their_field(
    client: Any, database: Any, make_user: Any
) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={
            "email": "maya@example.org",
            "password": TEST_PASSWORD,
            "name": "Maya\r\nBcc: everyone@example.org",
            "role": "professional",
        },
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["name"] == "Write this on one line."
    pro, headers, _ = setup_professional(client, database, make_user)
    response = client.post(
        "/api/v1/services", json=one_on_one(title="Yoga\x07 class"), headers=headers
    )
    assert response.status_code == 422
    assert "control characters" in response.get_json()["error"]["fields"]["title"]
    # A description may have lines, still no other control characters.
    ok = client.post(
        "/api/v1/services",
        json=one_on_one(title="Yoga", description="Bring a mat.\r\nAnd water."),
        headers=headers,
    )
    assert ok.status_code == 201 and ok.get_json()["description"] == "Bring a mat.\nAnd water."


def test_text_too_long_says_the_limit_and_the_length(
    client: Any, database: Any, make_user: Any
) -> None:
    _, headers, _ = setup_professional(client, database, make_user)
    response = client.post("/api/v1/services", json=one_on_one(title="x" * 500), headers=headers)
    assert response.status_code == 422
    message = response.get_json()["error"]["fields"]["title"]
    assert "at most" in message and "(this has 500)" in message


def test_a_profile_headline_with_a_line_break_is_refused_beside_the_field(
    app: Any, client: Any, make_user: Any, auth: Any
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    pro = make_user(role="professional")
    auth.login(pro)
    page = client.post(
        "/pro/profile",
        data={
            "csrf_token": csrf_token(client, "/pro/profile"),
            "headline": "Therapist\x07 for anxiety",
            "bio": "",
            "languages": ["en"],
            "timezone": "Europe/Berlin",
        },
    )
    assert page.status_code == 422
    assert "Remove the invisible control characters." in page.get_data(as_text=True)


@BOTH
def test_a_name_stored_before_the_rule_never_breaks_mail_or_the_feed(
    platform: Any, client: Any, database: Any, make_user: Any, auth: Any
) -> None:
    """Names typed before control characters were refused are still in the database:
    the email goes out with the name on one line, the feed still answers."""
    pro, headers, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    with database.session() as session:
        account = session.get(User, pro.id)
        assert account is not None
        account.name = "Maya\r\nBcc: everyone@example.org"
        token = rotate_feed_token(session, account, platform.settings.app.secret_key)
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": at(next_weekday(2), "09:00").isoformat()},
        headers=bearer(database, sam),
    )
    assert booked.status_code == 201
    sender = platform.find(SENDER)
    deliver_due(sender)
    with database.session() as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "booking_confirmed"))
        )
    assert rows and all(row.status == "sent" for row in rows), [
        (r.status, r.last_error) for r in rows
    ]
    feed = client.get(f"/feeds/{token}.ics")
    assert feed.status_code == 200
    assert b"X-WR-CALNAME:Maya Bcc: everyone@example.org: bookings" in feed.data


@BOTH
def test_one_message_that_cannot_be_sent_is_recorded_and_the_others_go_out(
    platform: Any, database: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier = platform.find(NOTIFIER)
    people = [make_user(role="client") for _ in range(3)]
    with database.session() as session:
        for n, person in enumerate(people):
            notifier.notify(
                session,
                recipient_id=person.id,
                kind="booking_reminder",
                context=REMINDER,
                idempotency_key=f"hostile:{n}",
                in_app=False,
            )  # fmt: skip
        broken = session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "hostile:1")
        )
        assert broken is not None
        broken.to_address = "not an address <>"  # what no header can carry
    counts = deliver_due(platform.find(SENDER))
    assert counts[Outcome.SENT] == 2
    assert counts[Outcome.FAILED] + counts[Outcome.RETRY] == 1
    with database.session() as session:
        row = session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "hostile:1")
        )
        assert row is not None and row.attempts == 1 and row.last_error


REMINDER = {
    "role": "client",
    "service_title": "Therapy session",
    "start": at(next_weekday(2), "09:00"),
    "end": at(next_weekday(2), "09:50"),
    "other_name": "Maya",
    "booking_url": "http://127.0.0.1:8000/bookings/1",
    "join_url": "http://127.0.0.1:8000/bookings/1/session",
    "manage_url": None,
}

DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
    '<propfind xmlns="DAV:"><prop><displayname>&lol2;</displayname></prop></propfind>'
)
EXTERNAL = (
    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<propertyupdate xmlns="DAV:"><set><prop><displayname>&xxe;</displayname></prop></set>'
    "</propertyupdate>"
)


def test_xml_with_entity_declarations_is_400(client: Any, make_user: Any) -> None:
    pro = make_user(role="professional")
    basic = base64.b64encode(f"{pro.email}:{pro.test_password}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/xml"}
    calendar = f"/dav/{pro.principal}/bookings/"
    for method, body in (("PROPFIND", DTD), ("PROPPATCH", EXTERNAL), ("REPORT", DTD)):
        response = client.open(
            calendar, method=method, data=body, headers={**headers, "Depth": "0"}
        )
        assert response.status_code == 400, (method, response.status_code)
    assert (
        client.open(calendar, method="PROPFIND", headers={**headers, "Depth": "0"}).status_code
        == 207
    )


@BOTH
def test_availability_overrides_at_the_ends_of_time_are_422(
    client: Any, database: Any, make_user: Any
) -> None:
    pro = make_user(role="professional")
    headers = bearer(database, pro)
    for day in ("9999-12-31", "0001-01-01", "1969-12-31"):
        response = client.put(
            "/api/v1/availability",
            json={
                "timezone": "UTC",
                "weekly": CLOSED_WEEK,
                "overrides": [{"date": day, "intervals": []}],
            },
            headers=headers,
        )
        assert response.status_code == 422, day
        fields = response.get_json()["error"]["fields"]
        assert "between 1970-01-01 and 2199-12-31" in fields["overrides[0].date"]
    stored = client.get("/api/v1/availability", headers=headers).get_json()
    assert stored["overrides"] == []
    fine = client.put(
        "/api/v1/availability",
        json={
            "timezone": "UTC",
            "weekly": CLOSED_WEEK,
            "overrides": [{"date": "2199-12-31", "intervals": []}],
        },
        headers=headers,
    )
    assert fine.status_code == 200, fine.get_json()
