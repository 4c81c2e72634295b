"""The platform's one kind of background thread: a step run again and again.

Sweeps (payments, notifications), the in-process notification scheduler and the
maintenance loop are all a :class:`Periodic`: it runs ``step``, then sleeps for
what ``step`` returned (seconds; ``None`` means the whole ``interval``), at most
``interval``, or until :meth:`wake`. A failing step is logged once per outage
(the database being down, say) and retried every ``interval``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``step`` on a daemon thread named ``name`` until :meth:`stop`.

    ``wait_first``: sleep one interval before the first step (upkeep that the
    start of the process need not do at once).
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], float | None],
        interval: float,
        *,
        wait_first: bool = False,
    ) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._wait_first = wait_first
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._failing = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self.thread.start()
        return self

    def wake(self) -> None:
        """Run the step now (or as soon as the current one ends)."""
        self._wake.set()

    def stop(self, timeout: float = 10) -> None:
        self._stopped.set()
        self._wake.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=timeout)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _run(self) -> None:
        if self._wait_first:
            self._wake.wait(self._interval)
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                returned = self._step()
                delay = self._interval if returned is None else min(self._interval, returned)
                if self._failing:
                    log.info("%s recovered", self.name)
                self._failing = False
            except Exception:
                if not self._failing:
                    log.exception("%s failed; retrying every %ss", self.name, self._interval)
                self._failing = True
                delay = self._interval
            self._wake.wait(max(0.0, delay))
