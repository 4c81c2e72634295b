"""The whole journey in a real browser (Playwright on Debian's ``/usr/bin/chromium``
against a live server on PostgreSQL; screenshots of the key pages go to
``test-artifacts/screenshots/``), on a desktop and on a 360 px phone: a
professional signs up and sets a profile, a service and weekly hours; a client in
another time zone searches, finds them, books a slot days ahead (signing up on the
way); the professional sees the booking on the dashboard; the client cancels; the
slot is free again."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.helpers import TEST_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 360, "height": 740}}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIMEOUT = 30_000


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, dict[str, Any]]:
    # Background jobs (notification emails, calendar sync) wait in this test's Redis
    # database: this journey is about the pages.
    return {"redis": {"url": redis_url}}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded browser), for this module only: other
    browser tests start their own Playwright."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def portrait(size: int = 160) -> bytes:
    """A PNG portrait placeholder: a soft gradient, made here rather than stored."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + b"".join(bytes((40 + x // 2, 90 + y // 3, 200)) for x in range(size))
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def day_label(day: Any) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


class Shots:
    def __init__(self, folder: Path, viewport: str) -> None:
        self.folder, self.viewport = folder, viewport

    def __call__(self, page: Page, name: str) -> None:
        page.screenshot(path=str(self.folder / f"{self.viewport}-{name}.png"), full_page=True)


def professional_signs_up(page: Page, base: str, shot: Shots, photo: Path) -> None:
    page.goto(base + "/register?role=professional")
    page.get_by_label("Your name").fill("Maya Lindqvist")
    page.get_by_label("Email").fill("maya@example.org")
    page.get_by_label("Password").fill(TEST_PASSWORD)
    # The browser's zone is filled in for her.
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(base + "/pro/welcome")
    expect(page.get_by_role("heading", name="Welcome, Maya")).to_be_visible()
    shot(page, "01-onboarding")

    page.get_by_role("link", name="Write your profile").click()
    page.get_by_label("Headline").fill("Therapist for anxiety and burnout")
    page.get_by_label("About you").fill(
        "I help adults who feel stuck. Calm, practical sessions in English and Swedish."
    )
    page.get_by_label("Therapy & counselling").check()
    page.get_by_label("English").check()
    page.get_by_label("Swedish").check()
    page.get_by_label("Upload a new photo").set_input_files(str(photo))
    shot(page, "02-profile")
    page.get_by_role("button", name="Save and continue").click()

    expect(page).to_have_url(base + "/pro/services/new?onboarding=1")
    page.get_by_label("Title").fill("Therapy session")
    page.get_by_label("Length (minutes)").fill("50")
    # Free: paying (held slot, Stripe) is the payments package's journey.
    page.get_by_label("Price").fill("0")
    page.get_by_role("button", name="Save and continue").click()

    expect(page).to_have_url(base + "/pro/hours?onboarding=1")
    # Open every day, all day: the test must not depend on the clock's working hours.
    for day in DAYS:
        page.get_by_label(day, exact=True).check()
        page.get_by_label(f"{day} interval 1 from").fill("00:00")
        page.get_by_label(f"{day} interval 1 until").fill("00:00")
    shot(page, "03-hours")
    page.get_by_role("button", name="Save and finish").click()
    expect(page.get_by_role("heading", name="You are ready for bookings")).to_be_visible()


def client_searches_and_books(page: Page, base: str, shot: Shots, target: Any) -> str:
    """Returns the booked time's label (e.g. "18:00 America/New York, book")."""
    page.goto(base + "/")
    page.get_by_label("Who or what are you looking for?").fill("anxiety")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="1 professional found")).to_be_visible()
    expect(page.get_by_text("(America/New York)").first).to_be_visible()
    shot(page, "04-search")

    page.get_by_role("link", name="See times of Maya Lindqvist").click()
    widget = page.locator("[data-widget]")
    # The widget shows times in the zone the browser reports.
    expect(widget.get_by_label("Times shown in")).to_have_value("America/New_York")
    heading = widget.get_by_role("heading", level=3).first
    if target.strftime("%B %Y") not in (heading.text_content() or ""):
        widget.get_by_role("link", name="Next month").click()
        expect(page.locator("[data-widget] h3").first).to_contain_text(target.strftime("%B %Y"))
    page.locator(
        f'[data-widget] a[data-testid=free-day][aria-label^="{day_label(target)},"]'
    ).click()
    expect(page.locator("#times h3")).to_have_text(day_label(target))
    times = page.locator("#times a[data-testid=free-time]")
    expect(times.first).to_be_visible()
    chosen = times.nth(3)
    label = chosen.get_attribute("aria-label") or ""
    assert label.endswith(" America/New York, book")
    shot(page, "05-times")
    chosen.click()

    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    expect(page.get_by_test_id("booking-summary")).to_contain_text("(America/New York)")
    page.get_by_label("Your name").fill("Sam Client")
    page.get_by_label("Email").fill("sam@example.org")
    page.get_by_label("Choose a password").fill(TEST_PASSWORD)
    page.get_by_label("Anything the professional should know? (optional)").fill(
        "First session, please call me Sam."
    )
    shot(page, "06-booking-form")
    page.get_by_role("button", name="Create account and book").click()

    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    expect(page.get_by_test_id("booking-when")).to_contain_text(label.split()[0])
    expect(page.get_by_role("link", name="Google Calendar")).to_have_attribute(
        "href", re.compile(r"^https://calendar\.google\.com/calendar/render\?action=TEMPLATE")
    )
    shot(page, "07-confirmation")
    return label


@pytest.mark.e2e
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_signup_setup_search_book_see_cancel_and_the_slot_is_free_again(
    chromium: Browser, live_server: Any, screenshots: Path, tmp_path: Path, viewport: str
) -> None:
    base = live_server.url
    shot = Shots(screenshots, viewport)
    photo = tmp_path / "maya.png"
    photo.write_bytes(portrait())

    maya_browser = chromium.new_context(
        viewport=VIEWPORTS[viewport], timezone_id="Europe/Berlin", locale="en-GB"
    )
    sam_browser = chromium.new_context(
        viewport=VIEWPORTS[viewport], timezone_id="America/New_York", locale="en-US"
    )
    maya, sam = maya_browser.new_page(), sam_browser.new_page()
    for page in (maya, sam):
        page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    for page in (maya, sam):
        page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        professional_signs_up(maya, base, shot, photo)

        # Three days ahead in Sam's zone: whatever time the test runs, it is bookable.
        target = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=3)).date()
        label = client_searches_and_books(sam, base, shot, target)
        booked_clock = label.split()[0]

        # Maya sees the booking with Sam's name and note on her dashboard.
        berlin_day = (
            datetime.combine(
                target,
                datetime.strptime(booked_clock, "%H:%M").time(),
                tzinfo=ZoneInfo("America/New_York"),
            )
            .astimezone(ZoneInfo("Europe/Berlin"))
            .date()
        )
        maya.goto(f"{base}/pro?date={berlin_day.isoformat()}")
        expect(maya.get_by_role("heading", name="Upcoming")).to_be_visible()
        upcoming = maya.get_by_test_id("upcoming")
        expect(upcoming).to_contain_text("Sam Client")
        expect(upcoming).to_contain_text("First session, please call me Sam.")
        week = maya.locator(".calendar" if viewport == "desktop" else ".agenda")
        expect(week.get_by_text("Sam Client").first).to_be_visible()
        shot(maya, "08-dashboard")
        maya.goto(f"{base}/pro?view=day&date={berlin_day.isoformat()}")
        expect(maya.locator("[data-testid=event-booking]").first).to_contain_text("Sam Client")
        shot(maya, "09-dashboard-day")

        # Sam cancels from "My bookings".
        sam.get_by_role("navigation", name="Main").get_by_role("link", name="My bookings").click()
        expect(sam.get_by_test_id("upcoming-bookings")).to_contain_text("with Maya Lindqvist")
        shot(sam, "10-my-bookings")
        sam.get_by_test_id("upcoming-bookings").get_by_role("link", name="Therapy session").click()
        sam.get_by_label("Reason (optional)").fill("Something came up.")
        sam.get_by_role("button", name="Cancel booking").click()
        expect(sam.get_by_test_id("booking-status")).to_contain_text("Cancelled by the client")
        shot(sam, "11-cancelled")

        # The slot is free again on Maya's page, and gone from her dashboard.
        sam.goto(base + "/")
        sam.get_by_role("link", name="See times of Maya Lindqvist").click()
        widget = sam.locator("[data-widget]")
        heading = widget.get_by_role("heading", level=3).first
        if target.strftime("%B %Y") not in (heading.text_content() or ""):
            widget.get_by_role("link", name="Next month").click()
        sam.locator(f'a[data-testid=free-day][aria-label^="{day_label(target)},"]').click()
        expect(sam.locator(f'#times a[aria-label="{label}"]')).to_be_visible()
        maya.goto(f"{base}/pro?date={berlin_day.isoformat()}")
        expect(maya.get_by_text("No upcoming bookings yet.")).to_be_visible()
        assert errors == [], errors
    finally:
        maya_browser.close()
        sam_browser.close()


@pytest.mark.e2e
def test_search_and_booking_work_with_javascript_off(
    chromium: Browser,
    live_server: Any,
    client: Any,
    database: Any,
    make_user: Any,
    screenshots: Path,
) -> None:
    from tests.factories import one_on_one
    from tests.web.pages.helpers import EVERY_DAY, make_professional

    make_professional(
        client,
        database,
        make_user,
        name="Ken Watanabe",
        weekly=EVERY_DAY,
        headline="Japanese tutor",
        languages=("ja", "en"),
        services=[one_on_one(title="Japanese lesson", duration_minutes=30)],
    )
    context = chromium.new_context(
        viewport=VIEWPORTS["desktop"], java_script_enabled=False, timezone_id="Asia/Tokyo"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(live_server.url + "/")
        page.get_by_label("Who or what are you looking for?").fill("japanese")
        page.get_by_label("Your time zone").select_option("Asia/Tokyo")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", name="1 professional found")).to_be_visible()
        page.get_by_role("link", name="See times of Ken Watanabe").click()
        # The zone picker is a plain GET form without JavaScript.
        page.get_by_label("Times shown in").select_option("Asia/Tokyo")
        page.get_by_role("button", name="Show times").click()
        target = (datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(days=2)).date()
        if target.strftime("%B %Y") not in (
            page.locator("[data-widget] h3").first.text_content() or ""
        ):
            page.get_by_role("link", name="Next month").click()
        page.locator(f'a[data-testid=free-day][aria-label^="{day_label(target)},"]').click()
        page.locator("#times a[data-testid=free-time]").nth(2).click()
        expect(page.get_by_test_id("booking-summary")).to_contain_text("(Asia/Tokyo)")
        page.get_by_label("Your name").fill("Kim Nojs")
        page.get_by_label("Email").fill("kim@example.org")
        page.get_by_label("Choose a password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Create account and book").click()
        expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
        shot = Shots(screenshots, "nojs")
        shot(page, "confirmation")
    finally:
        context.close()
