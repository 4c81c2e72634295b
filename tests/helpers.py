"""One copy of each test helper: free ports, CSRF tokens, signing in (the Flask
tutorial's ``AuthActions``), and the settings and live server every test builds on.
Fixtures in ``tests/conftest.py`` hand these out; modules that need one outside a
fixture import it from here."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from werkzeug.serving import BaseWSGIServer, make_server

from accounts.models import User
from accounts.services import issue_tokens
from consult.config import Settings, load_settings
from consult.db import Database
from consult.hookspecs import CalendarItemChanged, hookimpl
from consult.platform import Platform
from runtime import create_app, shutdown_app
from runtime.models import metadata

PG_ADMIN_URL = os.environ.get(
    "CONSULT_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_BASE_URL = os.environ.get("CONSULT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
TEST_PASSWORD = "correct horse battery"


def empty_all_tables(url: str) -> None:
    tables = [table for table in reversed(metadata.sorted_tables)]
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())
    engine.dispose()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def csrf_token(client: Any, path: str, prefix: str = "") -> str:
    """The CSRF token of the form on ``path`` (as a browser would read it); ``prefix``
    for a form whose fields are prefixed (``<prefix>-csrf_token``)."""
    page = client.get(path).get_data(as_text=True)
    return form_token(page, prefix, where=path)


def form_token(page: str, prefix: str = "", where: str = "the page") -> str:
    """The CSRF token of a form in ``page``'s HTML."""
    name = re.escape(f"{prefix}-csrf_token" if prefix else "csrf_token")
    match = re.search(rf'name="{name}" type="hidden" value="([^"]+)"', page) or re.search(
        rf'name="{name}" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {where}"
    return match.group(1)


def bearer(database: Database, user: Any, secret_key: str = TEST_SECRET_KEY) -> dict[str, str]:
    """Authorization headers for ``user`` (minted directly, no login round trip)."""
    with database.session() as session:
        account = session.get(User, user.id)
        assert account is not None
        pair = issue_tokens(session, account, secret_key, timedelta(minutes=30), timedelta(days=1))
    return {"Authorization": f"Bearer {pair.access_token}"}


def login(client: Any, user: Any, password: str | None = None, *, expect_ok: bool = True) -> Any:
    """Post ``client``'s login form for ``user`` (an account or an email address), with
    its CSRF token as a browser would; with ``expect_ok`` assert that it signed in.
    Returns the response."""
    email = user if isinstance(user, str) else user.email
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(client, "/login"),
            "email": email,
            "password": password or getattr(user, "test_password", TEST_PASSWORD),
        },
    )
    if expect_ok:
        assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    return response


class AuthActions:
    """Signs people in, on the pages of ``client`` (with the login form and its CSRF
    token, as a browser does) or on the API (a bearer token)."""

    def __init__(self, client: Any, database: Database, secret_key: str = TEST_SECRET_KEY):
        self.client = client
        self.database = database
        self.secret_key = secret_key

    def login(self, user: Any, password: str | None = None, *, expect_ok: bool = True) -> Any:
        """Sign ``user`` in on the pages (see :func:`login`)."""
        return login(self.client, user, password, expect_ok=expect_ok)

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})

    def headers(self, user: Any) -> dict[str, str]:
        """Bearer headers for the API."""
        return bearer(self.database, user, self.secret_key)


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


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: Settings
    server: BaseWSGIServer

    @property
    def platform(self) -> Platform:
        """The live app's own platform."""
        platform: Platform = self.app.extensions["consult.platform"]
        return platform

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutdown_app(self.app)


def start_live_server(settings_factory: Callable[[str], Settings]) -> LiveServer:
    """Bind a free port first, so the app's base_url can name it, then serve in a thread."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = settings_factory(url)
    application = create_app(settings)
    server = make_server("127.0.0.1", port, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return LiveServer(url, application, settings, server)


class CalendarWriteListener:
    """A hook implementation that calls ``callback(session, change)`` for every
    calendar write of the platform it is registered on."""

    def __init__(self, callback: Callable[[Any, CalendarItemChanged], None]) -> None:
        self.callback = callback

    @hookimpl
    def calendar_item_changed(self, session: Any, change: CalendarItemChanged) -> None:
        self.callback(session, change)


@contextmanager
def listening_to_calendar_writes(
    platform: Platform, callback: Callable[[Any, CalendarItemChanged], None]
) -> Iterator[None]:
    """Call ``callback`` for each calendar write while the block runs."""
    listener = CalendarWriteListener(callback)
    platform.register(listener, f"test-listener-{id(listener)}")
    try:
        yield
    finally:
        platform.plugins.unregister(listener)


class ThrowawayRedis:
    """A Redis server of the test's own on a free port (never the shared one), to stop
    and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, run as the
    ``postgres`` user, trust auth on loopback), to stop and start at will."""

    BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]

    def __init__(self) -> None:
        # Outside pytest's folders: the postgres user must be able to reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="consult-pg-"))
        self.data = self.folder / "pgdata"
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def create(self) -> ThrowawayPostgres:
        shutil.chown(self.folder, "postgres", "postgres")
        self._as_postgres(
            str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )
        return self.start()

    def start(self) -> ThrowawayPostgres:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l",
            str(self.folder / "log"), "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        self._as_postgres(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")

    def remove(self) -> None:
        """Stop it if it runs and delete its folder."""
        try:
            self.stop()
        except subprocess.CalledProcessError:  # not running
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")
