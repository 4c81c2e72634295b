"""A paid booking in a real browser (Playwright on Debian's ``/usr/bin/chromium``)
against a live server and localstripe, a *stand-in* for Stripe that serves a
Stripe.js v3 look-alike at ``/js.stripe.com/v3/`` (see tests/payments/conftest.py).

Sam picks a time on Maya's page, signs up on the booking form, lands on the payment
page, types a card into the stand-in's card element and pays; the booking is
confirmed at once and Stripe's webhook, arriving after, changes nothing. The
stand-in has no ``confirmPayment``, so the page takes its token path (a card token
paid server-side); with Stripe's own Stripe.js it uses the Payment Element. A
declined card shows Stripe's message and keeps the slot held. Screenshots go to
``test-artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from sqlalchemy import select

from booking.models import Booking
from payments.models import Payment, ProcessedWebhookEvent
from tests.factories import one_on_one
from tests.helpers import TEST_PASSWORD
from tests.payments.conftest import StandIn, payment_settings, running_localstripe, wait_for
from tests.web.pages.helpers import EVERY_DAY, make_professional

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
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_localstripe(tmp_path_factory.mktemp("localstripe")) as url:
        yield url


@pytest.fixture
def stand_in(localstripe: str) -> StandIn:
    stand_in = StandIn(localstripe)
    stand_in.reset()
    return stand_in


@pytest.fixture
def settings_overrides(localstripe: str) -> dict[str, dict[str, Any]]:
    return payment_settings(localstripe)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium (never a downloaded browser), for this module only."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def fill_card(page: Any, number: str) -> None:
    """The stand-in's card element: plain inputs named by their placeholders."""
    frame = page.locator("#payment-element")
    frame.get_by_placeholder("number").fill(number)
    frame.get_by_placeholder("exp_month").fill("12")
    frame.get_by_placeholder("exp_year").fill("30")
    frame.get_by_placeholder("cvc").fill("123")
    frame.get_by_placeholder("postal_code").fill("10115")


@pytest.mark.e2e
def test_a_client_books_and_pays_a_paid_session_in_the_browser(
    chromium: Browser, live_server: Any, database: Any, make_user: Any, stand_in: StandIn
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stand_in.register_webhook(f"{live_server.url}/webhooks/stripe")
    maya, _headers, services = make_professional(
        live_server.app.test_client(),
        database,
        make_user,
        name="Maya Lindqvist",
        headline="Therapist for anxiety",
        categories=("therapy",),
        weekly=EVERY_DAY,
        services=[one_on_one(title="Therapy session", price={"amount": 9000, "currency": "EUR"})],
    )
    service_id = services[0]["id"]
    # Three days ahead: cancelling would still refund in full (the default policy).
    day = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).date().isoformat()
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin", locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/p/{maya.principal}?service={service_id}&date={day}")
        times = page.locator("#times a[data-testid=free-time]")
        expect(times.first).to_be_visible()
        times.nth(2).click()

        expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
        expect(page.get_by_test_id("booking-summary")).to_contain_text("€90.00")
        page.get_by_label("Your name").fill("Sam Client")
        page.get_by_label("Email").fill("sam@example.org")
        page.get_by_label("Choose a password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Create account and book").click()

        expect(page.get_by_role("heading", name="Pay to confirm your booking")).to_be_visible()
        expect(page.get_by_test_id("pay-amount")).to_have_text("€90.00")
        expect(page.get_by_test_id("hold-notice")).to_contain_text("We hold this time for you")
        pay = page.get_by_role("button", name="Pay €90.00")
        expect(pay).to_be_enabled()  # Stripe.js (the stand-in) loaded and mounted
        with database.session() as session:
            booking = session.scalar(select(Booking))
            assert booking is not None and booking.status == "held"
            booking_id = booking.id

        # A declined card: Stripe's message, the slot still held.
        fill_card(page, "4000000000000341")
        page.screenshot(path=str(SCREENSHOTS / "paid-01-payment-page.png"), full_page=True)
        pay.click()
        expect(page.get_by_role("alert").filter(has_text="declined")).to_be_visible()
        with database.session() as session:
            assert session.get(Booking, booking_id).status == "held"  # type: ignore[union-attr]
        page.screenshot(path=str(SCREENSHOTS / "paid-02-declined.png"), full_page=True)
    finally:
        context.close()

    # localstripe cannot confirm an intent again after a declined charge (Stripe can),
    # so Sam pays a fresh hold of the next free time.
    context = chromium.new_context(
        viewport={"width": 360, "height": 740}, timezone_id="Europe/Berlin", locale="en-GB"
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email").fill("sam@example.org")
        page.get_by_label("Password").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server.url}/p/{maya.principal}?service={service_id}&date={day}")
        page.locator("#times a[data-testid=free-time]").nth(4).click()
        page.get_by_role("button", name="Book").click()
        expect(page.get_by_role("heading", name="Pay to confirm your booking")).to_be_visible()
        fill_card(page, "4242424242424242")
        page.screenshot(path=str(SCREENSHOTS / "paid-03-phone-payment.png"), full_page=True)
        page.get_by_role("button", name="Pay €90.00").click()

        expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "paid-04-booked.png"), full_page=True)
        page.get_by_role("link", name="the booking page").click()
        expect(page.get_by_test_id("payment-status")).to_have_text("Paid")
        expect(page.get_by_test_id("payment-amount")).to_have_text("€90.00")
        expect(page.get_by_test_id("refund-if-cancelled")).to_contain_text("€90.00")
    finally:
        context.close()

    with database.session() as session:
        paid = session.scalar(select(Payment).where(Payment.status == "succeeded"))
        assert paid is not None
        assert session.get(Booking, paid.booking_id).status == "confirmed"  # type: ignore[union-attr]

    # Stripe's webhook for the same payment comes a moment later and changes nothing.
    def webhook_seen() -> list[str]:
        with database.session() as session:
            return list(
                session.scalars(
                    select(ProcessedWebhookEvent.outcome).where(
                        ProcessedWebhookEvent.type == "payment_intent.succeeded"
                    )
                )
            )

    assert wait_for(webhook_seen, "Stripe's payment_intent.succeeded webhook") == ["already"]
    assert errors == [], errors
