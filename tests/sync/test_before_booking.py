"""The sync right before a booking: a slot taken upstream since the last sync is
refused; a fresh mirror costs no request; a slow calendar delays a booking by at
most the configured bound."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.factories import at, bearer, iso, next_weekday, setup_professional
from tests.sync.helpers import (
    connect,
    get_connection,
    slot_times,
    vcalendar,
    vevent,
    wait_synced,
)
from tests.sync.servers.ics import IcsServer


def book(client: Any, headers: dict[str, str], service_id: int, start: Any) -> Any:
    return client.post(
        "/api/v1/bookings", json={"service_id": service_id, "start": iso(start)}, headers=headers
    )


# Both databases: on SQLite the booking's session holds the database's write lock from
# its first read, so the hook must commit before it fetches (else it would wait on itself).
@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
@pytest.mark.parametrize("sync_overrides", [{"max_age_before_booking_seconds": "0"}], indirect=True)
def test_a_slot_that_became_busy_upstream_is_refused_after_the_pre_booking_sync(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(2)
    morning = vevent("morning", at(day, "09:00"), at(day, "09:30"))
    ics.publish("feed", vcalendar(morning))
    feed = connect(client, headers, kind="ics", url=ics.url("feed"))
    assert "14:00" in slot_times(client, service["id"], day)

    # The professional adds an appointment in their own calendar; no sync has run yet,
    # so the booking page still offers the slot.
    ics.publish("feed", vcalendar(morning, vevent("new", at(day, "14:00"), at(day, "15:00"))))
    assert "14:00" in slot_times(client, service["id"], day)

    sam = bearer(database, make_user(role="client"))
    refused = book(client, sam, service["id"], at(day, "14:00"))
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "slot_unavailable"
    assert ics.count("feed", 200) == 2  # the pre-booking sync fetched the new version
    assert "14:00" not in slot_times(client, service["id"], day)
    assert get_connection(client, headers, feed["id"])["mirror"]["events"] == 2

    # A free slot is booked as usual (after another, unchanged, pre-booking sync).
    accepted = book(client, sam, service["id"], at(day, "10:40"))
    assert accepted.status_code == 201, accepted.get_json()
    assert ics.count("feed", 304) == 1


def test_a_fresh_mirror_is_not_synced_again_before_a_booking(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    ics.publish("feed", vcalendar())
    connect(client, headers, kind="ics", url=ics.url("feed"))
    sam = bearer(database, make_user(role="client"))
    accepted = book(client, sam, service["id"], at(next_weekday(1), "09:00"))
    assert accepted.status_code == 201, accepted.get_json()
    assert sum(count for (name, _), count in ics.requests.items() if name == "feed") == 1


@pytest.mark.parametrize(
    "sync_overrides",
    [{"max_age_before_booking_seconds": "0", "pre_booking_timeout_seconds": "1"}],
    indirect=True,
)
def test_a_slow_calendar_delays_a_booking_by_at_most_the_bound(
    client: Any, database: Any, make_user: Any, ics: IcsServer
) -> None:
    """The booking waits one second at most; the sync finishes in the background."""
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    ics.publish("feed", vcalendar())
    feed = connect(client, headers, kind="ics", url=ics.url("feed"))
    ics.publish("feed", vcalendar(vevent("late", at(day, "14:00"), at(day, "15:00"))), delay=3)
    sam = bearer(database, make_user(role="client"))
    started = time.monotonic()
    accepted = book(client, sam, service["id"], at(day, "09:00"))
    elapsed = time.monotonic() - started
    assert accepted.status_code == 201, accepted.get_json()
    assert elapsed < 2.5, elapsed
    synced = wait_synced(client, headers, feed["id"], feed["last_attempt_at"])
    assert synced["status"] == "ok" and synced["mirror"]["events"] == 1
    assert "14:00" not in slot_times(client, service["id"], day)
