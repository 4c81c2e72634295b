"""The job queue port: rq on real Redis with a platform worker, and the in-process
pool. Both hand every job the platform it runs in."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from consult.db import utcnow
from consult.jobs import DEFAULT_QUEUE, InProcessQueue, RQQueue

RESULTS: list[tuple[object, ...]] = []


def record(platform: object, **kwargs: object) -> None:
    RESULTS.append((platform, tuple(sorted(kwargs.items()))))


def test_rq_jobs_get_the_workers_platform_and_their_keywords(redis_url: str) -> None:
    RESULTS.clear()
    queue = RQQueue(redis_url)
    queue.enqueue(record, n=1, word="two")
    queue.enqueue(record, job_id="job-three", n=3)
    # In this process (no fork), so the results stay here to check.
    queue.worker((DEFAULT_QUEUE,), platform="the platform", forking=False).work(burst=True)
    assert sorted(RESULTS, key=str) == sorted(
        [("the platform", (("n", 1), ("word", "two"))), ("the platform", (("n", 3),))], key=str
    )


def test_rq_queue_cancels_a_timed_job(redis_url: str) -> None:
    queue = RQQueue(redis_url)
    job_id = queue.enqueue(record, at=utcnow() + timedelta(hours=1), job_id="later", n=9)
    assert job_id == "later"
    assert queue.queue.scheduled_job_registry.get_job_ids() == ["later"]
    queue.cancel("later")
    assert queue.queue.scheduled_job_registry.get_job_ids() == []


def test_in_process_queue_hands_its_platform_runs_now_and_later_and_cancels() -> None:
    queue = InProcessQueue("the platform")
    done = threading.Event()
    later: list[tuple[object, int]] = []
    queue.enqueue(lambda platform: done.set() if platform == "the platform" else None)
    assert done.wait(5)
    queue.enqueue(
        lambda platform, n: later.append((platform, n)),
        at=utcnow() + timedelta(seconds=0.2),
        job_id="a",
        n=1,
    )
    queue.enqueue(
        lambda platform, n: later.append((platform, n)),
        at=utcnow() + timedelta(seconds=0.2),
        job_id="b",
        n=2,
    )
    queue.cancel("b")
    time.sleep(1)
    assert later == [("the platform", 1)]
    queue.shutdown()
