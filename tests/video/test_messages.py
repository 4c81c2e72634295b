"""The message thread of a booking through the JSON API and the pages: posting,
listing, unread counts and marking read; bad input gets a clear 4xx; strangers
get nothing. Also the session page and its join endpoint for signed-in users."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from booking.models import GroupSession
from consult.db import Database, utcnow
from tests.factories import bearer
from tests.helpers import login
from tests.video.conftest import insert_booking


def post(client: Any, room: Any, headers: dict[str, str], body: Any) -> Any:
    return client.post(
        f"/api/v1/bookings/{room.booking_id}/messages", json={"body": body}, headers=headers
    )


def csrf_of(client: Any, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, f"no CSRF meta on {path}"
    return match.group(1)


def test_a_thread_between_client_and_professional_with_unread_counts(
    client: Any, make_room: Any
) -> None:
    room = make_room(starts_in=timedelta(days=3))  # long before the session: still usable
    first = post(client, room, room.client_headers, "Hello, can we talk about <goals>?")
    assert first.status_code == 201
    assert first.get_json()["html"] == "Hello, can we talk about &lt;goals&gt;?"
    assert post(client, room, room.client_headers, "Also: https://example.org").status_code == 201

    unread = client.get("/api/v1/messages/unread", headers=room.pro_headers).get_json()
    assert unread == {"total": 2, "bookings": [{"booking_id": room.booking_id, "unread": 2}]}
    # The sender has nothing unread in their own messages.
    assert client.get("/api/v1/messages/unread", headers=room.client_headers).get_json() == {
        "total": 0,
        "bookings": [],
    }

    listed = client.get(
        f"/api/v1/bookings/{room.booking_id}/messages", headers=room.pro_headers
    ).get_json()
    assert [m["sender_name"] for m in listed["messages"]] == ["Sam Client", "Sam Client"]
    assert listed["unread"] == 2
    first_id = listed["messages"][0]["id"]
    later = client.get(
        f"/api/v1/bookings/{room.booking_id}/messages?after={first_id}", headers=room.pro_headers
    ).get_json()
    assert [m["body"] for m in later["messages"]] == ["Also: https://example.org"]

    read = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages/read",
        json={"up_to": first_id},
        headers=room.pro_headers,
    )
    assert read.get_json() == {"last_read_id": first_id, "unread": 1}
    # Marking never moves backwards; no body means "everything".
    read = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages/read", headers=room.pro_headers
    )
    assert read.get_json()["unread"] == 0
    read = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages/read",
        json={"up_to": 0},
        headers=room.pro_headers,
    )
    assert read.get_json()["unread"] == 0

    answer = post(client, room, room.pro_headers, "Sure, see you then.")
    assert answer.status_code == 201
    unread = client.get("/api/v1/messages/unread", headers=room.client_headers).get_json()
    assert unread["total"] == 1


def test_bad_messages_and_strangers_get_clear_errors(
    client: Any, database: Database, make_room: Any, make_user: Any
) -> None:
    room = make_room()
    for body, field_error in [
        ("   ", "Write a message first."),
        ("x" * 2001, "Use at most 2000 characters."),
        (["not", "text"], "Must be text."),
    ]:
        response = post(client, room, room.client_headers, body)
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"] == {"body": field_error}
    response = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages", json={}, headers=room.client_headers
    )
    assert response.status_code == 422
    response = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages",
        data="{not json",
        headers={**room.client_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    response = client.get(
        f"/api/v1/bookings/{room.booking_id}/messages?after=-1", headers=room.client_headers
    )
    assert response.status_code == 400
    response = client.get(
        f"/api/v1/bookings/{room.booking_id}/messages?limit=1000", headers=room.client_headers
    )
    assert response.status_code == 400
    response = client.post(
        f"/api/v1/bookings/{room.booking_id}/messages/read",
        json={"up_to": "all"},
        headers=room.client_headers,
    )
    assert response.status_code == 422

    stranger = bearer(database, make_user(role="client"))
    for method, path in [
        ("get", f"/api/v1/bookings/{room.booking_id}/messages"),
        ("post", f"/api/v1/bookings/{room.booking_id}/messages/read"),
        ("post", f"/api/v1/bookings/{room.booking_id}/video/join"),
        ("get", "/api/v1/bookings/999999/messages"),
    ]:
        response = getattr(client, method)(path, headers=stranger)
        assert response.status_code == 404, path
    assert post(client, room, stranger, "let me in").status_code == 404
    assert client.get(f"/api/v1/bookings/{room.booking_id}/messages").status_code == 401


def test_the_session_page_and_its_join_endpoint_for_signed_in_people(
    client: Any, database: Database, make_room: Any, make_user: Any
) -> None:
    room = make_room()
    login(client, room.client)
    page = client.get(f"/bookings/{room.booking_id}/session")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Turn on camera and microphone" in text and "Nothing is recorded" in text
    assert 'id="room-config"' in text

    csrf = csrf_of(client, f"/bookings/{room.booking_id}/session")
    joined = client.post(f"/bookings/{room.booking_id}/session/join", headers={"X-CSRFToken": csrf})
    assert joined.status_code == 200
    assert joined.get_json()["socket_path"] == f"/ws/rooms/{room.booking_id}"
    # Without the CSRF header another site could mint tokens with our cookie: refused.
    assert client.post(f"/bookings/{room.booking_id}/session/join").status_code == 400

    # The booking page links to the room and shows unread messages.
    post(client, room, room.pro_headers, "Ready when you are")
    detail = client.get(f"/bookings/{room.booking_id}").get_data(as_text=True)
    assert f'href="/bookings/{room.booking_id}/session"' in detail
    assert "Messages (1 unread)" in detail

    # The conversation page lists, marks read, and takes a message; bad input is a
    # form error, not a crash.
    thread = client.get(f"/bookings/{room.booking_id}/messages").get_data(as_text=True)
    assert "Ready when you are" in thread
    assert "Messages (1 unread)" not in client.get(f"/bookings/{room.booking_id}").get_data(
        as_text=True
    )
    form_csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', thread)
    assert form_csrf
    sent = client.post(
        f"/bookings/{room.booking_id}/messages",
        data={"csrf_token": form_csrf.group(1), "body": "Thanks!"},
    )
    assert sent.status_code == 302
    empty = client.post(
        f"/bookings/{room.booking_id}/messages",
        data={"csrf_token": form_csrf.group(1), "body": " "},
        follow_redirects=True,
    )
    assert "Write a message first." in empty.get_data(as_text=True)
    as_json = client.post(
        f"/bookings/{room.booking_id}/messages",
        json={"body": "x" * 5000},
        headers={"X-CSRFToken": csrf},
    )
    assert as_json.status_code == 422
    assert as_json.get_json()["error"]["fields"]["body"] == "Use at most 2000 characters."
    polled = client.get(f"/bookings/{room.booking_id}/messages/poll?after=0").get_json()
    assert [m["body"] for m in polled["messages"]] == ["Ready when you are", "Thanks!"]
    assert client.get(f"/bookings/{room.booking_id}/messages/poll?after=x").status_code == 400

    # Strangers and group classes: nothing.
    other = make_room()
    assert client.get(f"/bookings/{other.booking_id}/session").status_code == 404
    assert client.get(f"/bookings/{other.booking_id}/messages").status_code == 404
    assert (
        client.post(
            f"/bookings/{other.booking_id}/session/join", headers={"X-CSRFToken": csrf}
        ).get_json()["error"]["code"]
        == "not_found"
    )
    with database.session() as session:
        group = GroupSession(service_id=room.service_id, event_uid="g-1", start=utcnow())
        session.add(group)
        session.flush()
        group_id = group.id
    seat = insert_booking(
        database,
        service_id=room.service_id,
        professional_id=room.pro.id,
        client_id=room.client.id,
        start=utcnow(),
    )
    with database.session() as session:
        from booking.models import Booking

        booking = session.get(Booking, seat)
        assert booking is not None
        booking.group_session_id = group_id
    assert client.get(f"/bookings/{seat}/session").status_code == 404


def test_a_cancelled_or_later_booking_explains_itself(client: Any, make_room: Any) -> None:
    later = make_room(starts_in=timedelta(days=2))
    login(client, later.pro)
    csrf = csrf_of(client, f"/bookings/{later.booking_id}/messages")
    page = client.get(f"/bookings/{later.booking_id}/session").get_data(as_text=True)
    assert "The room is not open yet" in page and "(Europe/Berlin)" in page
    refused = client.post(
        f"/bookings/{later.booking_id}/session/join", headers={"X-CSRFToken": csrf}
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "not_open"

    cancelled = make_room(status="cancelled")
    login(client, cancelled.pro)
    page = client.get(f"/bookings/{cancelled.booking_id}/session").get_data(as_text=True)
    assert "This booking was cancelled" in page
    refused = client.post(
        f"/bookings/{cancelled.booking_id}/session/join", headers={"X-CSRFToken": csrf}
    )
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "room_closed"
