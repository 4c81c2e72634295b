"""Real WebRTC through the real signalling server: two aiortc participants join a
booking's room over HTTP and WebSocket on a live app, connect browser-style
(offer/answer through the server) and exchange video frames. Refusals: a token
for another booking, an expired token, a join outside the window."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from simple_websocket import AioClient, ConnectionClosed

from consult.db import utcnow
from tests.video.conftest import join_token, ws_url
from video.client import RoomClient
from video.config import VideoConfig
from video.tokens import issue_join_token


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    # A quick heartbeat, so a silent connection is dropped within seconds.
    return {"video": {"heartbeat_seconds": "1"}}


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


def test_heartbeat_ice_restart_requests_and_a_second_window(
    live_server: Any, make_room: Any
) -> None:
    room = make_room()
    url = ws_url(live_server.url, room.booking_id)

    async def connect(role: str, peer_id: str) -> Any:
        ws = await AioClient.connect(url)
        token = join_token(live_server.url, room, role)["token"]
        await ws.send(json.dumps({"type": "join", "token": token, "peer_id": peer_id}))
        return ws

    async def until(ws: Any, kind: str) -> dict[str, Any]:
        while True:
            raw = await ws.receive(timeout=30)
            assert raw is not None, f"no {kind}"
            message = json.loads(raw)
            if message["type"] == kind:
                return dict(message)

    async def keep_beating(ws: Any) -> None:
        while True:
            await ws.send(json.dumps({"type": "ping"}))
            await asyncio.sleep(0.5)

    async def scenario() -> None:
        pro = await connect("professional", "pro-page-0001")
        sam = await connect("client", "sam-page-0001")
        try:
            assert (await until(pro, "remote"))["id"] == "sam-page-0001"
            assert (await until(sam, "remote"))["offerer"] is False
            await sam.send(json.dumps({"type": "ping"}))
            await until(sam, "pong")
            # After a network change the client's media failed: the professional's page,
            # which makes the offers, is asked for an ICE restart.
            await sam.send(json.dumps({"type": "connection-failed", "connected_before": True}))
            await until(pro, "restart-ice")
            await sam.send(json.dumps({"type": "nonsense"}))
            assert (await until(sam, "error"))["code"] == "bad_message"

            # The client opens the room in a second window: the first one is told.
            sam2 = await connect("client", "sam-page-0002")
            try:
                replaced = await until(sam, "replaced")
                assert "another window" in replaced["message"]
                assert (await until(pro, "remote"))["id"] == "sam-page-0002"
                # A connection that stops sending heartbeats is dropped (3 x 1 s here),
                # and the professional (who keeps beating) learns the client is gone.
                beating = asyncio.ensure_future(keep_beating(pro))
                gone = await until(pro, "presence")
                while gone["present"]:
                    gone = await until(pro, "presence")
                assert gone["present"] is False
                beating.cancel()
            finally:
                await closed(sam2)
        finally:
            await closed(pro)
            await closed(sam)

    asyncio.run(scenario())


async def closed(ws: Any) -> None:
    """Close ``ws`` unless the server already did."""
    try:
        await ws.close()
    except ConnectionClosed:
        pass
