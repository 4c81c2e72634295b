"""The HTML account pages: registration, sign in/out, password change, app
passwords, with CSRF enforced as in production."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers import TEST_PASSWORD, csrf_token, login


@pytest.fixture
def app(app: Any) -> Any:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def register(client: Any, email: str = "maya@example.org", role: str = "professional") -> Any:
    return client.post(
        "/register",
        data={
            "csrf_token": csrf_token(client, "/register"),
            "name": "Maya",
            "email": email,
            "password": TEST_PASSWORD,
            "role": role,
            "timezone": "Europe/Berlin",
        },
    )


def test_pages_have_language_title_and_labels(client: Any) -> None:
    for path in ("/", "/register", "/login"):
        page = client.get(path).get_data(as_text=True)
        assert '<html lang="en">' in page
        assert re.search(r"<title>[^<]+</title>", page)
    page = client.get("/register").get_data(as_text=True)
    for field in ("name", "email", "password", "timezone"):
        assert f'for="{field}"' in page


def test_register_signs_in_and_shows_the_account(client: Any) -> None:
    response = register(client)
    assert response.status_code == 302
    account = client.get("/account")
    assert account.status_code == 200
    assert "maya@example.org" in account.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client: Any) -> None:
    response = register(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_forms_without_csrf_token_are_refused(client: Any) -> None:
    response = client.post(
        "/register",
        data={"name": "M", "email": "m@example.org", "password": TEST_PASSWORD, "role": "client"},
    )
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_register_errors_are_shown_next_to_the_field_and_input_is_kept(client: Any) -> None:
    response = client.post(
        "/register",
        data={
            "csrf_token": csrf_token(client, "/register"),
            "name": "Maya",
            "email": "maya@example.org",
            "password": "short",
            "role": "client",
            "timezone": "Europe/Berlin",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="password-error"' in page and "at least 10 characters" in page
    assert 'value="maya@example.org"' in page and 'value="Maya"' in page


def test_duplicate_email_is_a_form_error(client: Any) -> None:
    register(client, email="ken@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    response = register(client, email="KEN@example.org")
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_login_logout_and_wrong_password(client: Any, make_user: Any) -> None:
    user = make_user(role="client")
    bad = login(client, user.email, "wrong password", expect_ok=False)
    assert bad.status_code == 401
    assert "Email or password is incorrect." in bad.get_data(as_text=True)
    good = login(client, user.email, expect_ok=False)
    assert good.status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert client.get("/account").status_code == 302


def test_login_redirects_only_to_local_paths(client: Any, make_user: Any) -> None:
    user = make_user(role="client")
    token = csrf_token(client, "/login")
    response = client.post(
        "/login?next=https://evil.example/",
        data={"csrf_token": token, "email": user.email, "password": TEST_PASSWORD},
    )
    assert response.headers["Location"] == "/"


def test_login_page_is_rate_limited(client: Any, make_user: Any) -> None:
    user = make_user(role="client")
    for _ in range(5):
        assert login(client, user.email, "wrong password", expect_ok=False).status_code == 401
    response = login(client, user.email, expect_ok=False)
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.get_data(as_text=True)


def test_password_change_signs_out_other_sessions(app: Any, make_user: Any) -> None:
    user = make_user(role="client")
    phone, laptop = app.test_client(), app.test_client()
    login(phone, user.email)
    login(laptop, user.email)
    response = laptop.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(laptop, "/account"),
            "current_password": TEST_PASSWORD,
            "new_password": "a brand new password",
        },
    )
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302


def test_wrong_current_password_is_a_form_error(client: Any, make_user: Any) -> None:
    user = make_user(role="client")
    login(client, user.email, expect_ok=False)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account"),
            "current_password": "not it at all",
            "new_password": "a brand new password",
        },
    )
    assert response.status_code == 422
    assert "current password is incorrect" in response.get_data(as_text=True)


def test_app_password_create_show_once_and_revoke(client: Any, make_user: Any) -> None:
    user = make_user(role="professional")
    login(client, user.email, expect_ok=False)
    created = client.post(
        "/account/app-passwords",
        data={"csrf_token": csrf_token(client, "/account"), "name": "Maya's iPhone"},
    )
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    secret = re.search(r'data-testid="new-app-password">([^<]+)<', page)
    assert secret and len(secret.group(1)) == 29
    again = client.get("/account").get_data(as_text=True)
    assert secret.group(1) not in again and "Maya&#39;s iPhone" in again
    app_password_id = re.search(r"/account/app-passwords/(\d+)/revoke", again)
    assert app_password_id
    revoked = client.post(
        f"/account/app-passwords/{app_password_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(client, "/account")},
    )
    assert revoked.status_code == 302
    assert (
        "Maya&#39;s iPhone"
        not in client.get("/account").get_data(as_text=True).split("can no longer")[-1]
    )


def test_revoking_someone_elses_app_password_is_404(app: Any, make_user: Any) -> None:
    maya, ken = make_user(role="professional"), make_user(role="professional")
    maya_client, ken_client = app.test_client(), app.test_client()
    login(maya_client, maya.email)
    maya_client.post(
        "/account/app-passwords",
        data={"csrf_token": csrf_token(maya_client, "/account"), "name": "phone"},
    )
    page = maya_client.get("/account").get_data(as_text=True)
    app_password_id = re.search(r"/account/app-passwords/(\d+)/revoke", page)
    assert app_password_id
    login(ken_client, ken.email)
    response = ken_client.post(
        f"/account/app-passwords/{app_password_id.group(1)}/revoke",
        data={"csrf_token": csrf_token(ken_client, "/account")},
    )
    assert response.status_code == 404
    assert "phone" in maya_client.get("/account").get_data(as_text=True)


def test_friendly_404_page(client: Any) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_well_known_caldav_redirects_to_dav(client: Any) -> None:
    response = client.get("/.well-known/caldav")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/dav/")
