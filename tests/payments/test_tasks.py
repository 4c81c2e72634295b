"""Payment jobs on rq (real Redis): a hold's expiry is scheduled at the hold's end
with a stable job id, and a job run early does nothing. Against localstripe, a
stand-in for Stripe (see conftest)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from payments import tasks
from tests.factories import at, bearer, next_weekday
from tests.payments.conftest import StandIn, open_shop, payment_settings, wait_for
from tests.payments.test_holds import hold


@pytest.fixture
def settings_overrides(localstripe: str, redis_url: str) -> dict[str, dict[str, Any]]:
    return {**payment_settings(localstripe), "redis": {"url": redis_url}}


def test_the_expiry_is_scheduled_on_rq_at_the_end_of_the_hold(
    platform: Any, client: Any, database: Any, make_user: Any, stand_in: StandIn, redis_url: str
) -> None:
    shop = open_shop(client, database, make_user)
    held = hold(client, shop, make_user(role="client"), at(next_weekday(4, weeks_ahead=2), "09:00"))
    payment = shop.payment(held["id"])
    registry = ScheduledJobRegistry(queue=Queue("default", connection=Redis.from_url(redis_url)))
    job_id = f"payments-expire-{payment.id}"
    assert job_id in registry.get_job_ids()
    scheduled = registry.get_scheduled_time(job_id)
    assert abs(scheduled - payment.hold_expires_at) < timedelta(seconds=1)
    # Run early (a clock that is ahead, a duplicate), the job does nothing.
    assert tasks.expire_hold(platform, payment_id=payment.id) == "not_due"
    assert shop.booking(held["id"]).status == "held"


def test_cancelling_a_held_booking_cancels_the_intent_from_an_rq_worker(
    platform: Any, client: Any, database: Any, make_user: Any, stand_in: StandIn, redis_url: str
) -> None:
    shop = open_shop(client, database, make_user)
    sam = make_user(role="client")
    held = hold(client, shop, sam, at(next_weekday(3, weeks_ahead=2), "09:00"))
    assert (
        client.post(
            f"/api/v1/bookings/{held['id']}/cancel", headers=bearer(database, sam)
        ).status_code
        == 200
    )
    connection = Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    assert any(job.func_name == "payments.tasks.cancel_intent" for job in queue.get_jobs())
    platform.jobs.worker(("default",), platform, forking=False).work(burst=True)
    intent_id = shop.payment(held["id"]).intent_id
    assert stand_in.intent(intent_id)["status"] == "canceled"
    wait_for(lambda: shop.payment(held["id"]).status == "canceled", "the payment to say so")
