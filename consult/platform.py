"""What one process of the platform is made of: its settings, database, job queue,
hooks and services, built once and handed to whoever needs them.

A :class:`Platform` is created by the composition root
(:func:`runtime.create_platform`), which then calls each package's
``include(platform)``: a package registers its services
(:attr:`Platform.services`), its hook implementations (:attr:`Platform.plugins`)
and the background threads it needs in this role (:meth:`Platform.add_background`,
:meth:`Platform.on_start`). :meth:`start` starts them, :meth:`shutdown` stops
everything, newest first.

Nothing here is global: two platforms in one process (two apps in a test) share no
engine, listener, queue, hook or service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from consult import hookspecs
from consult.config import Settings
from consult.db import Database
from consult.jobs import JobQueue, create_job_queue
from consult.metrics import Metrics
from consult.periodic import Periodic
from consult.services import Port, ServiceRegistry

log = logging.getLogger(__name__)

# "web": an app process; "worker": ``consult worker``; "command": a one-off CLI command.
Role = Literal["web", "worker", "command"]

T = TypeVar("T")


class Platform:
    """One process's platform (see the module docstring)."""

    def __init__(self, settings: Settings, role: Role = "web") -> None:
        self.settings = settings
        self.role: Role = role
        self.plugins = hookspecs.create_plugin_manager()
        self.services = ServiceRegistry()
        self.database = Database(
            settings.database.url,
            settings.database.pool_size,
            info={hookspecs.SESSION_HOOKS: self.plugins.hook},
        )
        self.jobs: JobQueue = create_job_queue(settings.redis.url, self)
        self.metrics = Metrics()
        self._background: list[Periodic] = []
        self._on_start: list[Callable[[], None]] = []
        self._on_shutdown: list[Callable[[], None]] = [self.jobs.shutdown, self.database.dispose]
        self._started = False

    @property
    def hooks(self) -> Any:
        """Call a hook: ``platform.hooks.maintenance(now=...)`` (pluggy's ``HookRelay``)."""
        return self.plugins.hook

    def find(self, port: Port[T]) -> T:
        """Shorthand for ``platform.services.find(port)``."""
        return self.services.find(port)

    def register(self, implementation: object, name: str) -> None:
        """Register an object's :func:`~consult.hookspecs.hookimpl` methods."""
        self.plugins.register(implementation, name=name)

    def add_background(self, task: Periodic) -> Periodic:
        """Run ``task`` from :meth:`start` until :meth:`shutdown`."""
        self._background.append(task)
        if self._started:
            task.start()
        return task

    def on_start(self, start: Callable[[], None]) -> None:
        """Call ``start`` from :meth:`start` (after the background threads start)."""
        self._on_start.append(start)

    def on_shutdown(self, stop: Callable[[], None]) -> None:
        """Call ``stop`` at :meth:`shutdown` (before what was registered earlier)."""
        self._on_shutdown.append(stop)

    def start(self) -> Platform:
        """Start the background threads the packages asked for (once)."""
        if not self._started:
            self._started = True
            for task in self._background:
                task.start()
            for start in self._on_start:
                start()
        return self

    def shutdown(self) -> None:
        """Stop the background threads, then what was registered, newest first. For
        tests and servers that embed the app; a process that exits needs nothing."""
        for task in reversed(self._background):
            task.stop()
        self._background.clear()
        for stop in reversed(self._on_shutdown):
            try:
                stop()
            except Exception:  # one failing stop must not keep the others running
                log.exception("stopping %r failed", stop)
        self._on_shutdown.clear()
