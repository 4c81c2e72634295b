"""The relay fallback: direct ICE is forced to fail (only relay candidates are
allowed and there is no TURN server), so the signalling server moves the room to
the platform's relay, a separate ``consult video`` process, and frames still
arrive, scaled down to the relay's cap. Also: the relay's session cap and its
control API's authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.helpers import TEST_SECRET_KEY, free_port
from tests.video.conftest import join_token, ws_url
from tests.video.relay_process import relay_process
from video.client import RoomClient
from video.config import VideoConfig


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("relay")
    port = free_port()
    with relay_process(
        data,
        TEST_SECRET_KEY,
        port,
        relay_max_width="320",
        relay_max_height="180",
        relay_max_fps="10",
        relay_max_sessions="1",
    ):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def settings_overrides(relay: str) -> dict[str, dict[str, Any]]:
    return {
        "video": {
            "relay_url": relay,
            "ice_transport_policy": "relay",
            "direct_timeout_seconds": "3",
            "relay_max_width": "320",
            "relay_max_height": "180",
            "relay_max_fps": "10",
        }
    }


def relay_status(live_server: Any) -> dict[str, Any]:
    config = VideoConfig.from_settings(live_server.settings)
    response = requests.get(
        f"{config.relay_url}/status",
        headers={"Authorization": f"Bearer {config.relay_api_key}"},
        timeout=30,
    )
    assert response.status_code == 200
    return dict(response.json())


def test_frames_flow_through_the_relay_when_no_direct_path_exists(
    live_server: Any, make_room: Any
) -> None:
    room = make_room()
    busy = make_room()
    url = ws_url(live_server.url, room.booking_id)

    async def scenario() -> None:
        pro = RoomClient(
            url, join_token(live_server.url, room, "professional")["token"], width=640, height=480
        )
        sam = RoomClient(
            url, join_token(live_server.url, room, "client")["token"], width=640, height=480
        )
        try:
            await pro.join()
            await sam.join()
            # First the direct attempt (relay-only policy, no TURN: it cannot work)...
            first = await sam.wait_for("remote")
            assert first["ice"]["iceTransportPolicy"] == "relay"
            # ...then the platform relay, announced only as a quality hint.
            relayed = await sam.wait_for("remote", offerer=True, timeout=60)
            assert relayed["quality"] == {
                "level": "reduced",
                "max_width": 320,
                "max_height": 180,
                "max_fps": 10,
            }
            assert await sam.wait_frames(15, timeout=90) >= 15
            assert await pro.wait_frames(15, timeout=90) >= 15
            # Sent at 640x480, forwarded within 320x180 with the aspect ratio kept.
            assert sam.received.sizes == {(240, 180)}

            status = relay_status(live_server)
            assert status["sessions"] == 1 and status["peers"] == 2
            assert status["frames_out"]["video"] >= 30
            assert status["cpu_seconds"] > 0

            # The relay is at its cap of one session: another room is refused with a notice.
            other_url = ws_url(live_server.url, busy.booking_id)
            ken = RoomClient(other_url, join_token(live_server.url, busy, "professional")["token"])
            lee = RoomClient(other_url, join_token(live_server.url, busy, "client")["token"])
            try:
                await ken.join()
                await lee.join()
                notice = await lee.wait_for("notice", timeout=60)
                assert notice["message"] == "The media relay is busy right now."
            finally:
                await ken.close()
                await lee.close()
        finally:
            await pro.close()
            await sam.close()

    asyncio.run(scenario())


def test_the_relay_api_wants_its_key_and_sane_requests(relay: str, settings: Any) -> None:
    response = requests.get(
        f"{relay}/status", headers={"Authorization": "Bearer guess"}, timeout=30
    )
    assert response.status_code == 401
    response = requests.post(
        f"{relay}/rooms/1/client/offer", json={"session": "s", "sdp": "v=0"}, timeout=30
    )
    assert response.status_code == 401

    key = VideoConfig.from_settings(settings).relay_api_key
    headers = {"Authorization": f"Bearer {key}"}
    response = requests.post(
        f"{relay}/rooms/1/client/offer",
        json={"session": "s", "sdp": "hello"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_sdp"
    response = requests.post(
        f"{relay}/rooms/1/client/offer",
        json={"session": "s", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nnonsense\r\n"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_sdp"
    response = requests.post(
        f"{relay}/rooms/1/guest/offer",
        json={"session": "s", "sdp": "v=0"},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 404
    response = requests.post(f"{relay}/rooms/1/client/close", data="{", headers=headers, timeout=30)
    assert response.status_code == 400
    response = requests.post(
        f"{relay}/rooms/1/client/candidate",
        json={
            "session": "s",
            "candidate": {"candidate": "candidate:1 1 udp 1 192.0.2.9 9 typ host"},
        },
        headers=headers,
        timeout=30,
    )
    assert response.json() == {"accepted": False}  # no such peer
    # Nothing was left behind by the bad offers.
    assert requests.get(f"{relay}/status", headers=headers, timeout=30).json()["sessions"] == 0
