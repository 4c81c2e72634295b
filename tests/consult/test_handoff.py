"""Work noted on a session is handed over after its outer commit, only then, only
for that database's sessions, and never for a rollback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from consult.db import Database
from consult.handoff import CommitHandOff, note


class Recorder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, items: Sequence[str]) -> None:
        self.calls.append(list(items))


@pytest.mark.parametrize("db_backend", ["postgresql", "sqlite"], indirect=True)
def test_items_are_handed_over_after_the_outer_commit_only(database: Any) -> None:
    recorder = Recorder()
    CommitHandOff[str]("test.items", recorder).listen(database)
    with database.session() as session:
        note(session, "test.items", "one")
        with session.begin_nested():  # a SAVEPOINT released is not a commit
            note(session, "test.items", "two")
        try:
            with session.begin_nested():
                note(session, "test.items", "three")
                raise RuntimeError
        except RuntimeError:
            pass
        assert recorder.calls == []
    # Items noted in a rolled-back savepoint stay in the list: whoever gets them
    # finds no row behind them (as the outbox's senders do).
    assert recorder.calls == [["one", "two", "three"]]

    with pytest.raises(RuntimeError), database.session() as session:
        note(session, "test.items", "four")
        raise RuntimeError
    assert len(recorder.calls) == 1  # a rolled-back transaction is never handed over
    with database.session() as session:
        note(session, "other.key", "five")
    assert len(recorder.calls) == 1  # another key: someone else's


def test_a_listener_hears_only_its_own_databases_sessions(database: Any, tmp_path: Any) -> None:
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    recorder = Recorder()
    CommitHandOff[str]("test.items", recorder).listen(other)
    with database.session() as session:
        note(session, "test.items", "not for the other database")
    assert recorder.calls == []
    with other.session() as session:
        note(session, "test.items", "for it")
    assert recorder.calls == [["for it"]]
    other.dispose()
