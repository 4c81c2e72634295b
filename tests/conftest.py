"""Shared fixtures: real PostgreSQL and Redis, a migrated database per test run,
the Flask app, a live threaded server, and account factories.

Layers (as in Flask's tutorial): ``db_backend`` → ``database_url`` → ``settings``
→ ``app`` → ``client`` / ``live_server``. Tables are emptied before each test
rather than rolled back, because live-server tests talk to the database from
other threads and processes.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from werkzeug.serving import BaseWSGIServer, make_server

from consult.config import Settings, load_settings
from consult.db import Database, forget_database, get_database
from runtime.migrate import upgrade
from runtime.models import metadata

PG_ADMIN_URL = os.environ.get(
    "CONSULT_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_BASE_URL = os.environ.get("CONSULT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
TEST_PASSWORD = "correct horse battery"


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
    forget_database(url)
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
    forget_database(url)


@pytest.fixture(params=["postgresql"])
def db_backend(request: pytest.FixtureRequest) -> str:
    """Which database a test runs on. Run on both with
    ``@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)``."""
    return str(request.param)


def empty_all_tables(database: Database) -> None:
    tables = [table for table in reversed(metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def database_url(request: pytest.FixtureRequest, db_backend: str) -> str:
    """A migrated database whose tables are all empty at the start of the test."""
    fixture = "pg_server_url" if db_backend == "postgresql" else "sqlite_server_url"
    url = str(request.getfixturevalue(fixture))
    empty_all_tables(get_database(url))
    return url


@pytest.fixture
def database(database_url: str) -> Database:
    return get_database(database_url)


@pytest.fixture
def db_session(database: Database) -> Iterator[Any]:
    """A session on the test database, committed when the test ends without error."""
    with database.session() as session:
        yield session


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


# --- settings and app -----------------------------------------------------------------


def make_settings(
    tmp_path: Path, database_url: str, base_url: str = "http://127.0.0.1:8000", **sections: Any
) -> Settings:
    """Settings for tests: no config file, no environment, explicit overrides."""
    overrides: dict[str, dict[str, Any]] = {
        "app": {
            "data_dir": str(tmp_path / "data"),
            "base_url": base_url,
            "secret_key": TEST_SECRET_KEY,
            "auto_migrate": "false",
        },
        "database": {"url": database_url},
        "redis": {"url": ""},
    }
    for section, values in sections.items():
        overrides.setdefault(section, {}).update(values)
    return load_settings(config_file=os.devnull, environ={}, overrides=overrides)


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """Override in a test module to change settings for its ``app`` and ``live_server``."""
    return {}


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, settings_overrides: dict[str, dict[str, Any]]
) -> Settings:
    return make_settings(tmp_path, database_url, **settings_overrides)


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    from web import create_app, shutdown_app

    application = create_app(settings)
    application.config.update(TESTING=True)
    yield application
    shutdown_app(application)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# --- live server ------------------------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: Settings
    server: BaseWSGIServer

    def stop(self) -> None:
        from web import shutdown_app

        self.server.shutdown()
        self.server.server_close()
        shutdown_app(self.app)


def start_live_server(settings_factory: Callable[[str], Settings]) -> LiveServer:
    """Bind a free port first, so the app's base_url can name it, then serve in a thread."""
    from web import create_app

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_factory(url)
    application = create_app(settings)
    server = make_server("127.0.0.1", port, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return LiveServer(url, application, settings, server)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
