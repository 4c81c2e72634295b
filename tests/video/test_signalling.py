"""Real WebRTC through the real signalling server: two aiortc participants join a
booking's room over HTTP and WebSocket on a live app, connect browser-style
(offer/answer through the server) and exchange video frames. Refusals: a token
for another booking, an expired token, a join outside the window."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import requests
from simple_websocket import AioClient

from consult.db import utcnow
from tests.video.conftest import join_token
from video.client import RoomClient
from video.config import VideoConfig
from video.tokens import issue_join_token


def ws_url(base_url: str, booking_id: int) -> str:
    return base_url.replace("http://", "ws://") + f"/ws/rooms/{booking_id}"


async def first_answer(url: str, join: dict[str, Any]) -> dict[str, Any]:
    ws = await AioClient.connect(url)
    try:
        await ws.send(json.dumps(join))
        raw = await ws.receive(timeout=30)
        return dict(json.loads(raw))
    finally:
        await ws.close()


def test_two_participants_exchange_video_and_chat_through_the_room(
    live_server: Any, make_room: Any
) -> None:
    room = make_room()
    url = ws_url(live_server.url, room.booking_id)
    pro_token = join_token(live_server.url, room, "professional")["token"]
    client_token = join_token(live_server.url, room, "client")["token"]

    async def scenario() -> None:
        pro = RoomClient(url, pro_token)
        sam = RoomClient(url, client_token)
        try:
            welcome = await pro.join()
            assert welcome["type"] == "welcome" and welcome["role"] == "professional"
            assert welcome["other"] == {"name": "Sam Client", "role": "client"}
            assert (await sam.join())["type"] == "welcome"
            await pro.wait_for("presence", present=True)
            remote = await sam.wait_for("remote")
            assert remote["id"] == pro.peer_id and remote["offerer"] is False
            assert remote["quality"] == {"level": "full"}
            # Both receive the other's video: count the frames.
            assert await pro.wait_frames(20) >= 20
            assert await sam.wait_frames(20) >= 20
            assert (320, 240) in sam.received.sizes

            # Chat arrives live on the other side and is stored in the thread.
            await sam.send(
                {"type": "chat", "text": "Hello <b>there</b> https://example.org/x", "nonce": "n1"}
            )
            chat = await pro.wait_for("chat")
            assert chat["message"]["body"] == "Hello <b>there</b> https://example.org/x"
            assert "&lt;b&gt;" in chat["message"]["html"]
            assert 'rel="noopener noreferrer nofollow"' in chat["message"]["html"]
            await sam.wait_for("chat", nonce="n1")  # the sender sees its own message confirmed
            await pro.send({"type": "read", "up_to": chat["message"]["id"]})
            await sam.send({"type": "chat", "text": "   ", "nonce": "n2"})
            error = await sam.wait_for("chat-error", nonce="n2")
            assert "Write a message" in error["message"]

            # The client reloads the page: a new connection with a new peer id. The
            # professional's side starts a fresh connection with no action from them.
            frames_before = pro.received.frames
            await sam.close()
            await pro.wait_for("presence", present=False)
            sam2 = RoomClient(url, join_token(live_server.url, room, "client")["token"])
            try:
                assert (await sam2.join())["type"] == "welcome"
                assert await sam2.wait_frames(10) >= 10
                assert await pro.wait_frames(frames_before + 10) >= frames_before + 10
            finally:
                await sam2.close()
        finally:
            await pro.close()
            await sam.close()

    asyncio.run(scenario())

    messages = requests.get(
        f"{live_server.url}/api/v1/bookings/{room.booking_id}/messages",
        headers=room.pro_headers,
        timeout=30,
    ).json()
    assert [m["body"] for m in messages["messages"]] == ["Hello <b>there</b> https://example.org/x"]
    assert messages["unread"] == 0  # the professional's page said it was read


def test_refused_joins_get_nothing(live_server: Any, make_room: Any) -> None:
    room = make_room()
    other = make_room()
    later = make_room(starts_in=timedelta(days=3))
    config = VideoConfig.from_settings(live_server.settings)
    now = utcnow()

    def token(booking_id: int, user_id: int, role: str, at: Any = now) -> str:
        return issue_join_token(config, booking_id=booking_id, user_id=user_id, role=role, now=at)

    async def answers() -> list[dict[str, Any]]:
        url = ws_url(live_server.url, room.booking_id)
        return [
            # A valid token, but for another booking's room.
            await first_answer(
                url,
                {
                    "type": "join",
                    "peer_id": "peer-aaaa-1",
                    "token": token(other.booking_id, other.client.id, "client"),
                },
            ),
            # This room, but expired.
            await first_answer(
                url,
                {
                    "type": "join",
                    "peer_id": "peer-aaaa-2",
                    "token": token(
                        room.booking_id, room.client.id, "client", now - timedelta(minutes=10)
                    ),
                },
            ),
            # No token, a forged one, and no join at all.
            await first_answer(url, {"type": "join", "peer_id": "peer-aaaa-3"}),
            await first_answer(
                url,
                {
                    "type": "join",
                    "peer_id": "peer-aaaa-4",
                    "token": token(room.booking_id, room.client.id, "client") + "x",
                },
            ),
            await first_answer(url, {"type": "signal", "to": "x", "data": {}}),
            # A token minted for someone who is not in the booking.
            await first_answer(
                url,
                {
                    "type": "join",
                    "peer_id": "peer-aaaa-5",
                    "token": token(room.booking_id, other.client.id, "client"),
                },
            ),
            # A booking days ahead: the room is not open yet.
            await first_answer(
                ws_url(live_server.url, later.booking_id),
                {
                    "type": "join",
                    "peer_id": "peer-aaaa-6",
                    "token": token(later.booking_id, later.client.id, "client"),
                },
            ),
        ]

    results = asyncio.run(answers())
    codes = [answer.get("code") for answer in results]
    assert all(answer["type"] == "error" for answer in results), results
    assert codes == [
        "invalid_token",
        "invalid_token",
        "invalid_token",
        "invalid_token",
        "not_joined",
        "not_found",
        "not_open",
    ]
    assert "another room" in results[0]["message"]
    assert "expired" in results[1]["message"]
    assert results[6]["opens_at"].startswith(str((utcnow() + timedelta(days=3)).date()))

    # The app will not even issue a token outside the window or to a stranger.
    response = requests.post(
        f"{live_server.url}/api/v1/bookings/{later.booking_id}/video/join",
        headers=later.client_headers,
        timeout=30,
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_open"
    assert "opens_at" in response.json()["error"]
    response = requests.post(
        f"{live_server.url}/api/v1/bookings/{room.booking_id}/video/join",
        headers=other.client_headers,
        timeout=30,
    )
    assert response.status_code == 404
