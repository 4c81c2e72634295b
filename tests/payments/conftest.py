"""Fixtures for payments: ``localstripe`` and the app wired to it.

Stripe cannot be reached from here, so the tests run the real ``stripe`` library
against localstripe (PyPI), a *stand-in* that speaks Stripe's wire format on
loopback: PaymentIntents, PaymentMethods, tokens, Refunds, a Stripe.js v3 stand-in
at ``/js.stripe.com/v3/``, and webhooks signed with Stripe's scheme to an endpoint
registered through ``/_config/webhooks/<id>``. It is not Stripe: it has no Checkout
Sessions, sends no refund or cancellation events, and ignores idempotency keys.

One localstripe process serves the whole test session; each test starts with its
store emptied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from booking.models import Booking
from payments.models import Payment
from tests.factories import bearer, setup_professional
from tests.helpers import free_port

SECRET_KEY = "sk_test_consult_payments"
PUBLISHABLE_KEY = "pk_test_consult_payments"
WEBHOOK_SECRET = "whsec_consult_payments_test"
TIMEOUT = 30


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def running_localstripe(folder: Path) -> Iterator[str]:
    """Run localstripe on a free loopback port while the block runs; its base URL."""
    executable = Path(sys.executable).with_name("localstripe")
    if not executable.exists():
        pytest.fail(f"{executable} is missing: install the test extras (pip install -e '.[test]')")
    port = free_port()
    log = (folder / "localstripe.log").open("wb")
    process = subprocess.Popen(
        [str(executable), "--port", str(port), "--from-scratch"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/js.stripe.com/v3/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"localstripe did not start; see {folder / 'localstripe.log'}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A localstripe process for the test session; its base URL."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe")) as url:
        yield url


@dataclass
class StandIn:
    """Test-side access to localstripe: what a client's phone or browser does with
    the client secret, and a look into the stand-in's state."""

    url: str

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {SECRET_KEY}"}

    def reset(self) -> None:
        requests.delete(f"{self.url}/_config/data", timeout=TIMEOUT).raise_for_status()
        self.register_webhook(None)

    def register_webhook(self, target: str | None) -> None:
        """Deliver events to ``target`` (None: to a closed port, i.e. nowhere)."""
        response = requests.post(
            f"{self.url}/_config/webhooks/consult",
            json={"url": target or closed_port_url(), "secret": WEBHOOK_SECRET},
            timeout=TIMEOUT,
        )
        response.raise_for_status()

    def card_token(self, number: str = "4242424242424242") -> str:
        """A card token as Stripe.js's createToken makes it (publishable key only)."""
        response = requests.post(
            f"{self.url}/v1/tokens",
            data={
                "card[number]": number,
                "card[exp_month]": "12",
                "card[exp_year]": "2030",
                "card[cvc]": "123",
                "key": PUBLISHABLE_KEY,
            },
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def pay(self, client_secret: str, number: str = "4242424242424242") -> dict[str, Any]:
        """Pay an intent the way a mobile SDK does with the client secret: attach a
        card and confirm. Returns the intent."""
        intent_id = client_secret.split("_secret_")[0]
        token = requests.get(
            f"{self.url}/v1/tokens/{self.card_token(number)}", headers=self._auth(), timeout=TIMEOUT
        ).json()
        requests.post(
            f"{self.url}/v1/payment_intents/{intent_id}",
            data={"payment_method": token["card"]["id"]},
            headers=self._auth(),
            timeout=TIMEOUT,
        ).raise_for_status()
        response = requests.post(
            f"{self.url}/v1/payment_intents/{intent_id}/confirm",
            headers=self._auth(),
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        return dict(response.json())

    def intent(self, intent_id: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.url}/v1/payment_intents/{intent_id}", headers=self._auth(), timeout=TIMEOUT
        )
        response.raise_for_status()
        return dict(response.json())

    def intents(self) -> list[dict[str, Any]]:
        response = requests.get(
            f"{self.url}/v1/payment_intents", headers=self._auth(), timeout=TIMEOUT
        )
        response.raise_for_status()
        return list(response.json()["data"])

    def refunds(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/v1/refunds", headers=self._auth(), timeout=TIMEOUT)
        response.raise_for_status()
        return list(response.json()["data"])

    def refund(self, intent_id: str, amount: int) -> dict[str, Any]:
        """A refund made at the provider directly (as from Stripe's dashboard)."""
        response = requests.post(
            f"{self.url}/v1/refunds",
            data={"payment_intent": intent_id, "amount": str(amount)},
            headers=self._auth(),
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        return dict(response.json())

    def charge(self, charge_id: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.url}/v1/charges/{charge_id}", headers=self._auth(), timeout=TIMEOUT
        )
        response.raise_for_status()
        return dict(response.json())

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        params = {"type": type_} if type_ else {}
        response = requests.get(
            f"{self.url}/v1/events", params=params, headers=self._auth(), timeout=TIMEOUT
        )
        response.raise_for_status()
        return list(response.json()["data"])


@pytest.fixture
def stand_in(localstripe: str) -> StandIn:
    """localstripe emptied for this test, webhooks delivered nowhere until a test
    registers its live server."""
    stand_in = StandIn(localstripe)
    stand_in.reset()
    return stand_in


def payment_settings(localstripe: str, **changes: str) -> dict[str, dict[str, Any]]:
    """``[payments]`` overrides pointing at localstripe (tests pass keys as overrides;
    a deployment sets CONSULT_STRIPE_* in the environment)."""
    return {
        "payments": {
            "secret_key": SECRET_KEY,
            "publishable_key": PUBLISHABLE_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": localstripe,
            "stripe_js_url": f"{localstripe}/js.stripe.com/v3/",
            "network_retries": "0",
            "request_timeout_seconds": "15",
            "sweep_seconds": "0",
            **changes,
        }
    }


@pytest.fixture
def settings_overrides(localstripe: str) -> dict[str, dict[str, Any]]:
    return payment_settings(localstripe)


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it (v1 = HMAC-SHA256 of
    ``"<timestamp>.<payload>"`` with the endpoint secret)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def event_payload(event_id: str, type_: str, obj: dict[str, Any]) -> bytes:
    """A Stripe event body around ``obj``, as Stripe sends it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "type": type_,
            "data": {"object": obj},
            "livemode": False,
        }
    ).encode()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``check`` until it returns something truthy (generous: other test runs
    share this machine)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@dataclass
class Shop:
    """A professional with a paid one-on-one service, and helpers to book it."""

    pro: Any
    pro_headers: dict[str, str]
    service: dict[str, Any]
    database: Any

    def client_headers(self, user: Any) -> dict[str, str]:
        return bearer(self.database, user)

    def payment(self, booking_id: int) -> Payment:
        with self.database.session() as session:
            payment = session.scalar(select(Payment).where(Payment.booking_id == booking_id))
            assert payment is not None
            session.expunge(payment)
            return payment

    def booking(self, booking_id: int) -> Booking:
        with self.database.session() as session:
            booking = session.get(Booking, booking_id)
            assert booking is not None
            session.expunge(booking)
            return booking


def open_shop(
    client: Any, database: Any, make_user: Any, *, price: int = 9000, **service: Any
) -> Shop:
    """A professional (Europe/Berlin, open 09-17 on weekdays) with one paid 50-minute
    service; ``service`` changes its payload (e.g. a cancellation policy)."""
    pro, headers, created = setup_professional(
        client,
        database,
        make_user,
        **{"price": {"amount": price, "currency": "EUR"}, **service},
    )
    return Shop(pro, headers, created, database)


def hold_ends_near(moment: str, expected: datetime, slack: timedelta) -> bool:
    return abs(datetime.fromisoformat(moment) - expected) <= slack
