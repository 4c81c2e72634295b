"""The per-transaction memo and advisory locks on real PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from consult.db import Database, advisory_lock, lock_key, transaction_memo


def _free_elsewhere(database: Database, name: str) -> bool:
    """Whether another connection could take the lock ``name`` right now."""
    with database.session() as other:
        return bool(
            other.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)})
        )


def test_a_lock_is_taken_again_in_each_transaction_of_one_session(database: Database) -> None:
    session = database.sessionmaker()
    try:
        # The lock is the transaction's first statement, twice in a row: the memo of
        # the first transaction must not make the second one skip it.
        for _ in range(2):
            advisory_lock(session, "dav:maya")
            assert not _free_elsewhere(database, "dav:maya")
            session.commit()
            assert _free_elsewhere(database, "dav:maya")
        session.execute(text("SELECT 1"))
        advisory_lock(session, "dav:maya")
        advisory_lock(session, "dav:maya")  # again in the same transaction: still held
        assert not _free_elsewhere(database, "dav:maya")
        session.rollback()
        assert _free_elsewhere(database, "dav:maya")
    finally:
        session.close()


def test_the_memo_lives_as_long_as_its_transaction(database: Database) -> None:
    session = database.sessionmaker()
    try:
        transaction_memo(session)["fact"] = True
        assert transaction_memo(session)["fact"] is True
        session.rollback()
        assert "fact" not in transaction_memo(session)
        transaction_memo(session)["fact"] = True
        session.commit()
        assert "fact" not in transaction_memo(session)
    finally:
        session.close()
