"""Background jobs of the payments package: module-level functions taking ids, each
opening its own database session (rq runs them in ``consult worker``; without Redis
they run on the app's thread pool). All are idempotent: a retried or duplicated job
finds the work done and does nothing."""

from __future__ import annotations

import logging

from booking.bookings import Links
from consult.db import utcnow
from payments import dispatch, holds, refunds, runtime
from payments.runtime import gateway_for
from runtime.worker import job_database, job_settings

log = logging.getLogger(__name__)


def _links() -> Links:
    return Links(base_url=job_settings().app.base_url)


def _prepare() -> None:
    """In ``consult worker`` nothing else starts payments: subscribe to booking changes
    (a job that cancels a paid booking must record its refund) and hand work recorded
    here to rq. In the app process both are already in place."""
    runtime.install()
    settings = job_settings()
    if dispatch.get_runner() is None and settings.redis.url:
        from consult.jobs import RQQueue

        dispatch.set_runner(dispatch.QueueRunner(RQQueue(settings.redis.url)))


def expire_hold(payment_id: int) -> str:
    """At the end of a hold: free the slot unless the payment arrived. A provider that
    cannot be reached raises, so rq retries (the sweep also comes back to it)."""
    _prepare()
    settings = job_settings()
    return str(
        holds.expire_payment(
            job_database(), gateway_for(settings), payment_id, now=utcnow(), links=_links()
        )
    )


def cancel_intent(payment_id: int) -> str:
    """After a booking waiting for its payment was cancelled: cancel the intent."""
    _prepare()
    settings = job_settings()
    return str(
        holds.cancel_unpaid(
            job_database(), gateway_for(settings), payment_id, now=utcnow(), links=_links()
        )
    )


def send_refund(refund_id: int) -> str:
    """Send a recorded refund to the provider (failures wait for the sweep)."""
    _prepare()
    settings = job_settings()
    gateway = gateway_for(settings)
    if gateway is None:
        log.warning("refund %s waits: payments are not configured", refund_id)
        return "skipped"
    return refunds.send_refund(job_database(), gateway, refund_id, now=utcnow())


def sweep() -> holds.SweepResult:
    """What lost jobs left: holds past their time, intents to cancel, refunds to send."""
    _prepare()
    settings = job_settings()
    return holds.sweep(job_database(), gateway_for(settings), now=utcnow(), links=_links())
