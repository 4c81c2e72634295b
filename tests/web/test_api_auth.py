from __future__ import annotations

from typing import Any

import pytest

REGISTER = {
    "email": "sam@example.org",
    "password": "a long password",
    "name": "Sam",
    "role": "client",
    "timezone": "America/New_York",
}


def _register(client: Any, **changes: Any) -> Any:
    return client.post("/api/v1/auth/register", json={**REGISTER, **changes})


def _token(
    client: Any, email: str = REGISTER["email"], password: str = REGISTER["password"]
) -> Any:
    return client.post("/api/v1/auth/token", json={"email": email, "password": password})


def test_register_returns_the_user_without_password_material(client: Any) -> None:
    response = _register(client)
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "sam@example.org"
    assert body["roles"] == ["client"]
    assert body["timezone"] == "America/New_York"
    assert not any("password" in key or "hash" in key for key in body)
    assert "argon2" not in response.get_data(as_text=True)


def test_registering_a_professional_creates_their_calendars(client: Any) -> None:
    response = _register(client, role="professional", email="maya@example.org")
    assert response.status_code == 201
    assert response.get_json()["caldav_principal"]


def test_duplicate_email_in_other_case_is_a_409(client: Any) -> None:
    assert _register(client).status_code == 201
    response = _register(client, email="SAM@Example.org")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "invalid_json"),
        ("[1, 2]", "application/json", 400, "invalid_json"),
        ("email=a", "application/x-www-form-urlencoded", 400, "invalid_json"),
        ("", "application/json", 400, "invalid_json"),
    ],
)
def test_bad_json_is_a_clear_400(
    client: Any, body: str, content_type: str, status: int, code: str
) -> None:
    response = client.post("/api/v1/auth/register", data=body, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": None}, "email"),
        ({"email": ["a@b.co"]}, "email"),
        ({"password": 12345678901}, "password"),
        ({"name": "x" * 500}, "name"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"role": "root"}, "role"),
    ],
)
def test_invalid_fields_are_a_422_naming_the_field(
    client: Any, changes: dict[str, Any], field: str
) -> None:
    response = _register(client, **changes)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]


def test_token_refresh_and_me(client: Any) -> None:
    _register(client)
    response = _token(client)
    assert response.status_code == 200
    tokens = response.get_json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.get_json()["email"] == "sam@example.org"

    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    new = refreshed.get_json()
    assert new["refresh_token"] != tokens["refresh_token"]
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert replay.status_code == 401


def test_wrong_password_is_401_without_saying_which_part_was_wrong(client: Any) -> None:
    _register(client)
    wrong_password = _token(client, password="nope nope nope")
    unknown_email = _token(client, email="who@example.org")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.get_json() == unknown_email.get_json()


def test_token_endpoint_is_rate_limited_with_retry_after(client: Any) -> None:
    _register(client)
    statuses = [_token(client, password="wrong password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    response = _token(client)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Try again in" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000]
)
def test_me_without_a_valid_token_is_401(client: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["message"]


def test_unknown_api_route_is_a_json_404(client: Any) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_a_json_405(client: Any) -> None:
    response = client.get("/api/v1/auth/token")
    assert response.status_code == 405
    assert "error" in response.get_json()
