"""The ``consult`` command as an operator uses it, in real subprocesses.

The smoke test runs ``consult serve`` on the embedded defaults only (no config
file, no database URL, no Redis): an SQLite file and a generated secret in the
data folder, migrations applied at start. Then the home page, ``/dav/`` and the
``caldav`` client scenario run against it over HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import caldav
import pytest
import requests

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def _consult(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSULT_")}
    env["CONSULT_CONFIG"] = os.devnull
    env["CONSULT_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def embedded_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    env = _base_env(tmp_path)
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"consult serve exited:\n{log.read_text(errors='replace')}")
        try:
            requests.get(url + "/", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"consult serve did not start:\n{log.read_text(errors='replace')}")
    yield url, tmp_path / "data"
    process.terminate()
    process.wait(timeout=30)


def test_serve_on_embedded_defaults_serves_pages_dav_and_a_caldav_client(embedded_server) -> None:  # type: ignore[no-untyped-def]
    url, data_dir = embedded_server
    assert (data_dir / "consult.db").is_file()
    assert (data_dir / "secret_key").is_file()
    home = requests.get(url + "/", timeout=10)
    assert home.status_code == 200 and "<title>" in home.text
    # No base_url configured: every link names the port actually served (issue 14).
    dav_page = requests.get(url + "/dav/", timeout=10)
    assert dav_page.status_code == 200 and f"{url}/dav/" in dav_page.text
    assert (
        requests.get(url + "/.well-known/caldav", allow_redirects=False, timeout=10).status_code
        == 301
    )

    email, password = "maya@example.org", "a long enough password"
    registered = requests.post(
        url + "/api/v1/auth/register",
        json={
            "email": email,
            "password": password,
            "name": "Maya",
            "role": "professional",
            "timezone": "Europe/Berlin",
        },
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    with caldav.DAVClient(url=url + "/dav/", username=email, password=password) as client:
        principal = client.principal()
        calendars = {c.get_display_name(): c for c in principal.calendars()}
        assert set(calendars) == {"Bookings", "Availability"}
        uid = str(uuid.uuid4())
        calendars["Bookings"].save_event(
            "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\nBEGIN:VEVENT\n"
            f"UID:{uid}\nDTSTAMP:20261101T000000Z\nDTSTART:20261210T090000Z\n"
            "DTEND:20261210T100000Z\nSUMMARY:Smoke\nEND:VEVENT\nEND:VCALENDAR\n"
        )
        assert "Smoke" in calendars["Bookings"].event_by_uid(uid).data


def test_db_upgrade_and_config_commands(tmp_path: Path) -> None:
    env = _base_env(tmp_path)
    upgraded = _consult("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    current = _consult("db", "current", env=env)
    assert current.returncode == 0 and current.stdout.strip()
    config = _consult("config", env=env)
    assert config.returncode == 0 and "[database]" in config.stdout


def test_bad_configuration_fails_at_start_naming_option_and_source(tmp_path: Path) -> None:
    env = {**_base_env(tmp_path), "CONSULT_DATABASE_URL": "mysql://nope"}
    result = _consult("serve", "--port", "0", env=env, timeout=60)
    assert result.returncode == 2
    assert "'url' in section [database]" in result.stderr
    assert "CONSULT_DATABASE_URL" in result.stderr


def test_worker_without_redis_explains_itself(tmp_path: Path) -> None:
    result = _consult("worker", "--burst", env=_base_env(tmp_path))
    assert result.returncode == 2
    assert "CONSULT_REDIS_URL" in result.stderr


def test_worker_runs_a_burst_against_redis(tmp_path: Path, redis_url: str) -> None:
    env = {**_base_env(tmp_path), "CONSULT_REDIS_URL": redis_url}
    result = _consult("worker", "--burst", env=env)
    assert result.returncode == 0, result.stderr
