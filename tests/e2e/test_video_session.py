"""The video session in the real browser: Debian's Chromium through Playwright,
with fake camera and microphone devices. Client and professional join one room
from two browser contexts, see each other's video (frames decoded), chat live,
share a screen, and the call resumes after one of them reloads. A refused
camera/microphone permission still lets a person join to watch and listen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.helpers import TEST_PASSWORD
from tests.video.conftest import make_room  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000

# Frames decoded so far on the current connection's inbound video (0 without one).
FRAMES_DECODED = """async () => {
  const pc = window.consultRoom && window.consultRoom.pc;
  if (!pc) return 0;
  const stats = await pc.getStats();
  let frames = 0;
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") {
      frames += report.framesDecoded || 0;
    }
  });
  return frames;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in(
    browser: Browser, base_url: str, user: Any, **options: Any
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base_url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)
    return context, page


def join_with_camera(page: Page, booking_id: int) -> None:
    page.goto(f"/bookings/{booking_id}/session")
    expect(page.locator("#permission-explainer")).to_contain_text("camera and microphone")
    page.get_by_role("button", name="Turn on camera and microphone").click()
    expect(page.locator("#camera-select option")).not_to_have_count(0)
    page.get_by_role("button", name="Join now").click()


def wait_for_frames(page: Page, more_than: int = 0, timeout: float = TIMEOUT_MS / 1000) -> int:
    """Poll getStats() until more than ``more_than`` video frames were decoded."""
    deadline = time.monotonic() + timeout
    frames = 0
    while time.monotonic() < deadline:
        frames = int(page.evaluate(FRAMES_DECODED))
        if frames > more_than:
            return frames
        page.wait_for_timeout(250)
    return frames


def test_client_and_professional_meet_chat_share_and_survive_a_reload(
    live_server: Any,
    make_room: Any,  # noqa: F811  (the fixture imported above)
    browser: Browser,
) -> None:
    room = make_room()
    pro_context, pro = signed_in(browser, live_server.url, room.pro)
    # The client is on a phone-sized screen.
    client_context, sam = signed_in(
        browser,
        live_server.url,
        room.client,
        viewport={"width": 360, "height": 740},
        is_mobile=True,
    )
    try:
        join_with_camera(pro, room.booking_id)
        expect(pro.locator("#waiting")).to_contain_text("Waiting for Sam Client")
        join_with_camera(sam, room.booking_id)

        # Both receive video, and both show the call as connected with a running timer.
        assert wait_for_frames(pro) > 0
        assert wait_for_frames(sam) > 0
        expect(pro.locator("#connection-state")).to_have_text("Connected")
        expect(sam.locator("#call-timer")).to_be_visible()
        expect(sam.get_by_test_id("other-name")).to_have_text(room.pro.name)
        # Nothing sticks out sideways on the phone; the controls are on screen.
        assert sam.evaluate("document.documentElement.scrollWidth") <= 360
        expect(sam.get_by_role("button", name="Leave")).to_be_in_viewport()

        # Mute and camera off are toggles the page reflects.
        sam.get_by_role("button", name="Mute").click()
        expect(sam.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
        assert sam.evaluate("window.consultRoom.micTrack.enabled") is False
        sam.get_by_role("button", name="Unmute").click()

        # Chat arrives live on the other side, escaped, with a safe link.
        sam.locator("#chat-input").fill("Hi! <script>x()</script> notes: https://example.org/notes")
        sam.locator("#chat-input").press("Enter")
        message = pro.locator("#messages .message").last
        expect(message).to_contain_text("<script>x()</script> notes:")
        link = message.locator("a")
        expect(link).to_have_attribute("href", "https://example.org/notes")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")

        # Screen sharing replaces the camera on the same connection.
        pro.get_by_role("button", name="Share screen").click()
        expect(pro.get_by_role("button", name="Stop sharing")).to_be_visible()
        assert pro.evaluate(
            "() => window.consultRoom.pc.getSenders()"
            ".some((sender) => sender.track && sender.track === window.consultRoom.screenTrack)"
        )
        before = int(sam.evaluate(FRAMES_DECODED))
        assert wait_for_frames(sam, before + 10) > before + 10
        pro.get_by_role("button", name="Stop sharing").click()
        expect(pro.get_by_role("button", name="Share screen")).to_be_visible()

        # The client's network changes: the page asks for an ICE restart, the
        # professional's page performs it, and video keeps flowing.
        ufrag = "() => window.consultRoom.pc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"
        pro_ufrag = pro.evaluate(ufrag)
        client_context.set_offline(True)
        client_context.set_offline(False)
        pro.wait_for_function(f"({ufrag})() !== {pro_ufrag!r}", timeout=TIMEOUT_MS)
        expect(sam.locator("#connection-state")).to_have_text("Connected")
        before = int(sam.evaluate(FRAMES_DECODED))
        assert wait_for_frames(sam, before + 10) > before + 10

        # The client reloads: the page rejoins by itself and the call resumes on a
        # new connection, without the professional doing anything.
        old_peer = sam.evaluate("window.consultRoom.peerId")
        sam.reload()
        page_peer = sam.evaluate("window.consultRoom.peerId")
        assert page_peer != old_peer
        assert wait_for_frames(sam) > 0
        pro.wait_for_function(f"window.consultRoom.remoteId === {page_peer!r}", timeout=TIMEOUT_MS)
        assert wait_for_frames(pro) > 0
        expect(pro.locator("#connection-state")).to_have_text("Connected")
    finally:
        pro_context.close()
        client_context.close()


REFUSE_CAMERA = """
navigator.mediaDevices.getUserMedia = async () => {
  throw new DOMException("Permission denied", "NotAllowedError");
};
"""


def test_refused_camera_explains_and_joins_to_watch_and_listen(
    live_server: Any,
    make_room: Any,  # noqa: F811  (the fixture imported above)
    browser: Browser,
) -> None:
    room = make_room()
    pro_context, pro = signed_in(browser, live_server.url, room.pro)
    client_context, sam = signed_in(browser, live_server.url, room.client)
    client_context.add_init_script(REFUSE_CAMERA)
    try:
        join_with_camera(pro, room.booking_id)
        sam.goto(f"/bookings/{room.booking_id}/session")
        sam.get_by_role("button", name="Turn on camera and microphone").click()
        expect(sam.locator("#permission-problem")).to_contain_text(
            "blocked the camera or microphone"
        )
        expect(sam.get_by_role("button", name="Try again")).to_be_visible()
        sam.get_by_role("button", name="Join without camera or microphone").click()
        # Watching works: the professional's video arrives.
        assert wait_for_frames(sam) > 0
        expect(sam.get_by_role("button", name="Mute")).to_be_disabled()
        expect(pro.locator("#connection-state")).to_have_text("Connected")
    finally:
        pro_context.close()
        client_context.close()


def test_outside_the_window_the_page_says_when_the_room_opens(
    live_server: Any,
    make_room: Any,  # noqa: F811  (the fixture imported above)
    browser: Browser,
) -> None:
    from datetime import timedelta

    room = make_room(starts_in=timedelta(days=2))
    context, page = signed_in(browser, live_server.url, room.client)
    try:
        page.goto(f"/bookings/{room.booking_id}/session")
        expect(page.get_by_test_id("room-not-open")).to_contain_text("The room is not open yet")
        # In the viewer's zone (the client lives in New York).
        expect(page.get_by_test_id("opens-at")).to_contain_text("(America/New_York)")
        expect(page.locator("#join")).to_have_count(0)
    finally:
        context.close()
