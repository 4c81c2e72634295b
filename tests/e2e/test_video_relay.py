"""The relay fallback in the real browser: direct ICE cannot work (only relay
candidates are allowed and no TURN server exists), so after the direct attempt
times out both Chromium pages are moved to the platform's relay (`consult video`,
a separate process) and video frames arrive through it. The page shows only a
quality hint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.e2e.test_video_session import (  # noqa: F401  (browser fixture)
    browser,
    join_with_camera,
    signed_in,
    wait_for_frames,
)
from tests.helpers import TEST_SECRET_KEY, free_port
from tests.video.conftest import make_room  # noqa: F401  (fixture)
from tests.video.relay_process import relay_process
from video.config import VideoConfig

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def relay_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    with relay_process(tmp_path_factory.mktemp("relay"), TEST_SECRET_KEY, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def settings_overrides(relay_url: str) -> dict[str, dict[str, Any]]:
    return {
        "video": {
            "relay_url": relay_url,
            "ice_transport_policy": "relay",
            "direct_timeout_seconds": "4",
        }
    }


def test_browsers_fall_back_to_the_relay_and_still_see_each_other(
    live_server: Any,
    make_room: Any,  # noqa: F811  (the fixture imported above)
    browser: Browser,  # noqa: F811
) -> None:
    room = make_room()
    pro_context, pro = signed_in(browser, live_server.url, room.pro)
    client_context, sam = signed_in(browser, live_server.url, room.client)
    try:
        join_with_camera(pro, room.booking_id)
        join_with_camera(sam, room.booking_id)
        assert wait_for_frames(sam, timeout=90) > 0
        assert wait_for_frames(pro, timeout=90) > 0
        for page in (pro, sam):
            expect(page.locator("#quality-hint")).to_have_text(
                "Limited connection: reduced video quality"
            )
            assert page.evaluate("window.consultRoom.remoteId").startswith("relay-")
        # Chromium's fake camera sends 640x480; the relay forwards at most 640x360.
        height = sam.evaluate("document.getElementById('remote-video').videoHeight")
        assert 0 < height <= 360

        config = VideoConfig.from_settings(live_server.settings)
        status = requests.get(
            f"{config.relay_url}/status",
            headers={"Authorization": f"Bearer {config.relay_api_key}"},
            timeout=30,
        ).json()
        assert status["sessions"] == 1 and status["frames_out"]["video"] > 0
    finally:
        pro_context.close()
        client_context.close()
