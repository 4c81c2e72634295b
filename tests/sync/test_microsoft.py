"""Outlook / Microsoft 365: OAuth 2.0 and Microsoft Graph's calendarView delta, against
a local stand-in (``servers/graph.py``) speaking Graph's documented wire format,
because the real service cannot be reached from the test machines. The platform
uses its production client code (authlib's OAuth2 session over requests)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from consult.db import utcnow
from sync.models import ExternalCalendarPush
from sync.tasks import dispatch_due_job
from tests.factories import at, bearer, iso, next_weekday, setup_professional
from tests.sync.helpers import slot_times, sync_now, wait_for
from tests.sync.servers.graph import GraphStandIn
from tests.sync.test_google import oauth_connect


def graph_time(moment: Any, zone: str) -> dict[str, str]:
    """A Graph time object: wall time in ``zone`` (Windows or "UTC") with 7 decimals."""
    iana = {"UTC": "UTC", "W. Europe Standard Time": "Europe/Berlin"}.get(zone, zone)
    local = moment.astimezone(ZoneInfo(iana))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}


def test_outlook_calendar_is_mirrored_through_delta_queries(
    client: Any, database: Any, make_user: Any, graph: GraphStandIn
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    graph.put_event(
        "utc",
        start=graph_time(at(day, "09:00"), "UTC"),
        end=graph_time(at(day, "10:00"), "UTC"),
        subject="Board meeting",
    )
    graph.put_event(
        "windows",
        start=graph_time(at(day, "12:20"), "W. Europe Standard Time"),
        end=graph_time(at(day, "13:00"), "W. Europe Standard Time"),
    )
    graph.put_event(
        "free",
        showAs="free",
        start=graph_time(at(day, "14:00"), "UTC"),
        end=graph_time(at(day, "15:00"), "UTC"),
    )
    graph.put_event(
        "cancelled",
        isCancelled=True,
        start=graph_time(at(day, "15:40"), "UTC"),
        end=graph_time(at(day, "16:30"), "UTC"),
    )
    graph.put_event(
        "unknown-zone",
        start={"dateTime": f"{day}T11:30:00.0000000", "timeZone": "Customized Time Zone"},
        end={"dateTime": f"{day}T12:00:00.0000000", "timeZone": "Customized Time Zone"},
    )
    graph.max_page = 2
    connection = oauth_connect(client, headers, "microsoft", graph)
    assert connection["name"] == "Outlook — Calendar"
    assert sum("skiptoken" in call for call in graph.delta_calls) == 2  # three pages
    assert connection["status"] == "warning"
    assert "Customized Time Zone" in connection["warning"]
    assert connection["mirror"]["events"] == 5
    # Busy: 9-10 (sent in UTC), 12:20-13:00 (a Windows zone name), 11:30-12:00 in a zone
    # Graph did not name (read in the professional's zone); free and cancelled block nothing.
    assert slot_times(client, service["id"], day) == ["10:40", "13:10", "14:00", "14:50", "15:40"]

    # Paged initial listing (Prefer: odata.maxpagesize) ends in a delta link; the next
    # sync follows it and gets only the changes, deletions as @removed.
    initial_calls = len(graph.delta_calls)
    graph.remove_event("windows")
    graph.put_event(
        "utc",
        start=graph_time(at(day, "16:00"), "UTC"),
        end=graph_time(at(day, "17:00"), "UTC"),
    )
    synced = sync_now(client, headers, connection["id"])
    assert "deltatoken" in graph.delta_calls[initial_calls]
    assert synced["mirror"]["events"] == 4
    assert slot_times(client, service["id"], day) == [
        "09:00",
        "09:50",
        "10:40",
        "12:20",
        "13:10",
        "14:00",
        "14:50",
    ]

    # Microsoft rotates refresh tokens: two refreshes in a row only work if the rotated
    # token was stored after the first.
    for _ in range(2):
        graph.oauth.expire_access_tokens()
        assert sync_now(client, headers, connection["id"])["status"] == "warning"
    assert graph.oauth.token_requests["refresh_token"] == 2

    # Graph forgets the delta token (410): a new full delta query follows at once.
    graph.forget_delta_tokens()
    calls = len(graph.delta_calls)
    full = sync_now(client, headers, connection["id"])
    assert full["mirror"]["events"] == 4
    assert "deltatoken" in graph.delta_calls[calls]
    assert "deltatoken" not in graph.delta_calls[calls + 1]


def test_bookings_are_written_back_to_outlook(
    platform: Any, client: Any, database: Any, make_user: Any, graph: GraphStandIn
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    connection = oauth_connect(client, headers, "microsoft", graph)
    client.patch(
        f"/api/v1/external-calendars/{connection['id']}", json={"writeback": True}, headers=headers
    )
    sam_headers = bearer(database, make_user(role="client", name="Sam"))
    day = next_weekday(2)
    graph.fail_creates = 1  # Outlook is briefly down when the booking is made
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(at(day, "09:50"))},
        headers=sam_headers,
    ).get_json()

    def failed_once() -> ExternalCalendarPush | None:
        with database.session() as session:
            return session.scalar(
                select(ExternalCalendarPush).where(ExternalCalendarPush.attempts == 1)
            )

    push = wait_for(failed_once)
    assert "HTTP 503" in push.last_error and push.pending == "upsert"
    with database.session() as session:
        row = session.get(ExternalCalendarPush, push.id)
        assert row is not None
        row.next_attempt_at = utcnow()  # the backoff is over: the dispatcher retries
    assert dispatch_due_job(platform) == 1
    (event_id,) = wait_for(lambda: list(graph.events))
    event = graph.events[event_id]
    assert event["subject"] == "Therapy session with Sam"
    assert event["start"] == {
        "dateTime": at(day, "09:50").astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S"),
        "timeZone": "UTC",
    }
    assert event["transactionId"]

    synced = sync_now(client, headers, connection["id"])
    assert synced["mirror"]["events"] == 0  # our own event is not mirrored back

    client.post(
        f"/api/v1/bookings/{booked['id']}/reschedule",
        json={"start": iso(at(day, "13:10"))},
        headers=sam_headers,
    )
    wait_for(lambda: graph.events[event_id]["start"] != event["start"])
    assert list(graph.events) == [event_id]
    client.post(f"/api/v1/bookings/{booked['id']}/cancel", json={}, headers=sam_headers)
    wait_for(lambda: event_id not in graph.events)
