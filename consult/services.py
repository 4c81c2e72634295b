"""A platform's services: each port registered once with a factory, found by its key
(like Warehouse's ``request.find_service``).

A package's ``include(platform)`` registers the ports it provides; views and jobs
find them on the platform they were handed. A :class:`Port` is a typed key (a
Protocol cannot be a ``type[T]`` argument to mypy), declared beside the Protocol it
stands for::

    MAILER: Port[Mailer] = Port("mailer")
    platform.services.register(MAILER, lambda: create_mailer(settings))
    mailer = platform.services.find(MAILER)

Factories run on first use, once per registry, under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Port(Generic[T]):
    """The key of one service; ``name`` is for messages only."""

    name: str

    def __repr__(self) -> str:
        return f"Port({self.name!r})"


class ServiceNotRegistered(LookupError):
    """Nothing provides the port in this platform (its package was not included)."""


class ServiceRegistry:
    """Ports and their factories; built instances are kept for the registry's life."""

    def __init__(self) -> None:
        self._factories: dict[Port[Any], Callable[[], Any]] = {}
        self._instances: dict[Port[Any], Any] = {}
        self._lock = threading.RLock()

    def register(self, port: Port[T], factory: Callable[[], T]) -> None:
        """Provide ``port`` by calling ``factory()`` on first use. Registering a port
        twice is refused: one obvious provider for each."""
        with self._lock:
            if port in self._factories:
                raise ValueError(f"{port!r} is registered already")
            self._factories[port] = factory

    def provide(self, port: Port[T], instance: T) -> None:
        """Provide ``port`` with an instance built already."""
        self.register(port, lambda: instance)

    def find(self, port: Port[T]) -> T:
        """The service for ``port``; ServiceNotRegistered when nothing provides it."""
        with self._lock:
            if port in self._instances:
                return cast(T, self._instances[port])
            factory = self._factories.get(port)
            if factory is None:
                raise ServiceNotRegistered(f"nothing provides {port!r} on this platform")
            instance = self._instances[port] = factory()
            return cast(T, instance)

    def find_built(self, port: Port[T]) -> T | None:
        """The service for ``port`` if it was built already, else None (for shutdown)."""
        with self._lock:
            return cast("T | None", self._instances.get(port))

    def provides(self, port: Port[Any]) -> bool:
        with self._lock:
            return port in self._factories

    def built(self) -> list[Any]:
        """The instances built so far, oldest first."""
        with self._lock:
            return list(self._instances.values())
