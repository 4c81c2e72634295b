from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from accounts import services
from accounts.errors import (
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    TooManyAttempts,
    ValidationError,
)
from accounts.models import LoginAttempt, User
from consult.db import Database, utcnow

POLICY = services.LoginPolicy(
    window=timedelta(minutes=5), per_account_and_ip=3, per_ip=10, per_account=6
)
SECRET = "s" * 40


def _register(database: Database, **data: Any) -> User:
    payload = {
        "email": "maya@example.org",
        "password": "long enough password",
        "name": "Maya",
        "role": "professional",
        "timezone": "Europe/Berlin",
        **data,
    }
    with database.session() as session:
        return services.register(session, services.validate_registration(payload, 10))


def test_password_is_stored_as_an_argon2_hash(database: Database) -> None:
    user = _register(database)
    assert user.password_hash.startswith("$argon2id$")
    assert "long enough password" not in user.password_hash


def test_email_is_unique_ignoring_case(database: Database) -> None:
    _register(database, email="Maya@Example.org")
    with pytest.raises(EmailTaken):
        _register(database, email="maya@EXAMPLE.ORG")


def test_one_account_can_hold_both_roles(database: Database) -> None:
    user = _register(database, role="client")
    assert user.roles == ["client"]
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        services.make_professional(session, account)
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None and account.roles == ["professional", "client"]
        assert account.principal


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "x" * 250 + "@a.co"}, "email"),
        ({"email": 42}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 2000}, "password"),
        ({"password": None}, "password"),
        ({"name": ""}, "name"),
        ({"name": "n" * 121}, "name"),
        ({"role": "admin"}, "role"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
    ],
)
def test_registration_validation_names_the_bad_field(payload: dict[str, Any], field: str) -> None:
    data = {"email": "a@b.co", "password": "long enough pw", "name": "A", "role": "client"}
    with pytest.raises(ValidationError) as caught:
        services.validate_registration({**data, **payload}, 10)
    assert field in caught.value.fields


def test_authenticate_checks_the_password(database: Database) -> None:
    _register(database)
    with database.session() as session:
        user = services.authenticate(
            session, "MAYA@example.org", "long enough password", "1.1.1.1", POLICY
        )
        assert user.name == "Maya"
    with database.session() as session, pytest.raises(InvalidCredentials):
        services.authenticate(session, "maya@example.org", "wrong", "1.1.1.1", POLICY)
    with database.session() as session, pytest.raises(InvalidCredentials):
        services.authenticate(session, "nobody@example.org", "wrong", "1.1.1.1", POLICY)


def test_login_is_throttled_per_account_and_address_but_not_for_the_owner_elsewhere(
    database: Database,
) -> None:
    _register(database)
    for _ in range(POLICY.per_account_and_ip):
        with database.session() as session, pytest.raises(InvalidCredentials):
            services.authenticate(session, "maya@example.org", "bad", "6.6.6.6", POLICY)
    # Even the right password is refused from the attacker's address now...
    with database.session() as session, pytest.raises(TooManyAttempts) as caught:
        services.authenticate(
            session, "maya@example.org", "long enough password", "6.6.6.6", POLICY
        )
    assert 0 < caught.value.retry_after <= 5 * 60 + 1
    assert "Try again in 5 minutes" in caught.value.message
    # ...but the owner at home still gets in.
    with database.session() as session:
        services.authenticate(
            session, "maya@example.org", "long enough password", "2.2.2.2", POLICY
        )


def test_the_per_account_limit_expires_after_the_window(database: Database) -> None:
    _register(database)
    now = utcnow()
    for index in range(POLICY.per_account):
        with database.session() as session, pytest.raises((InvalidCredentials, TooManyAttempts)):
            services.authenticate(
                session, "maya@example.org", "bad", f"10.0.0.{index}", POLICY, now=now
            )
    with database.session() as session, pytest.raises(TooManyAttempts):
        services.authenticate(
            session, "maya@example.org", "long enough password", "2.2.2.2", POLICY, now=now
        )
    later = now + POLICY.window + timedelta(seconds=1)
    with database.session() as session:
        services.authenticate(
            session, "maya@example.org", "long enough password", "2.2.2.2", POLICY, now=later
        )


def test_failed_attempts_survive_a_rolled_back_request(database: Database) -> None:
    _register(database)
    session = database.sessionmaker()
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, "maya@example.org", "bad", "6.6.6.6", POLICY)
    session.rollback()
    session.close()
    with database.session() as session:
        assert session.scalar(select(LoginAttempt.id).limit(1)) is not None


def test_change_password_requires_the_current_one_and_bumps_the_version(
    database: Database,
) -> None:
    user = _register(database)
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        with pytest.raises(ValidationError) as caught:
            services.change_password(session, account, "wrong", "a new long password", 10)
        assert "current_password" in caught.value.fields
        with pytest.raises(ValidationError) as caught:
            services.change_password(session, account, "long enough password", "short", 10)
        assert "new_password" in caught.value.fields
        services.change_password(
            session, account, "long enough password", "a new long password", 10
        )
        assert account.credentials_version == 2
    with database.session() as session:
        services.authenticate(session, "maya@example.org", "a new long password", "1.1.1.1", POLICY)


def test_app_passwords_are_shown_once_stored_hashed_and_revocable(database: Database) -> None:
    user = _register(database)
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        app_password, secret = services.create_app_password(session, account, "Maya's iPhone")
        assert secret not in app_password.secret_hash
        app_password_id = app_password.id
    with database.session() as session:
        found, used = services.authenticate_dav(
            session, "maya@example.org", secret.upper().replace("-", " "), "1.1.1.1", POLICY
        )
        assert found.id == user.id and used is not None and used.id == app_password_id
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        assert services.revoke_app_password(session, account, app_password_id) is not None
    with database.session() as session, pytest.raises(InvalidCredentials):
        services.authenticate_dav(session, "maya@example.org", secret, "1.1.1.1", POLICY)


def test_nobody_revokes_another_users_app_password(database: Database) -> None:
    maya = _register(database)
    ken = _register(database, email="ken@example.org")
    with database.session() as session:
        account = session.get(User, maya.id)
        assert account is not None
        app_password, _ = services.create_app_password(session, account, "phone")
    with database.session() as session:
        other = session.get(User, ken.id)
        assert other is not None
        assert services.revoke_app_password(session, other, app_password.id) is None


def test_refresh_tokens_rotate_and_a_replay_revokes_the_family(database: Database) -> None:
    user = _register(database)
    ttl = (timedelta(minutes=15), timedelta(days=30))
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        first = services.issue_tokens(session, account, SECRET, *ttl)
    with database.session() as session:
        assert services.user_from_access_token(session, first.access_token, SECRET).id == user.id
        second = services.refresh_tokens(session, first.refresh_token, SECRET, *ttl)
    with database.session() as session, pytest.raises(InvalidToken, match="already used"):
        services.refresh_tokens(session, first.refresh_token, SECRET, *ttl)
    # The replay revoked the newer token too: it was issued to whoever copied the old one.
    with database.session() as session, pytest.raises(InvalidToken):
        services.refresh_tokens(session, second.refresh_token, SECRET, *ttl)


def test_access_tokens_expire_and_die_with_a_password_change(database: Database) -> None:
    user = _register(database)
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        expired = services.issue_tokens(
            session, account, SECRET, timedelta(seconds=-1), timedelta(days=1)
        )
        live = services.issue_tokens(
            session, account, SECRET, timedelta(minutes=5), timedelta(days=1)
        )
    with database.session() as session, pytest.raises(InvalidToken, match="expired"):
        services.user_from_access_token(session, expired.access_token, SECRET)
    with database.session() as session, pytest.raises(InvalidToken):
        services.user_from_access_token(
            session, live.access_token, "another-secret-key-" + "y" * 32
        )
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        services.change_password(session, account, "long enough password", "another long one", 10)
    with database.session() as session, pytest.raises(InvalidToken, match="no longer valid"):
        services.user_from_access_token(session, live.access_token, SECRET)


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Chrome on macOS",
        ),
        ("curl/8.5.0", "Unknown browser"),
        ("", "Unknown browser"),
        (None, "Unknown browser"),
    ],
)
def test_user_agent_summary(user_agent: str | None, summary: str) -> None:
    assert services.summarize_user_agent(user_agent) == summary


def test_browser_session_touch_at_most_once_a_minute(database: Database) -> None:
    user = _register(database)
    with database.session() as session:
        browser_session, token = services.start_browser_session(session, user, None)
        assert services.find_browser_session(session, token) is not None
        assert services.find_browser_session(session, token + "x") is None
        started = browser_session.last_used_at
        assert not services.touch_browser_session(browser_session, started + timedelta(seconds=59))
        later = started + timedelta(seconds=61)
        assert services.touch_browser_session(browser_session, later)
        assert browser_session.last_used_at == later
        services.end_browser_session(session, token)
        assert services.find_browser_session(session, token) is None
