"""Shared fixtures: real PostgreSQL and Redis, a migrated database per test run,
a platform per test, the Flask app, a live threaded server, and account factories.

Layers (as in Flask's tutorial): ``db_backend`` → ``database_url`` → ``settings``
→ ``platform`` (its ``database``) → ``app`` → ``client`` / ``auth``; ``live_server``
runs an app of its own. Tables are emptied before each test rather than rolled
back, because live-server tests talk to the database from other threads and
processes.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa

from consult.config import Settings
from consult.db import Database
from consult.platform import Platform
from runtime.migrate import upgrade
from runtime.platform import create_platform
from tests.helpers import (
    PG_ADMIN_URL,
    REDIS_BASE_URL,
    TEST_PASSWORD,
    TEST_SECRET_KEY,
    AuthActions,
    LiveServer,
    empty_all_tables,
    make_settings,
    start_live_server,
)
from web import build_app

__all__ = ["TEST_PASSWORD", "TEST_SECRET_KEY", "LiveServer", "make_settings", "start_live_server"]


def _run_id(config: pytest.Config) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{worker}_{os.getpid()}_{uuid.uuid4().hex[:6]}"


# --- databases -------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test process; dropped at the end."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"consult_test_{_run_id(pytestconfig)}".lower()
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {error}. "
            "Start it with: pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start",
            returncode=3,
        )
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = sa.create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("sqlite") / "consult.db"
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture(params=["postgresql"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on. Run on both with
    ``@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)``."""
    return str(request.param)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, db_backend: str) -> str:
    """A migrated database whose tables are all empty at the start of the test."""
    fixture = "pg_server_url" if db_backend == "postgresql" else "sqlite_server_url"
    url = str(request.getfixturevalue(fixture))
    empty_all_tables(url)
    return url


# --- redis -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_db_number() -> Iterator[int]:
    """A Redis database number (1-15) no other test run on this machine is using:
    claimed with SET NX in database 0, released at the end of the session."""
    admin = redis_lib.Redis.from_url(f"{REDIS_BASE_URL}/0")
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for _ in range(600):
            for number in range(1, 16):
                if admin.set(f"consult:test-redis-db:{number}", owner, nx=True, ex=3 * 3600):
                    yield number
                    if admin.get(f"consult:test-redis-db:{number}") == owner.encode():
                        admin.delete(f"consult:test-redis-db:{number}")
                    return
            time.sleep(1)
    except redis_lib.exceptions.ConnectionError as error:
        pytest.exit(f"Redis is not reachable at {REDIS_BASE_URL}: {error}", returncode=3)
    pytest.exit("all 15 Redis test databases stayed claimed for 10 minutes", returncode=3)


@pytest.fixture
def redis_url(redis_db_number: int) -> Iterator[str]:
    """A Redis database emptied before and after the test (rq's own test style)."""
    url = f"{REDIS_BASE_URL}/{redis_db_number}"
    connection = redis_lib.Redis.from_url(url)
    try:
        connection.flushdb()
    except redis_lib.exceptions.ConnectionError as error:
        pytest.exit(
            f"Redis is not reachable at {REDIS_BASE_URL}: {error}. Start it with: "
            'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
            returncode=3,
        )
    yield url
    connection.flushdb()
    connection.close()


# --- settings, platform and app ------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """Override in a test module to change settings for its ``platform``, ``app`` and
    ``live_server``."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, settings_overrides: dict[str, dict[str, Any]]
) -> Settings:
    return make_settings(tmp_path, database_url, **settings_overrides)


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    """The test's platform (every package included, background threads running),
    shared by ``database``, ``app`` and ``client``; shut down after the test."""
    built = create_platform(settings, "web").start()
    yield built
    built.shutdown()


@pytest.fixture
def database(platform: Platform) -> Database:
    return platform.database


@pytest.fixture
def db_session(database: Database) -> Iterator[Any]:
    """A session on the test database, committed when the test ends without error."""
    with database.session() as session:
        yield session


@pytest.fixture
def app(platform: Platform) -> Any:
    application = build_app(platform)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def auth(client: Any, database: Database) -> AuthActions:
    """Sign in on ``client``'s pages (``auth.login(user)``) or get API headers
    (``auth.headers(user)``)."""
    return AuthActions(client, database)


# --- live server ------------------------------------------------------------------------


@pytest.fixture
def live_server(
    tmp_path: Path, database_url: str, settings_overrides: dict[str, dict[str, Any]]
) -> Iterator[LiveServer]:
    server = start_live_server(
        lambda url: make_settings(tmp_path, database_url, base_url=url, **settings_overrides)
    )
    yield server
    server.stop()


# --- accounts -------------------------------------------------------------------------------


@pytest.fixture
def make_user(database: Database) -> Callable[..., Any]:
    """Create an account directly through the accounts service.

    ``make_user(role="professional")`` also provisions the principal and its
    Bookings and Availability calendars. The password is ``TEST_PASSWORD`` unless
    given; the returned user carries it as ``user.test_password`` for convenience.
    """
    from accounts.services import Registration, register

    def factory(
        role: str = "professional",
        email: str | None = None,
        password: str = TEST_PASSWORD,
        name: str | None = None,
        timezone: str = "Europe/Berlin",
    ) -> Any:
        email = email or f"{role}-{secrets.token_hex(4)}@example.org"
        with database.session() as session:
            user = register(
                session,
                Registration(email, password, name or role.title(), role, timezone),
            )
            session.flush()
            session.expunge(user)
        user.test_password = password
        return user

    return factory
