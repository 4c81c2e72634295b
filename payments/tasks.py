"""Background jobs of the payments package: module-level functions handed the
platform and ids, each opening its own database session (rq runs them in
``consult worker``; without Redis they run on the app's thread pool). All are
idempotent: a retried or duplicated job finds the work done and does nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from booking.bookings import Links
from consult.db import utcnow
from consult.jobs import JobQueue
from consult.platform import Platform
from payments import holds, refunds
from payments.dispatch import Work
from payments.gateway import GATEWAY

log = logging.getLogger(__name__)


def _links(platform: Platform) -> Links:
    return Links(base_url=platform.settings.app.base_url)


def expire_hold(platform: Platform, payment_id: int) -> str:
    """At the end of a hold: free the slot unless the payment arrived. A provider that
    cannot be reached raises, so rq retries (the sweep also comes back to it)."""
    return str(
        holds.expire_payment(
            platform.database,
            platform.find(GATEWAY),
            payment_id,
            now=utcnow(),
            links=_links(platform),
        )
    )


def cancel_intent(platform: Platform, payment_id: int) -> str:
    """After a booking waiting for its payment was cancelled: cancel the intent."""
    return str(
        holds.cancel_unpaid(
            platform.database,
            platform.find(GATEWAY),
            payment_id,
            now=utcnow(),
            links=_links(platform),
        )
    )


def send_refund(platform: Platform, refund_id: int) -> str:
    """Send a recorded refund to the provider (failures wait for the sweep)."""
    gateway = platform.find(GATEWAY)
    if gateway is None:
        log.warning("refund %s waits: payments are not configured", refund_id)
        return "skipped"
    return refunds.send_refund(platform.database, gateway, refund_id, now=utcnow())


def sweep(platform: Platform) -> holds.SweepResult:
    """What lost jobs left: holds past their time, intents to cancel, refunds to send."""
    return holds.sweep(
        platform.database, platform.find(GATEWAY), now=utcnow(), links=_links(platform)
    )


class QueueRunner:
    """Enqueues one job per piece of work on the platform's job queue: holds expire at
    their time (rq's scheduler, or a timer in the app), refunds and cancellations now."""

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs

    def run(self, items: Sequence[Work]) -> None:
        for kind, row_id, at in items:
            try:
                if kind == "expire":
                    self.jobs.enqueue(
                        expire_hold,
                        at=at,
                        job_id=f"payments-expire-{row_id}",
                        payment_id=row_id,
                    )
                elif kind == "refund":
                    self.jobs.enqueue(send_refund, refund_id=row_id)
                else:
                    self.jobs.enqueue(cancel_intent, payment_id=row_id)
            except Exception as error:  # Redis down, typically: the sweep takes over
                log.warning("could not enqueue payment job %s %s: %s", kind, row_id, error)
