"""The insights page on a 360 px phone in Debian's Chromium: it renders its charts
and tables without sideways scrolling, and axe-core (the maintained accessibility
checker, bundled by axe-playwright-python) finds no violation. Screenshot kept in
``test-artifacts/screenshots/``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect

from consult.db import Database, utcnow
from tests.e2e.test_booking_flow import TIMEOUT, VIEWPORTS, Shots, chromium, screenshots
from tests.factories import at, iso, move_booking, next_weekday, setup_professional
from tests.helpers import TEST_PASSWORD, bearer

__all__ = ["chromium", "screenshots"]  # the browser and folder fixtures, shared


@pytest.mark.e2e
def test_the_insights_page_passes_axe_on_a_phone(
    chromium: Browser, live_server: Any, database: Database, make_user: Any, screenshots: Path
) -> None:
    api = live_server.app.test_client()
    pro, _, service = setup_professional(api, database, make_user)
    for week in (1, 2, 3):
        customer = make_user(role="client")
        booked = api.post(
            "/api/v1/bookings",
            json={
                "service_id": service["id"],
                "start": iso(at(next_weekday(week % 5, weeks_ahead=week), "09:00")),
            },
            headers=bearer(database, customer),
        )
        assert booked.status_code == 201, booked.get_json()
        move_booking(database, booked.get_json()["id"], utcnow() - timedelta(days=week * 3))

    context = chromium.new_context(viewport=VIEWPORTS["phone"], locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    try:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email").fill(pro.email)
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server.url}/pro/insights")
        expect(page.get_by_role("heading", name="Insights", exact=True)).to_be_visible()
        expect(page.get_by_test_id("stat-bookings")).to_have_text("3")
        expect(page.get_by_test_id("chart-weeks")).to_be_visible()
        Shots(screenshots, "phone")(page, "30-insights")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS["phone"]["width"], "the page scrolls sideways on a phone"
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()
