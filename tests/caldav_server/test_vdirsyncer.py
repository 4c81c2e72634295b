"""Two-way sync with vdirsyncer (a real CalDAV client, run as a program) between
the server and a local folder of .ics files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caldav_server.store import CalendarStore
from consult.db import Database
from tests.caldav_server.conftest import DavUser, make_event

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

VDIRSYNCER = shutil.which("vdirsyncer", path=str(Path(sys.executable).parent)) or "vdirsyncer"


def vdirsyncer(config: Path, *args: str) -> str:
    result = subprocess.run(
        [VDIRSYNCER, "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        input="y\n" * 5,
        env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.fixture
def sync_config(tmp_path: Path, dav_user: DavUser) -> Path:
    local = tmp_path / "local"
    local.mkdir()
    config = tmp_path / "vdirsyncer.conf"
    config.write_text(
        f"""
[general]
status_path = "{tmp_path / "status"}/"

[pair bookings]
a = "phone"
b = "server"
collections = null
conflict_resolution = "b wins"

[storage phone]
type = "filesystem"
path = "{local}/"
fileext = ".ics"

[storage server]
type = "caldav"
url = "{dav_user.calendar_url()}"
username = "{dav_user.email}"
password = "{dav_user.password}"
""",
        encoding="utf-8",
    )
    return config


def server_uids(database: Database, user: DavUser) -> dict[str, str]:
    with database.session() as session:
        return {
            item.uid or "": item.text
            for item in CalendarStore(session).list_items(f"{user.principal}/bookings")
        }


def local_uids(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.glob("*.ics"):
        text = path.read_text(encoding="utf-8")
        uid = next(line[4:] for line in text.splitlines() if line.startswith("UID:"))
        found[uid] = text
    return found


def test_two_way_sync(
    sync_config: Path, dav_user: DavUser, database: Database, tmp_path: Path
) -> None:
    for uid in ("one", "two", "three"):
        assert dav_user.put(f"{uid}.ics", make_event(uid, summary=uid)).status_code == 201
    vdirsyncer(sync_config, "discover")
    vdirsyncer(sync_config, "sync")
    local = tmp_path / "local"
    assert sorted(local_uids(local)) == ["one", "three", "two"]

    # The phone adds and edits; the server side deletes one.
    (local / "four.ics").write_text(make_event("four", summary="four"), encoding="utf-8")
    two = next(p for p in local.glob("*.ics") if "UID:two" in p.read_text(encoding="utf-8"))
    two.write_text(make_event("two", summary="two edited"), encoding="utf-8")
    assert dav_user.request("DELETE", dav_user.calendar_url() + "three.ics").status_code == 200

    vdirsyncer(sync_config, "sync")
    server = server_uids(database, dav_user)
    assert sorted(server) == ["four", "one", "two"]
    assert "SUMMARY:two edited" in server["two"]
    assert sorted(local_uids(local)) == ["four", "one", "two"]

    # Nothing left to do: a second sync changes nothing on either side.
    before = (server_uids(database, dav_user), local_uids(local))
    vdirsyncer(sync_config, "sync")
    assert (server_uids(database, dav_user), local_uids(local)) == before
