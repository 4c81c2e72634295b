"""The Radicale storage plugin driven directly, as Radicale's request handlers drive
it: one transaction per lock, rollback when a storage call failed, discover,
verify (``radicale --verify-storage``)."""

from __future__ import annotations

import pytest
import radicale.item as radicale_item
import sqlalchemy as sa
from radicale import config as radicale_config
from radicale import storage

from caldav_server.models import DavItem
from caldav_server.store import CalendarStore
from consult.db import Database
from plugins.storage import Collection, Storage
from tests.caldav_server.conftest import make_event

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)


@pytest.fixture
def plugin(database_url: str) -> Storage:
    configuration = radicale_config.load()
    configuration.update(
        {"storage": {"type": "plugins.storage", "database_url": database_url}},
        "test",
        privileged=True,
    )
    loaded = storage.load(configuration)
    assert isinstance(loaded, Storage)
    with loaded.acquire_lock("w", "kim"):
        loaded.create_collection("/kim/")
        loaded.create_collection("/kim/cal/", props={"tag": "VCALENDAR"})
    return loaded


def item(text: str) -> radicale_item.Item:
    (vobject_item,) = radicale_item.read_components(text)
    radicale_item.check_and_sanitize_items(
        [vobject_item], max_vevent_rrule_occurrence=100, tag="VCALENDAR"
    )
    return radicale_item.Item(collection_path="kim/cal", vobject_item=vobject_item)


def calendar(plugin: Storage) -> Collection:
    found = next(iter(plugin.discover("/kim/cal/")))
    assert isinstance(found, Collection)
    return found


def test_discover(plugin: Storage) -> None:
    with plugin.acquire_lock("w", "kim", path="/kim/cal/a.ics"):
        calendar(plugin).upload("a.ics", item(make_event("a")))
    with plugin.acquire_lock("r", "kim"):
        root, *principals = plugin.discover("/", depth="1")
        assert isinstance(root, Collection) and root.path == ""
        assert [p.path for p in principals] == ["kim"]
        listed = list(plugin.discover("/kim/cal/", depth="1"))
        assert [getattr(x, "href", None) for x in listed] == [None, "a.ics"]
        (found,) = plugin.discover("/kim/cal/a.ics")
        assert isinstance(found, radicale_item.Item) and found.uid == "a"
        assert found.etag == radicale_item.get_etag(found.serialize())
        assert list(plugin.discover("/kim/cal/missing.ics")) == []
        assert list(plugin.discover("/nobody/cal/")) == []


def test_a_failed_write_rolls_back_the_whole_request(plugin: Storage, database: Database) -> None:
    with plugin.acquire_lock("w", "kim", path="/kim/cal/"):
        collection = calendar(plugin)
        collection.upload("one.ics", item(make_event("one")))
        with pytest.raises(ValueError):
            collection.upload("two.ics", item(make_event("one")))  # same UID: refused
        # Radicale answers 400 and leaves the lock normally: nothing may be committed.
    with database.session() as session:
        assert CalendarStore(session).list_items("kim/cal") == []


def test_locks_nest_for_reads_only(plugin: Storage) -> None:
    with plugin.acquire_lock("r", "kim"):
        with plugin.acquire_lock("r", "kim"):
            assert calendar(plugin).tag == "VCALENDAR"
        with pytest.raises(RuntimeError), plugin.acquire_lock("w", "kim"):
            pass


def test_reads_after_the_lock_is_released(plugin: Storage) -> None:
    # Radicale renders PROPFIND answers after leaving its lock.
    with plugin.acquire_lock("w", "kim", path="/kim/cal/a.ics"):
        calendar(plugin).upload("a.ics", item(make_event("a")))
    with plugin.acquire_lock("r", "kim"):
        collection = calendar(plugin)
    token, hrefs = collection.sync()
    assert list(hrefs) == ["a.ics"]
    assert [i.href for i in collection.get_all()] == ["a.ics"]
    assert collection.etag.startswith('"')


def test_verify(plugin: Storage, database: Database) -> None:
    with plugin.acquire_lock("w", "kim", path="/kim/cal/a.ics"):
        calendar(plugin).upload("a.ics", item(make_event("a")))
    with plugin.acquire_lock("r"):
        assert plugin.verify()
    with database.session() as session:
        session.execute(sa.update(DavItem).values(etag='"tampered"'))
    assert not plugin.verify()
