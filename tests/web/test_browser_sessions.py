"""Browser sessions end on the server (issue 14): a signed cookie is only as good as
its ``browser_session`` row, which logout, "sign out everywhere" and a password
change delete. Copied cookies are replayed from a second test client, as an
attacker holding a stolen cookie would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from accounts.models import BrowserSession
from consult.db import Database, utcnow
from tests.helpers import TEST_PASSWORD, csrf_token, login

FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0"
CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture
def app(app: Any) -> Any:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def _browser(app: Any, user_agent: str = CHROME_LINUX) -> Any:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return client


def _copy_cookie(source: Any, app: Any) -> Any:
    """A fresh client holding only ``source``'s session cookie (a stolen copy)."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value, domain=cookie.domain)
    return thief


def _signed_in(client: Any) -> bool:
    return bool(client.get("/account").status_code == 200)


def _session_count(database: Database, user_id: int) -> int:
    with database.session() as session:
        return int(
            session.scalar(select(func.count()).where(BrowserSession.user_id == user_id)) or 0
        )


def _api_tokens(client: Any, user: Any) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/token", json={"email": user.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    body: dict[str, str] = response.get_json()
    return body


def _refresh(client: Any, refresh_token: str) -> Any:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_a_cookie_copied_before_logout_is_refused_after_it(
    app: Any, make_user: Any, database: Database
) -> None:
    user = make_user(role="client")
    browser = _browser(app)
    login(browser, user)
    assert _signed_in(_copy_cookie(browser, app))  # the copy works while signed in
    stolen = _copy_cookie(browser, app)
    browser.post("/logout", data={"csrf_token": csrf_token(browser, "/account")})
    assert not _signed_in(browser)
    assert not _signed_in(stolen)
    assert _session_count(database, user.id) == 0


def test_only_the_hash_of_the_session_id_is_stored(
    app: Any, make_user: Any, database: Database
) -> None:
    user = make_user(role="client")
    browser = _browser(app, FIREFOX_ANDROID)
    login(browser, user)
    cookie = browser.get_cookie("session").value
    with database.session() as session:
        row = session.scalars(select(BrowserSession).where(BrowserSession.user_id == user.id)).one()
        assert row.token_hash not in cookie
        assert row.user_agent == "Firefox on Android"
        assert "Android 14" not in row.user_agent  # a summary, not the whole header


def test_sign_out_everywhere_on_the_account_page(
    app: Any, make_user: Any, database: Database
) -> None:
    user = make_user(role="client")
    phone, laptop = _browser(app, FIREFOX_ANDROID), _browser(app)
    login(phone, user)
    login(laptop, user)
    tokens = _api_tokens(app.test_client(), user)
    page = laptop.get("/account").get_data(as_text=True)
    assert "Firefox on Android" in page and "Chrome on Linux" in page
    response = laptop.post(
        "/account/sign-out-everywhere", data={"csrf_token": csrf_token(laptop, "/account")}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert not _signed_in(phone)
    assert not _signed_in(laptop)
    assert _session_count(database, user.id) == 0
    api = app.test_client()
    assert _refresh(api, tokens["refresh_token"]).status_code == 401
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    # Signing in again afterwards works as ever.
    login(phone, user)
    assert _signed_in(phone)


def test_sign_out_everywhere_form_requires_csrf(app: Any, make_user: Any) -> None:
    user = make_user(role="client")
    phone, laptop = _browser(app, FIREFOX_ANDROID), _browser(app)
    login(phone, user)
    login(laptop, user)
    response = laptop.post("/account/sign-out-everywhere", data={})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    forged = laptop.post("/account/sign-out-everywhere", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert _signed_in(phone) and _signed_in(laptop)


def test_sign_out_everywhere_over_the_api(app: Any, make_user: Any, database: Database) -> None:
    user = make_user(role="client")
    browser = _browser(app)
    login(browser, user)
    api = app.test_client()
    first, second = _api_tokens(api, user), _api_tokens(api, user)  # two devices
    headers = {"Authorization": f"Bearer {first['access_token']}"}
    response = api.post("/api/v1/auth/sign-out-everywhere", headers=headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert not _signed_in(browser)
    assert _session_count(database, user.id) == 0
    assert _refresh(api, first["refresh_token"]).status_code == 401
    assert _refresh(api, second["refresh_token"]).status_code == 401
    assert api.get("/api/v1/me", headers=headers).status_code == 401


def test_sign_out_everywhere_over_the_api_needs_a_token(app: Any, make_user: Any) -> None:
    user = make_user(role="client")
    browser = _browser(app)
    login(browser, user)
    # A browser cookie is not API authentication: that would make it a CSRF target.
    assert browser.post("/api/v1/auth/sign-out-everywhere").status_code == 401
    assert _signed_in(browser)


def test_sign_out_everywhere_leaves_other_accounts_alone(app: Any, make_user: Any) -> None:
    maya, ken = make_user(role="client"), make_user(role="client")
    maya_browser, ken_browser = _browser(app), _browser(app)
    login(maya_browser, maya)
    login(ken_browser, ken)
    ken_tokens = _api_tokens(app.test_client(), ken)
    maya_browser.post(
        "/account/sign-out-everywhere",
        data={"csrf_token": csrf_token(maya_browser, "/account")},
    )
    assert _signed_in(ken_browser)
    assert _refresh(app.test_client(), ken_tokens["refresh_token"]).status_code == 200


def test_password_change_ends_the_other_sessions_and_keeps_this_one(
    app: Any, make_user: Any, database: Database
) -> None:
    user = make_user(role="client")
    phone, laptop = _browser(app, FIREFOX_ANDROID), _browser(app)
    login(phone, user)
    login(laptop, user)
    before_change = _copy_cookie(laptop, app)
    response = laptop.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(laptop, "/account"),
            "current_password": TEST_PASSWORD,
            "new_password": "a brand new password",
        },
    )
    assert response.status_code == 302
    assert not _signed_in(phone)
    # The same session goes on: not a new one under a new cookie.
    assert _signed_in(laptop) and _signed_in(before_change)
    assert _session_count(database, user.id) == 1
    page = laptop.get("/account").get_data(as_text=True)
    assert "Chrome on Linux" in page and "Firefox on Android" not in page


def test_last_used_is_written_at_most_once_a_minute(
    app: Any, make_user: Any, database: Database
) -> None:
    user = make_user(role="client")
    browser = _browser(app)
    login(browser, user)
    long_ago = utcnow() - timedelta(minutes=5)
    with database.session() as session:
        session.execute(
            update(BrowserSession)
            .where(BrowserSession.user_id == user.id)
            .values(last_used_at=long_ago)
        )

    def last_used() -> Any:
        with database.session() as session:
            return session.scalar(
                select(BrowserSession.last_used_at).where(BrowserSession.user_id == user.id)
            )

    assert _signed_in(browser)
    touched = last_used()
    assert touched > long_ago + timedelta(minutes=4)
    assert _signed_in(browser)
    assert last_used() == touched  # under a minute later: no write


def test_a_cookie_from_before_browser_sessions_is_refused(app: Any, make_user: Any) -> None:
    """Cookies minted by the old code named "<user id>:<credentials version>"."""
    user = make_user(role="client")
    browser = _browser(app)
    with browser.session_transaction() as cookie_session:
        cookie_session["_user_id"] = f"{user.id}:1"
        cookie_session["_fresh"] = True
    assert not _signed_in(browser)
