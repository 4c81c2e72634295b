"""Bounded caches of data derived from one database (open hours computed from a
calendar, a professional's next free slot).

A cache belongs to the :class:`~consult.db.Database` whose rows it is derived
from, so two platforms on two databases never see each other's answers. Keys must
change whenever the source changes (a calendar's ctag, a fingerprint of the rows):
nothing here invalidates.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

V = TypeVar("V")

# Where a session keeps its database's caches (see consult.db.Database).
SESSION_CACHES = "consult.caches"


class LRUCache(Generic[V]):
    """At most ``size`` entries, least recently used dropped first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def stats(self) -> dict[str, int]:
        """Hits and misses since the cache was made or cleared, and its size."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "size": len(self._entries)}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


class DerivedCaches:
    """The named caches of one database."""

    def __init__(self) -> None:
        self._caches: dict[str, LRUCache[Any]] = {}
        self._lock = threading.Lock()

    def cache(self, name: str, size: int) -> LRUCache[Any]:
        """The cache called ``name`` (made with ``size`` on first use)."""
        with self._lock:
            found = self._caches.get(name)
            if found is None:
                found = self._caches[name] = LRUCache(size)
            return found


def caches_of(session: Session) -> DerivedCaches:
    """The caches of the database that made ``session``."""
    try:
        caches: DerivedCaches = session.info[SESSION_CACHES]
    except KeyError:
        raise LookupError("this session was not made by a consult.db.Database") from None
    return caches
