"""Two app processes behind a load balancer: with ``[redis] url`` set, the client
connected to one app server and the professional connected to another still find
each other through Redis pub/sub, exchange video, and chat live. Presence for the
email batching is shared through Redis too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import LiveServer, make_settings, start_live_server
from tests.video.conftest import join_token, ws_url
from video.bus import RedisBus
from video.client import RoomClient
from video.services import VIDEO
from video.signalling import presence_key


@pytest.fixture
def two_servers(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[list[LiveServer]]:
    servers = [
        start_live_server(
            lambda url, n=n: make_settings(
                tmp_path / f"app{n}", database_url, base_url=url, redis={"url": redis_url}
            )
        )
        for n in (1, 2)
    ]
    yield servers
    for server in servers:
        server.stop()


def test_participants_on_different_app_servers_meet_through_redis(
    two_servers: list[LiveServer], make_room: Any, redis_url: str
) -> None:
    first, second = two_servers
    assert first.platform.find(VIDEO).bus.backend == "redis"
    room = make_room()

    async def scenario() -> None:
        pro = RoomClient(
            ws_url(first.url, room.booking_id), join_token(first.url, room, "professional")["token"]
        )
        sam = RoomClient(
            ws_url(second.url, room.booking_id), join_token(second.url, room, "client")["token"]
        )
        try:
            await pro.join()
            await sam.join()
            assert await sam.wait_frames(10) >= 10
            assert await pro.wait_frames(10) >= 10
            await pro.send({"type": "chat", "text": "Can you hear me?", "nonce": "a"})
            chat = await sam.wait_for("chat")
            assert chat["message"]["body"] == "Can you hear me?"
            # Either server can tell that the client is in the room.
            probe = RedisBus(redis_url)
            try:
                assert probe.is_present(presence_key(room.booking_id, room.client.id))
            finally:
                probe.close()
        finally:
            await sam.close()
            await pro.close()

    asyncio.run(scenario())
    # Leaving clears the presence mark (not just its expiry).
    probe = RedisBus(redis_url)
    try:
        deadline = time.monotonic() + 10
        while probe.is_present(presence_key(room.booking_id, room.client.id)):
            assert time.monotonic() < deadline, "presence was not cleared"
            time.sleep(0.1)
    finally:
        probe.close()
