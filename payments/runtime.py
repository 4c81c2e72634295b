"""Starting payments in a process: the booking-change subscriber and the session
listeners (:func:`install`), the gateway for the process's settings
(:func:`gateway_for`), and the sweep thread (:class:`Sweeper`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from consult.config import Settings
from payments.gateway import GatewayConfig, PaymentGateway, create_gateway

log = logging.getLogger(__name__)

_installed = False
_gateways: dict[tuple[GatewayConfig, str], PaymentGateway | None] = {}
_gateways_lock = threading.Lock()


def install() -> None:
    """Subscribe to booking changes and session commits (idempotent)."""
    global _installed
    if _installed:
        return
    from booking import events
    from payments import dispatch
    from payments.refunds import on_booking_changed

    events.subscribe(on_booking_changed)
    dispatch.listen()
    _installed = True


def gateway_for(settings: Settings) -> PaymentGateway | None:
    """The gateway for ``settings`` (one per distinct configuration in the process),
    or None when no secret key is set."""
    key = (GatewayConfig.from_settings(settings), settings.payments.gateway)
    with _gateways_lock:
        if key not in _gateways:
            _gateways[key] = create_gateway(settings)
        return _gateways[key]


class Sweeper:
    """A daemon thread that runs ``sweep`` every ``interval`` seconds until stopped."""

    def __init__(self, sweep: Callable[[], Any], interval: float) -> None:
        self._sweep = sweep
        self._interval = interval
        self._stopped = threading.Event()
        self._failing = False
        self.thread = threading.Thread(target=self._run, name="payments-sweep", daemon=True)

    def start(self) -> Sweeper:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._sweep()
                self._failing = False
            except Exception:
                # The database or the provider down, say: log once per outage.
                if not self._failing:
                    log.exception("payments sweep failed; retrying every %ss", self._interval)
                self._failing = True
