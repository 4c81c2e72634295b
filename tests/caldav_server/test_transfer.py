"""Moving in and out: a folder written by stock Radicale imports with its hrefs,
etags and properties, and an exported folder is served by stock Radicale."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from werkzeug.test import Client

from caldav_server.errors import TransferError
from caldav_server.store import CalendarStore
from caldav_server.transfer import export_folder, import_folder
from consult.db import Database
from tests.caldav_server.conftest import make_event
from tests.caldav_server.test_like_file_storage import radicale_app
from tests.helpers import TEST_SECRET_KEY

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)

NS = {"D": "DAV:"}
USER = {"X-Remote-User": "ana"}
VCARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:Sam Client\r\nEND:VCARD\r\n"


def file_app(folder: Path) -> Client:
    return radicale_app({"type": "multifilesystem", "filesystem_folder": str(folder)})


def etags(app: Client, path: str) -> dict[str, str]:
    body = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
    )
    response = app.open(path, method="PROPFIND", data=body, headers={**USER, "Depth": "1"})
    assert response.status_code == 207
    return {
        (entry.findtext("D:href", namespaces=NS) or "").rsplit("/", 1)[-1]: entry.findtext(
            ".//D:getetag", namespaces=NS
        )
        or ""
        for entry in ET.fromstring(response.data).findall("D:response", NS)
        if not (entry.findtext("D:href", namespaces=NS) or "").endswith("/")
    }


@pytest.fixture
def radicale_folder(tmp_path: Path) -> Path:
    """A folder written by stock Radicale: a calendar with properties and events,
    an address book, plus a broken file and a duplicate UID put there by hand."""
    folder = tmp_path / "radicale"
    app = file_app(folder)
    mkcalendar = (
        '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
        ' xmlns:I="http://apple.com/ns/ical/"><D:set><D:prop><D:displayname>Yoga classes'
        "</D:displayname><I:calendar-color>#16a34aff</I:calendar-color></D:prop></D:set>"
        "</C:mkcalendar>"
    )
    assert (
        app.open("/ana/yoga/", method="MKCALENDAR", data=mkcalendar, headers=USER).status_code
        == 201
    )
    for uid in ("class-1", "class-2"):
        response = app.put(
            f"/ana/yoga/{uid}.ics",
            data=make_event(uid, rrule="FREQ=WEEKLY;COUNT=4"),
            headers={**USER, "Content-Type": "text/calendar"},
        )
        assert response.status_code == 201
    mkcol = (
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:CR="urn:ietf:params:xml:ns:carddav">'
        "<D:set><D:prop><D:resourcetype><D:collection/><CR:addressbook/></D:resourcetype>"
        "</D:prop></D:set></D:mkcol>"
    )
    assert app.open("/ana/contacts/", method="MKCOL", data=mkcol, headers=USER).status_code == 201
    assert (
        app.put(
            "/ana/contacts/card-1.vcf", data=VCARD, headers={**USER, "Content-Type": "text/vcard"}
        ).status_code
        == 201
    )
    calendar = folder / "collection-root" / "ana" / "yoga"
    (calendar / "broken.ics").write_text("BEGIN:VCALENDAR\r\nnonsense\r\n", encoding="utf-8")
    (calendar / "copy.ics").write_text(make_event("class-1"), encoding="utf-8")
    return folder


def test_import_keeps_hrefs_etags_and_properties(radicale_folder: Path, database: Database) -> None:
    expected = etags(file_app(radicale_folder), "/ana/yoga/")
    summary = import_folder(database, radicale_folder)
    assert (summary.collections, summary.items) == (3, 3)
    assert sorted(path for path, _ in summary.skipped) == [
        "ana/yoga/broken.ics",
        "ana/yoga/copy.ics",
    ]
    assert "skipped 2" in str(summary)
    with database.session() as session:
        store = CalendarStore(session)
        items = {item.href: item.etag for item in store.list_items("ana/yoga")}
        assert items == {href: etag for href, etag in expected.items() if href.startswith("class")}
        props = store.get_props("ana/yoga")
        assert props["D:displayname"] == "Yoga classes"
        assert props["ICAL:calendar-color"] == "#16a34aff"
        assert store.get_props("ana/contacts")["tag"] == "VADDRESSBOOK"
        assert [i.uid for i in store.list_items("ana/contacts")] == ["card-1"]
    # Importing again replaces rather than duplicates.
    again = import_folder(database, radicale_folder)
    assert again.items == 3
    with database.session() as session:
        assert len(CalendarStore(session).list_items("ana/yoga")) == 2


def test_export_is_served_by_stock_radicale(
    radicale_folder: Path, database: Database, tmp_path: Path
) -> None:
    import_folder(database, radicale_folder)
    with database.session() as session:
        CalendarStore(session).put_item("ana/yoga", make_event("added-here"))
    out = tmp_path / "out"
    summary = export_folder(database, out)
    assert (summary.collections, summary.items) == (3, 4)

    served = file_app(out)
    listed = etags(served, "/ana/yoga/")
    with database.session() as session:
        stored = {i.href: i.etag for i in CalendarStore(session).list_items("ana/yoga")}
    assert listed == stored
    response = served.get("/ana/yoga/added-here.ics", headers=USER)
    assert response.status_code == 200 and "UID:added-here" in response.text
    body = (
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
        "<D:prop><D:displayname/></D:prop></D:propfind>"
    )
    response = served.open(
        "/ana/yoga/", method="PROPFIND", data=body, headers={**USER, "Depth": "0"}
    )
    assert "Yoga classes" in response.text
    assert served.get("/ana/contacts/card-1.vcf", headers=USER).status_code == 200

    with pytest.raises(TransferError):
        export_folder(database, out)


def test_a_folder_that_is_not_radicales_is_refused(database: Database, tmp_path: Path) -> None:
    with pytest.raises(TransferError):
        import_folder(database, tmp_path)


def test_the_cli_imports_and_exports(
    radicale_folder: Path, database_url: str, database: Database, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "CONSULT_CONFIG": os.devnull,
        "CONSULT_DATABASE_URL": database_url,
        "CONSULT_DATA_DIR": str(tmp_path / "data"),
        "CONSULT_SECRET_KEY": TEST_SECRET_KEY,
    }
    consult = [sys.executable, "-m", "runtime.cli"]  # the `consult` command
    repo = Path(__file__).resolve().parents[2]
    imported = subprocess.run(
        [*consult, "dav", "import", str(radicale_folder)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    assert "imported 3 collections and 3 items" in imported.stdout
    exported = subprocess.run(
        [*consult, "dav", "export", str(tmp_path / "out")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "collection-root" / "ana" / "yoga" / "class-1.ics").is_file()
