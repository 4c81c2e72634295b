"""Reminders with a controllable clock: planned at booking, sent when due (and not
before), moved with a rescheduled booking, dropped with a cancelled one, and
following each professional's offsets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from booking.models import Booking
from notifications import service
from notifications.delivery import Outcome
from notifications.errors import InvalidReminderOffsets
from notifications.models import OutboxMessage
from notifications.reminders import (
    REMINDER,
    format_offsets,
    parse_offsets,
    plan_reminders,
    reminder_offsets,
)
from notifications.rendering import format_short
from tests.factories import at, iso
from tests.notifications.conftest import notifier, parts, send_due


def book(client: Any, world: dict[str, Any], start: datetime) -> dict[str, Any]:
    response = client.post(
        "/api/v1/bookings",
        json={"service_id": world["service"]["id"], "start": iso(start)},
        headers=world["sam_headers"],
    )
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def reminders(database: Any, booking_id: int) -> list[tuple[str, datetime, int]]:
    """(status, due, recipient) of the booking's reminders, by due time."""
    with database.session() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.booking_id == booking_id, OutboxMessage.kind == REMINDER)
            .order_by(OutboxMessage.send_after, OutboxMessage.recipient_id)
        )
        return [(row.status, row.send_after, row.recipient_id) for row in rows]


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_reminders_are_sent_when_due_and_follow_moves_and_cancellation(
    platform: Any, client: Any, database: Any, settings: Any, world: dict[str, Any], inbox: Any
) -> None:
    pro, sam = world["pro"], world["sam"]
    start = at(world["day"], "09:00")
    booking = book(client, world, start)
    send_due(platform)  # the confirmations
    inbox.wait_for(2)
    inbox.clear()

    # Default offsets: 24 h and 1 h before, for the client and the professional.
    planned = reminders(database, booking["id"])
    assert {(status, due) for status, due, _ in planned} == {
        ("pending", start - timedelta(hours=24)),
        ("pending", start - timedelta(hours=1)),
    }
    assert sorted({recipient for *_, recipient in planned}) == sorted([pro.id, sam.id])

    # Nothing before its time; at 24 h before, exactly the 24 h reminders.
    assert send_due(platform, now=start - timedelta(hours=24, seconds=1))[Outcome.SENT] == 0
    assert send_due(platform, now=start - timedelta(hours=23))[Outcome.SENT] == 2
    inbox.wait_for(2)
    to_sam = inbox.to(sam.email)[0]
    assert to_sam["Subject"].startswith("Reminder: Therapy session, ")
    text = parts(to_sam)["text/plain"].get_content()
    assert f"Join the session: http://127.0.0.1:8000/bookings/{booking['id']}/session" in text
    assert booking["manage_url"] in text
    assert "/manage/" not in parts(inbox.to(pro.email)[0])["text/plain"].get_content()
    # The in-app twin shows only once due.
    with database.session() as session:
        early = service.list_notifications(session, sam.id, now=start - timedelta(hours=25))
        due = service.list_notifications(session, sam.id, now=start - timedelta(hours=23))
    assert [n.kind for n in early if n.kind == REMINDER] == []
    assert [n.kind for n in due if n.kind == REMINDER] == [REMINDER]

    # Moving the booking: the unsent 1 h reminders move with it (new time, new text).
    inbox.clear()
    new_start = start + timedelta(minutes=100)
    moved = client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule",
        json={"start": iso(new_start)},
        headers=world["sam_headers"],
    )
    assert moved.status_code == 200, moved.get_json()
    send_due(platform)  # the "moved" emails
    inbox.clear()
    after_move = reminders(database, booking["id"])
    assert sorted(d for s, d, _ in after_move if s == "pending") == sorted(
        [new_start - timedelta(hours=24)] * 2 + [new_start - timedelta(hours=1)] * 2
    )
    assert [s for s, d, _ in after_move if d == start - timedelta(hours=1)] == ["cancelled"] * 2
    assert send_due(platform, now=start - timedelta(minutes=59))[Outcome.SENT] == 2
    inbox.wait_for(2)
    # The 24 h reminders of the new time (due by then), not the old 1 h ones.
    assert inbox.to(sam.email)[0]["Subject"].endswith(
        format_short(new_start, ZoneInfo("America/New_York"), "en")
    )
    inbox.clear()

    # Cancelling drops what is left.
    cancelled = client.post(
        f"/api/v1/bookings/{booking['id']}/cancel", headers=world["sam_headers"]
    )
    assert cancelled.status_code == 200
    send_due(platform)
    inbox.clear()
    assert send_due(platform, now=new_start)[Outcome.SENT] == 0
    assert {
        s for s, d, _ in reminders(database, booking["id"]) if d == new_start - timedelta(hours=1)
    } == {"cancelled"}
    with database.session() as session:
        visible = service.list_notifications(session, sam.id, now=new_start)
    assert [
        n for n in visible if n.kind == REMINDER and n.visible_from > start - timedelta(hours=2)
    ] == []


def test_offsets_already_past_are_skipped_and_moving_back_revives(
    platform: Any, client: Any, database: Any, settings: Any, world: dict[str, Any]
) -> None:
    start = at(world["day"], "09:00")
    booking = book(client, world, start)
    send_due(platform)  # the booking's change becomes its messages
    with database.session() as session:
        row = session.get(Booking, booking["id"])
        assert row is not None
        # Planned 3 h before the start: only the 1 h reminders are still ahead.
        plan_reminders(notifier(platform), session, row, now=start - timedelta(hours=3))
    assert {(s, d) for s, d, _ in reminders(database, booking["id"])} == {
        ("cancelled", start - timedelta(hours=24)),
        ("pending", start - timedelta(hours=1)),
    }
    with database.session() as session:
        row = session.get(Booking, booking["id"])
        assert row is not None
        plan_reminders(notifier(platform), session, row, now=start - timedelta(days=3))
    # Cancelled (never sent) reminders come back rather than colliding with their key.
    assert {s for s, _, _ in reminders(database, booking["id"])} == {"pending"}
    assert len(reminders(database, booking["id"])) == 4


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("24h, 1h", (1440, 60)),
        ("1h,24h,1h", (1440, 60)),
        ("2d, 90m, 30", (2880, 90, 30)),
        ("  ", ()),
        ("14d", (20160,)),
    ],
)
def test_parse_offsets(text: str, minutes: tuple[int, ...]) -> None:
    assert parse_offsets(text) == minutes
    assert parse_offsets(format_offsets(minutes)) == minutes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tomorrow", "not a time"),
        ("1w", "not a time"),
        ("-1h", "not a time"),
        ("2m", "out of range"),
        ("15d", "out of range"),
        ("1h,2h,3h,4h,5h,6h", "at most 5"),
        ("9" * 30, "not a time"),
    ],
)
def test_bad_offsets_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(InvalidReminderOffsets) as error:
        parse_offsets(text)
    assert message in error.value.message


def test_a_professionals_offsets_replan_upcoming_bookings(
    platform: Any, client: Any, database: Any, settings: Any, world: dict[str, Any]
) -> None:
    start = at(world["day"], "09:00")
    booking = book(client, world, start)
    response = client.put(
        "/api/v1/notifications/reminders",
        json={"offsets": ["2d", "30m"]},
        headers=world["pro_headers"],
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"offsets": "2d, 30m", "offsets_minutes": [2880, 30]}
    pending = {(d, r) for s, d, r in reminders(database, booking["id"]) if s == "pending"}
    assert {d for d, _ in pending} == {start - timedelta(days=2), start - timedelta(minutes=30)}
    assert len(pending) == 4
    with database.session() as session:
        assert reminder_offsets(session, world["pro"].id, notifier(platform).default_offsets) == (
            2880,
            30,
        )
    # No reminders at all is a choice too.
    assert (
        client.put(
            "/api/v1/notifications/reminders", json={"offsets": ""}, headers=world["pro_headers"]
        ).get_json()["offsets_minutes"]
        == []
    )
    assert {s for s, _, _ in reminders(database, booking["id"])} == {"cancelled"}
    assert client.get(
        "/api/v1/notifications/reminders", headers=world["pro_headers"]
    ).get_json() == {
        "offsets": "",
        "offsets_minutes": [],
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [({"offsets": "soon"}, "offsets"), ({"offsets": 5}, "offsets"), ({}, "offsets")],
)
def test_bad_reminder_settings_over_the_api_are_422(
    client: Any, world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = client.put(
        "/api/v1/notifications/reminders", json=body, headers=world["pro_headers"]
    )
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_clients_have_no_reminder_settings(client: Any, world: dict[str, Any]) -> None:
    response = client.get("/api/v1/notifications/reminders", headers=world["sam_headers"])
    assert response.status_code == 403


def test_reminder_settings_need_a_json_body(client: Any, world: dict[str, Any]) -> None:
    response = client.put(
        "/api/v1/notifications/reminders", data="24h", headers=world["pro_headers"]
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
