"""Google Calendar: OAuth 2.0 and the Calendar API v3, against a local stand-in.

Google cannot be reached from the test machines, so ``servers/google.py`` speaks
Google's documented wire format on loopback, and the platform talks to it with the
same client code as in production (authlib's OAuth2 session over requests).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from sync.models import ExternalCalendar
from tests.factories import at, bearer, iso, next_weekday, setup_professional
from tests.sync.helpers import get_connection, slot_times, sync_now, wait_for, wait_synced
from tests.sync.servers.google import GoogleStandIn

BASE = "http://127.0.0.1:8000"  # the test app's base_url


def oauth_connect(client: Any, headers: dict[str, str], kind: str, server: Any) -> dict[str, Any]:
    """Connect through the provider's consent screen and wait for the first sync."""
    response = client.post("/api/v1/external-calendars", json={"kind": kind}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "authorizing"
    assert body["callback_url"] == f"{BASE}/calendars/oauth/{kind}/callback"
    assert body["authorization_url"].startswith(server.url)
    # The professional's browser at the provider: consent is given, it comes back.
    consent = requests.get(body["authorization_url"], allow_redirects=False, timeout=30)
    assert consent.status_code == 302
    location = consent.headers["Location"]
    assert location.startswith(body["callback_url"] + "?")
    callback = client.get(location.removeprefix(BASE))
    assert callback.status_code == 200, callback.get_data(as_text=True)
    assert "connected" in callback.get_data(as_text=True)
    # The code is single-use: the same callback again is refused with a clear page.
    replay = client.get(location.removeprefix(BASE))
    assert replay.status_code == 400 and "expired" in replay.get_data(as_text=True)
    return wait_synced(client, headers, body["id"])


def google_time(day: Any, clock: str) -> dict[str, str]:
    return {"dateTime": iso(at(day, clock)), "timeZone": "Europe/Berlin"}


def test_google_calendar_is_mirrored_incrementally_with_token_refresh_and_revocation(
    client: Any, database: Any, make_user: Any, google: GoogleStandIn
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    google.put_event("single", start=google_time(day, "10:00"), end=google_time(day, "11:00"))
    google.put_event(
        "weekly",
        start=google_time(day, "14:00"),
        end=google_time(day, "15:00"),
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
        summary="Lesson",
    )
    week2 = next_weekday(1, weeks_ahead=2)
    week3 = next_weekday(1, weeks_ahead=3)
    # Next week's lesson is cancelled; the one after moved to the morning.
    google.put_event(
        "weekly_2",
        status="cancelled",
        recurringEventId="weekly",
        originalStartTime=google_time(week2, "14:00"),
    )
    google.put_event(
        "weekly_3",
        recurringEventId="weekly",
        originalStartTime=google_time(week3, "14:00"),
        start=google_time(week3, "09:00"),
        end=google_time(week3, "10:00"),
    )
    google.put_event(
        "holiday",
        start={"date": day.isoformat()},
        end={"date": day.isoformat()},
        transparency="transparent",
    )
    connection = oauth_connect(client, headers, "google", google)
    assert connection["status"] == "ok", connection
    assert connection["name"] == "Google — ken@example.com"
    # The single event, the series, and the holiday (shown, but it blocks nothing).
    assert connection["mirror"]["events"] == 3
    assert slot_times(client, service["id"], day) == [
        "09:00",
        "11:30",
        "12:20",
        "13:10",
        "15:40",
    ]
    assert "14:00" in slot_times(client, service["id"], week2)
    assert slot_times(client, service["id"], week3)[:2] == ["10:40", "11:30"]

    # Incremental: the next sync sends the sync token and gets only the changes.
    google.cancel_event("single")
    google.put_event("lunch", start=google_time(day, "12:20"), end=google_time(day, "13:00"))
    synced = sync_now(client, headers, connection["id"])
    assert google.list_calls[-1].get("syncToken"), google.list_calls[-1]
    assert synced["mirror"]["events"] == 3
    assert slot_times(client, service["id"], day) == [
        "09:00",
        "09:50",
        "10:40",
        "11:30",
        "13:10",
        "15:40",
    ]

    # An expired access token is refreshed with the refresh token, and the new token kept.
    with database.session() as session:
        before = session.get(ExternalCalendar, connection["id"]).secret  # type: ignore[union-attr]
    google.oauth.expire_access_tokens()
    refreshed = sync_now(client, headers, connection["id"])
    assert refreshed["status"] == "ok"
    assert google.oauth.token_requests["refresh_token"] == 1
    with database.session() as session:
        assert session.get(ExternalCalendar, connection["id"]).secret != before  # type: ignore[union-attr]

    # Google forgets the sync token (410 Gone): a full sync follows at once.
    google.forget_sync_tokens()
    calls = len(google.list_calls)
    full = sync_now(client, headers, connection["id"])
    assert full["status"] == "ok" and full["mirror"]["events"] == 3
    assert [bool(call.get("syncToken")) for call in google.list_calls[calls:]] == [True, False]

    # Removing the connection revokes the grant at Google and frees the time.
    removed = client.delete(f"/api/v1/external-calendars/{connection['id']}", headers=headers)
    assert removed.status_code == 204
    wait_for(lambda: google.oauth.revoked_grants == 1)
    assert "10:40" in slot_times(client, service["id"], day)
    assert (
        client.get(f"/api/v1/external-calendars/{connection['id']}", headers=headers).status_code
        == 404
    )


def test_revoked_access_is_recorded_and_denied_consent_connects_nothing(
    client: Any, database: Any, make_user: Any, google: GoogleStandIn
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    connection = oauth_connect(client, headers, "google", google)
    google.oauth.revoke(next(iter(google.oauth.grants)))
    google.oauth.expire_access_tokens()
    failed = sync_now(client, headers, connection["id"])
    assert failed["status"] == "error"
    assert "no longer accepts this connection" in failed["last_error"]

    response = client.post("/api/v1/external-calendars", json={"kind": "google"}, headers=headers)
    pending = response.get_json()
    denied = requests.get(
        pending["authorization_url"] + "&deny=1", allow_redirects=False, timeout=30
    )
    page = client.get(denied.headers["Location"].removeprefix(BASE))
    assert page.status_code == 400 and "not granted" in page.get_data(as_text=True)
    listed = client.get("/api/v1/external-calendars", headers=headers).get_json()
    assert [item["id"] for item in listed] == [connection["id"]]
    # A sync of a connection still waiting for its sign-in is refused clearly.
    response = client.post("/api/v1/external-calendars", json={"kind": "google"}, headers=headers)
    waiting = response.get_json()["id"]
    refused = client.post(f"/api/v1/external-calendars/{waiting}/sync", headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "not_ready"


def test_bookings_are_written_back_to_google(
    client: Any, database: Any, make_user: Any, google: GoogleStandIn
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    connection = oauth_connect(client, headers, "google", google)
    chosen = client.patch(
        f"/api/v1/external-calendars/{connection['id']}", json={"writeback": True}, headers=headers
    )
    assert chosen.status_code == 200 and chosen.get_json()["writeback"] is True
    sam = make_user(role="client", name="Sam")
    sam_headers = bearer(database, sam)
    day = next_weekday(3)
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "10:40"))},
        headers=sam_headers,
    )
    assert booked.status_code == 201, booked.get_json()
    booking = booked.get_json()
    pushed = wait_for(lambda: google.live_events())
    (event,) = pushed
    assert event["summary"] == "Therapy session with Sam"
    assert datetime.fromisoformat(event["start"]["dateTime"]) == at(day, "10:40")
    assert datetime.fromisoformat(event["end"]["dateTime"]) == at(day, "11:30")
    assert event["extendedProperties"]["private"]["consultBookingId"] == str(booking["id"])

    # The pushed event comes back in the next sync, but is not mirrored a second time.
    synced = sync_now(client, headers, connection["id"])
    assert synced["mirror"]["events"] == 0

    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start": iso(at(day, "14:00"))},
        headers=sam_headers,
    )
    assert moved.status_code == 200, moved.get_json()
    wait_for(lambda: google.events[event["id"]]["start"]["dateTime"] != event["start"]["dateTime"])
    assert datetime.fromisoformat(google.events[event["id"]]["start"]["dateTime"]) == at(
        day, "14:00"
    )
    assert len(google.live_events()) == 1  # updated in place, not a second event

    # Turning write-back off keeps following the bookings already written there.
    off = client.patch(
        f"/api/v1/external-calendars/{connection['id']}", json={"writeback": False}, headers=headers
    )
    assert off.get_json()["writeback"] is False
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", json={}, headers=sam_headers
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    wait_for(lambda: google.events[event["id"]]["status"] == "cancelled")
    assert google.live_events() == []
    assert "14:00" in slot_times(client, service["id"], day)
    assert get_connection(client, headers, connection["id"])["status"] == "ok"
