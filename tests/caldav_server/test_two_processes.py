"""Two app processes (``consult serve``) on one database, as in production with
several gunicorn workers or machines: what one writes the other sees, and
concurrent writes through both lose nothing and never duplicate a UID."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from caldav_server.store import CalendarStore
from consult.db import Database
from tests.caldav_server.conftest import DavUser, make_event
from tests.helpers import TEST_SECRET_KEY, free_port

pytestmark = [
    pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True),
    pytest.mark.slow,
]

# `python -m runtime.cli` is the `consult` command, run from the checkout so it
# sees the source tree even when the editable install predates a new package.
CONSULT = [sys.executable, "-m", "runtime.cli"]
REPO = Path(__file__).resolve().parents[2]


def _start(database_url: str, data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "CONSULT_CONFIG": os.devnull,
        "CONSULT_DATABASE_URL": database_url,
        "CONSULT_DATA_DIR": str(data_dir),
        "CONSULT_SECRET_KEY": TEST_SECRET_KEY,
        "CONSULT_BASE_URL": f"http://127.0.0.1:{port}",
        "CONSULT_APP_AUTO_MIGRATE": "false",
        "CONSULT_REDIS_URL": "",
    }
    process = subprocess.Popen(
        [*CONSULT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"consult serve exited:\n{log.read_text(errors='replace')}")
        try:
            requests.get(url + "/dav/", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail(f"consult serve did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two `consult serve` processes on the test database; their base URLs."""
    started = []
    for name in ("a", "b"):
        log = tmp_path / f"serve-{name}.log"
        process, url = _start(database_url, tmp_path / f"data-{name}", log)
        started.append((process, url, log))
    try:
        for process, url, log in started:
            _wait_until_up(url, process, log)
        yield [url for _, url, _ in started]
    finally:
        for process, _, _ in started:
            process.terminate()
        for process, _, _ in started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def users(servers: list[str], make_user: Any) -> list[DavUser]:
    """The same professional as seen through each process."""
    user = make_user(role="professional")
    return [
        DavUser(url + "/dav", user.principal, user.email, user.test_password) for url in servers
    ]


def _uids(database: Database, user: DavUser) -> list[str]:
    with database.session() as session:
        items = CalendarStore(session).list_items(f"{user.principal}/bookings")
        return sorted(item.uid or "" for item in items)


def test_what_one_process_writes_the_other_sees(users: list[DavUser]) -> None:
    a, b = users
    assert a.put("x.ics", make_event("x", summary="from A")).status_code == 201
    seen = b.request("GET", b.calendar_url() + "x.ics")
    assert seen.status_code == 200 and "SUMMARY:from A" in seen.text
    assert b.calendar().event_by_uid("x").icalendar_component["SUMMARY"] == "from A"

    assert b.request("DELETE", b.calendar_url() + "x.ics").status_code == 200
    assert a.request("GET", a.calendar_url() + "x.ics").status_code == 404


def test_concurrent_puts_through_both_lose_nothing(
    users: list[DavUser], database: Database
) -> None:
    failures: list[str] = []

    def writer(user: DavUser, number: int) -> None:
        for index in range(10):
            uid = f"p{number}-{index}"
            response = user.put(f"{uid}.ics", make_event(uid))
            if response.status_code != 201:
                failures.append(f"{uid}: {response.status_code}")

    threads = [threading.Thread(target=writer, args=(users[n % 2], n)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(_uids(database, users[0])) == 80
    for user in users:
        assert len(user.calendar().objects_by_sync_token()) == 80


def test_one_uid_is_stored_once_whichever_process_wins(
    users: list[DavUser], database: Database
) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def writer(number: int) -> None:
        barrier.wait()
        user = users[number % 2]
        statuses.append(user.put(f"dup-{number}.ics", make_event("dup")).status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] + [409] * 7
    assert _uids(database, users[0]) == ["dup"]


def test_conditional_updates_never_lose_a_write(users: list[DavUser]) -> None:
    etag = users[0].put("shared.ics", make_event("shared")).headers["ETag"]
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def writer(number: int) -> None:
        barrier.wait()
        user = users[number % 2]
        response = user.put("shared.ics", make_event("shared", summary=f"v{number}"), If_Match=etag)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Every writer read the same etag; exactly one update may win.
    assert sorted(statuses) == [204] + [412] * 7
