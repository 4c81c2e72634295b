"""A client on a 360 px phone opens the invitation to review from the email and
writes the review without signing in (Playwright on Debian's ``/usr/bin/chromium``
against a live server); the professional's public page then shows it. Screenshots
go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from consult.db import Database, utcnow
from notifications.models import OutboxMessage
from notifications.service import NOTIFIER
from reviews.models import Review
from reviews.services import send_invitations
from tests.e2e.test_booking_flow import TIMEOUT, VIEWPORTS, Shots, chromium, screenshots
from tests.factories import at, iso, move_booking, next_weekday, setup_professional
from tests.helpers import bearer

__all__ = ["chromium", "screenshots"]  # the browser and folder fixtures, shared


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """No sender thread: the invitation stays in the outbox for the test to read."""
    return {"notifications": {"sweep_seconds": "0"}}


@pytest.mark.e2e
def test_a_client_reviews_from_the_email_link_on_a_phone(
    chromium: Browser, live_server: Any, database: Database, make_user: Any, screenshots: Path
) -> None:
    api = live_server.app.test_client()
    pro, _, service = setup_professional(api, database, make_user, title="Breathing for runners")
    customer = make_user(role="client", name="Sam Rivera")
    start = at(next_weekday(2), "09:00")
    booked = api.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": iso(start)},
        headers=bearer(database, customer),
    )
    assert booked.status_code == 201, booked.get_json()
    booking_id = booked.get_json()["id"]
    move_booking(database, booking_id, utcnow() - timedelta(hours=2))
    with database.session() as session:
        assert send_invitations(session, live_server.platform.find(NOTIFIER), utcnow()) == 1
    with database.session() as session:
        email = session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.booking_id == booking_id, OutboxMessage.kind == "review_invitation"
            )
        )
        assert email is not None
        link = re.search(r"https?://\S+#review", email.body_text)
        assert link, email.body_text
        url = link.group(0)

    shot = Shots(screenshots, "phone")
    context = chromium.new_context(viewport=VIEWPORTS["phone"], locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(url)
        expect(page.get_by_role("heading", name="How was it?")).to_be_visible()
        shot(page, "20-review-from-email")
        page.get_by_label("4 ★").check()
        page.get_by_label(re.compile("A few words")).fill("Calm, clear, and I run easier now.")
        page.get_by_role("button", name="Publish review").click()
        expect(page.get_by_text("Thank you: your review is published.")).to_be_visible()
        expect(page.get_by_role("heading", name="Your review")).to_be_visible()
        shot(page, "21-review-published")

        page.goto(f"{live_server.url}/p/{pro.principal}")
        reviews = page.get_by_test_id("reviews")
        expect(reviews).to_contain_text("4.0 out of 5 from 1 review")
        expect(reviews).to_contain_text("Sam R.")
        expect(reviews).to_contain_text("Calm, clear, and I run easier now.")
        reviews.scroll_into_view_if_needed()
        shot(page, "22-profile-reviews")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS["phone"]["width"], "the page scrolls sideways on a phone"
    finally:
        context.close()
    assert errors == []
    with database.session() as session:
        review = session.scalar(select(Review).where(Review.booking_id == booking_id))
        assert review is not None and review.rating == 4
