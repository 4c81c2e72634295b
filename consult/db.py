"""Database plumbing shared by every package: the declarative base with stable
constraint names, a UTC-aware datetime column type, and :class:`Database`, which
owns one engine and its session factory per URL.

PostgreSQL is the production database, SQLite the embedded default; both go
through the same SQLAlchemy code. Anything that differs between them is kept
here (connection pragmas, advisory locks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from consult.cache import SESSION_CACHES, DerivedCaches

NAMING_CONVENTION = MappingProxyType(
    {
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime. Naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps no zone; store naive UTC there and restore the zone on load.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """One engine and its session factories for a database URL.

    ``session()`` is a context manager that commits on success and rolls back on
    error. A platform owns one :class:`Database` (the Radicale plugins are handed
    it), so two platforms in one process share no pool, listener or cache. ``info``
    is copied into every session's ``Session.info`` (the platform puts its hooks
    there, see :func:`consult.hookspecs.hooks_of`), beside the database's
    :class:`~consult.cache.DerivedCaches` (:func:`consult.cache.caches_of`).
    """

    def __init__(
        self, url: str, pool_size: int = 10, *, info: dict[str, Any] | None = None
    ) -> None:
        self.url = url
        self.engine = _create_engine(url, pool_size)
        self.caches = DerivedCaches()
        session_info = {**(info or {}), SESSION_CACHES: self.caches}
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info=session_info)
        # Read-only work need not queue behind SQLite's single writer.
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"),
            expire_on_commit=False,
            info=session_info,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, readonly: bool = False) -> Iterator[Session]:
        session = (self.read_sessionmaker if readonly else self.sessionmaker)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def listen(self, name: str, listener: Callable[..., Any]) -> None:
        """Listen to session event ``name`` on the sessions this database makes only
        (each sessionmaker has a Session subclass of its own)."""
        event.listen(self.sessionmaker, name, listener)
        event.listen(self.read_sessionmaker, name, listener)

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # Each thread gets its own connection; SQLite serialises writers itself.
            poolclass=NullPool if ":memory:" not in url else None,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling defers it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so two writers never both read an
    # old state and then fail to upgrade their lock (SQLite's "database is locked").
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` from a name."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def advisory_lock(session: Session, name: str) -> None:
    """Hold an exclusive lock on ``name`` until the session's transaction ends.

    PostgreSQL: a transaction-scoped advisory lock, so it works across processes and
    machines. SQLite: every write transaction already holds the database's single
    write lock (BEGIN IMMEDIATE), so there is nothing more to take.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    key = lock_key(name)
    # Already held in this transaction: skip the round trip (the lock is reentrant).
    held: set[int] = transaction_memo(session).setdefault("advisory_locks", set())
    if key in held:
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    held.add(key)


def transaction_memo(session: Session) -> dict[Any, Any]:
    """A dict that lives as long as the session's current (innermost) transaction:
    facts learnt in it that later steps of the same transaction may rely on."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    if transaction is None:  # not begun yet: begin it, so the memo is this one's
        session.connection()
        transaction = session.get_transaction()
    memo = session.info.get(_MEMO)
    # Holding the transaction object keeps it alive, so a later transaction is
    # never mistaken for it.
    if memo is None or memo[0] is not transaction:
        memo = session.info[_MEMO] = (transaction, {})
    return memo[1]  # type: ignore[no-any-return]


_MEMO = "consult.transaction_memo"
