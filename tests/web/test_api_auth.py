from __future__ import annotations

from typing import Any

import pytest

from accounts import services
from accounts.models import User
from consult.db import Database

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


def _me(client: Any, access_token: str) -> int:
    headers = {"Authorization": f"Bearer {access_token}"}
    return int(client.get("/api/v1/me", headers=headers).status_code)


def test_a_replayed_refresh_token_ends_the_access_tokens_of_its_account(client: Any) -> None:
    _register(client)
    first = _token(client).get_json()
    other_device = _token(client).get_json()
    rotated = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ).get_json()
    # A normal rotation leaves every access token working.
    assert [_me(client, t["access_token"]) for t in (first, rotated, other_device)] == [200] * 3

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # Whoever copied the refresh token may hold any of these: none outlives the replay.
    for tokens in (first, rotated, other_device):
        response = client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert response.status_code == 401
        assert response.get_json()["error"]["message"] == (
            "The access token is no longer valid; sign in again."
        )
    assert _me(client, _token(client).get_json()["access_token"]) == 200


def test_a_password_change_ends_the_access_tokens_of_its_account(
    client: Any, database: Database
) -> None:
    user_id = _register(client).get_json()["id"]
    tokens = _token(client).get_json()
    assert _me(client, tokens["access_token"]) == 200
    with database.session() as session:
        account = session.get(User, user_id)
        assert account is not None
        services.change_password(session, account, REGISTER["password"], "a new long password", 10)
    assert _me(client, tokens["access_token"]) == 401
    fresh = _token(client, password="a new long password").get_json()
    assert _me(client, fresh["access_token"]) == 200
