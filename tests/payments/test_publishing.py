"""Without a Stripe key the platform runs (the embedded default) but cannot publish
paid services: a clear 422 on the API, a form error on the page, a flash when
publishing from the list. Keys are only taken from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from consult.config import ConfigError, load_settings
from payments.gateway import create_gateway
from tests.factories import bearer, one_on_one
from tests.helpers import csrf_token, login

NO_PAYMENTS = "Online payment is not set up on this platform"


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    return {}  # the embedded default: no keys


def test_the_api_refuses_to_publish_a_paid_service(
    client: Any, make_user: Any, database: Any
) -> None:
    headers = bearer(database, make_user(role="professional"))
    paid = one_on_one(price={"amount": 4500, "currency": "EUR"})
    refused = client.post("/api/v1/services", json=paid, headers=headers)
    assert refused.status_code == 422
    assert NO_PAYMENTS in refused.get_json()["error"]["fields"]["price"]

    # Free, or paid but unpublished, is fine; publishing it later is refused.
    assert client.post("/api/v1/services", json=one_on_one(), headers=headers).status_code == 201
    draft = client.post("/api/v1/services", json={**paid, "is_published": False}, headers=headers)
    assert draft.status_code == 201
    publish = client.patch(
        f"/api/v1/services/{draft.get_json()['id']}", json={"is_published": True}, headers=headers
    )
    assert publish.status_code == 422
    assert NO_PAYMENTS in publish.get_json()["error"]["fields"]["price"]


def test_the_service_form_and_the_publish_button_say_why(
    client: Any, make_user: Any, database: Any
) -> None:
    pro = make_user(role="professional")
    login(client, pro)
    form = {
        "csrf_token": csrf_token(client, "/pro/services/new"),
        "kind": "one_on_one",
        "title": "Private yoga",
        "duration_minutes": "60",
        "price": "60",
        "currency": "EUR",
        "horizon_days": "60",
        "is_published": "y",
    }
    page = client.post("/pro/services/new", data=form)
    assert page.status_code == 422
    assert NO_PAYMENTS in page.get_data(as_text=True)

    draft = client.post("/pro/services/new", data={**form, "is_published": ""})
    assert draft.status_code == 302
    service_id = client.get("/api/v1/services", headers=bearer(database, pro)).get_json()[0]["id"]
    published = client.post(
        f"/pro/services/{service_id}/publish",
        data={"csrf_token": csrf_token(client, "/pro/services"), "publish": "1"},
        follow_redirects=True,
    )
    assert published.status_code == 200
    assert NO_PAYMENTS in published.get_data(as_text=True)
    service = client.get("/api/v1/services", headers=bearer(database, pro)).get_json()[0]
    assert service["is_published"] is False


def test_keys_come_only_from_the_environment(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[payments]\nsecret_key = sk_live_in_a_file\n", encoding="utf-8")
    base = {"CONSULT_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(config_file=ini, environ=base)
    with pytest.raises(
        ConfigError, match="only taken from the environment; set CONSULT_STRIPE_SECRET_KEY"
    ):
        create_gateway(settings)

    environ = {
        **base,
        "CONSULT_STRIPE_SECRET_KEY": "sk_test_x",
        "CONSULT_STRIPE_PUBLISHABLE_KEY": "pk_test_x",
    }
    settings = load_settings(config_file=os.devnull, environ=environ)
    gateway = create_gateway(settings)
    assert gateway is not None and gateway.publishable_key == "pk_test_x"
    # Masked in the start-up log.
    assert "[payments] secret_key = *** (environment variable CONSULT_STRIPE_SECRET_KEY)" in (
        settings.describe()
    )

    half = load_settings(
        config_file=os.devnull, environ={**base, "CONSULT_STRIPE_SECRET_KEY": "sk_test_x"}
    )
    with pytest.raises(ConfigError, match="CONSULT_STRIPE_PUBLISHABLE_KEY"):
        create_gateway(half)
    assert create_gateway(load_settings(config_file=os.devnull, environ=base)) is None


def test_a_paid_service_published_before_keys_were_removed_cannot_be_booked(
    platform: Any, client: Any, make_user: Any, database: Any
) -> None:
    from booking import catalog
    from tests.factories import at, iso, next_weekday, setup_professional

    pro, _headers, _free = setup_professional(client, database, make_user)
    with database.session() as session:
        # Published while the platform still had its key (the catalog does not know).
        account = session.merge(pro)
        service = catalog.create_service(
            session,
            account,
            catalog.parse_service_input(
                one_on_one(title="Paid", price={"amount": 9000, "currency": "EUR"}), partial=False
            ),
        )
        session.flush()
        service_id = service.id
    response = client.post(
        "/api/v1/bookings",
        json={"service_id": service_id, "start": iso(at(next_weekday(1, weeks_ahead=2), "09:00"))},
        headers=bearer(database, make_user(role="client")),
    )
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "payments_unavailable"
    assert "Online payment is not set up on this platform right now" in error["message"]
