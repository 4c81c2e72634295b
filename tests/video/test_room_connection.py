"""The room protocol without a network: :class:`RoomConnection` driven directly,
with our own clock, to check the heartbeat's re-checks (the room closes after the
end; a cancelled booking ends the call) and that bad frames are answered, not
fatal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from booking.models import Booking
from consult.db import Database, utcnow
from runtime.maintenance import run_maintenance
from video.bus import InProcessBus
from video.config import VideoConfig
from video.models import UsedJoinToken
from video.signalling import RoomConnection
from video.tokens import issue_join_token, read_join_token


class Browser:
    """Collects what the server sends; knows whether it was closed."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def kinds(self) -> list[str]:
        return [message["type"] for message in self.sent]


def connect(
    config: VideoConfig, database: Database, bus: InProcessBus, room: Any, clock: list[datetime]
) -> tuple[RoomConnection, Browser]:
    browser = Browser()
    connection = RoomConnection(
        booking_id=room.booking_id,
        config=config,
        database=database,
        bus=bus,
        relay=None,
        send=browser.sent.append,
        close=lambda: setattr(browser, "closed", True),
        clock=lambda: clock[0],
    )
    token = issue_join_token(
        config, booking_id=room.booking_id, user_id=room.client.id, role="client", now=clock[0]
    )
    connection.handle(f'{{"type": "join", "token": "{token}", "peer_id": "page-0000-0001"}}')
    return connection, browser


def test_heartbeats_close_the_room_after_its_end_and_on_cancellation(
    settings: Any, database: Database, make_room: Any
) -> None:
    config = VideoConfig.from_settings(settings)
    bus = InProcessBus()
    room = make_room()
    clock = [utcnow()]
    connection, browser = connect(config, database, bus, room, clock)
    assert browser.kinds() == ["welcome", "presence"]

    connection.handle('{"type": "ping"}')
    assert browser.sent[-1] == {"type": "pong"}
    for bad in ["not json", "[1, 2]", '{"type": "signal"}', "x" * 70000]:
        connection.handle(bad)
        assert browser.sent[-1]["type"] == "error" and connection.open

    # 50 minutes of session and 30 of grace later, the next heartbeat ends it.
    clock[0] += timedelta(minutes=2 + 50 + 30, seconds=1)
    connection.handle('{"type": "ping"}')
    assert browser.sent[-1] == {"type": "room-closed", "message": "The room has closed. Thank you!"}
    assert browser.closed and not connection.open
    connection.finish()

    # A cancellation during the call ends it at the next heartbeat.
    other = make_room()
    clock = [utcnow()]
    connection, browser = connect(config, database, bus, other, clock)
    with database.session() as session:
        booking = session.get(Booking, other.booking_id)
        assert booking is not None
        booking.status = "cancelled"
    connection.handle('{"type": "ping"}')
    assert browser.sent[-1]["type"] == "room-closed"
    assert "cancelled" in browser.sent[-1]["message"]
    connection.finish()


def test_a_join_token_admits_once_and_maintenance_forgets_it_after_expiry(
    settings: Any, platform: Any, database: Database, make_room: Any
) -> None:
    config = VideoConfig.from_settings(settings)
    bus = InProcessBus()
    room = make_room()
    now = utcnow()
    token = issue_join_token(
        config, booking_id=room.booking_id, user_id=room.client.id, role="client", now=now
    )

    def join(with_token: str) -> tuple[RoomConnection, Browser]:
        browser = Browser()
        connection = RoomConnection(
            booking_id=room.booking_id,
            config=config,
            database=database,
            bus=bus,
            relay=None,
            send=browser.sent.append,
            close=lambda: setattr(browser, "closed", True),
            clock=lambda: now,
        )
        connection.handle(json.dumps({"type": "join", "token": with_token, "peer_id": "page-1234"}))
        return connection, browser

    first, browser = join(token)
    assert browser.kinds()[0] == "welcome"
    first.finish()

    # The same token again (a copied link, a replay): refused with a reason, closed.
    replay, browser = join(token)
    assert browser.sent == [
        {
            "type": "error",
            "code": "token_used",
            "message": "This join link was already used. Reload the page to get a fresh one.",
        }
    ]
    assert browser.closed and replay.me is None

    # A fresh token (what the page fetches on every reconnect) still works.
    fresh = issue_join_token(
        config, booking_id=room.booking_id, user_id=room.client.id, role="client", now=now
    )
    again, browser = join(fresh)
    assert browser.kinds()[0] == "welcome"
    again.finish()

    jtis = [
        read_join_token(config, t, booking_id=room.booking_id, now=now).jti for t in (token, fresh)
    ]
    used = select(func.count()).where(UsedJoinToken.jti.in_(jtis))
    with database.session() as session:
        assert session.scalar(used) == 2
    # Expired tokens are refused anyway, so maintenance forgets them.
    later = now + config.join_token_ttl + timedelta(seconds=1)
    assert run_maintenance(platform, now=later)["used join tokens purged"] >= 2
    with database.session() as session:
        assert session.scalar(used) == 0
