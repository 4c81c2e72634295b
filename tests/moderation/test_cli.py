"""``consult admin create-operator EMAIL`` through :func:`runtime.cli.main`, against
the test's database, and registration never granting the role. PostgreSQL and
SQLite."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from consult.db import Database
from runtime.cli import main
from tests.helpers import TEST_SECRET_KEY, bearer

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def consult(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, capsys: Any) -> Any:
    """``consult("admin", ...)`` → (exit code, stdout, stderr), run in-process with
    the settings an operator would give it in the environment."""
    for name in list(os.environ):
        if name.startswith("CONSULT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONSULT_CONFIG", os.devnull)
    monkeypatch.setenv("CONSULT_DATABASE_URL", database_url)
    monkeypatch.setenv("CONSULT_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("CONSULT_SECRET_KEY", TEST_SECRET_KEY)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def is_operator(database: Database, email: str) -> bool | None:
    with database.session() as session:
        user = session.query(User).filter_by(email_normalized=email.lower()).one_or_none()
        return None if user is None else user.is_operator


def test_create_operator_makes_an_account_with_a_password_shown_once(
    consult: Any, client: Any, database: Database
) -> None:
    code, out, err = consult("admin", "create-operator", "Olga@Example.org")
    assert code == 0, err
    assert "Created the operator account Olga@Example.org." in out
    password = re.search(r"signing in\): (\S+)", out)
    assert password, out
    assert is_operator(database, "olga@example.org") is True
    signed_in = client.post(
        "/api/v1/auth/token", json={"email": "olga@example.org", "password": password.group(1)}
    )
    assert signed_in.status_code == 200, signed_in.get_json()
    headers = {"Authorization": f"Bearer {signed_in.get_json()['access_token']}"}
    assert client.get("/api/v1/operator/reports", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).get_json()["roles"] == []


def test_create_operator_grants_the_role_to_an_existing_account(
    consult: Any, client: Any, database: Database, make_user: Any
) -> None:
    user = make_user(role="client", email="carla@example.org")
    assert client.get("/api/v1/operator/reports", headers=bearer(database, user)).status_code == 404
    code, out, _ = consult("admin", "create-operator", "CARLA@example.org")
    assert code == 0
    assert out.strip() == "carla@example.org is an operator now."
    assert "password" not in out
    assert client.get("/api/v1/operator/reports", headers=bearer(database, user)).status_code == 200
    code, out, _ = consult("admin", "create-operator", "carla@example.org")
    assert code == 0 and "an operator already; nothing changed" in out


@pytest.mark.parametrize(
    "email", ["not-an-email", "", "a@b", "x\x00@example.org", "a" * 250 + "@e.org"]
)
def test_create_operator_refuses_an_invalid_email_with_exit_code_2(
    consult: Any, database: Database, email: str
) -> None:
    code, out, err = consult("admin", "create-operator", email)
    assert code == 2
    assert "is not a usable email address" in err and out == ""
    with database.session() as session:
        assert session.query(User).count() == 0


def test_registration_never_grants_the_role(client: Any, database: Database) -> None:
    registered = client.post(
        "/api/v1/auth/register",
        json={
            "email": "sneaky@example.org",
            "password": "a long enough password",
            "name": "Sneaky",
            "role": "client",
            "is_operator": True,
        },
    )
    assert registered.status_code == 201
    assert is_operator(database, "sneaky@example.org") is False
