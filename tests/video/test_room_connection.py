"""The room protocol without a network: :class:`RoomConnection` driven directly,
with our own clock, to check the heartbeat's re-checks (the room closes after the
end; a cancelled booking ends the call) and that bad frames are answered, not
fatal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from booking.models import Booking
from consult.db import Database, utcnow
from video.bus import InProcessBus
from video.config import VideoConfig
from video.signalling import RoomConnection
from video.tokens import issue_join_token


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
