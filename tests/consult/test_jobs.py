"""The job queue port: rq on real Redis with a burst worker, and the in-process pool."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from redis import Redis
from rq import SimpleWorker

from consult.db import utcnow
from consult.jobs import DEFAULT_QUEUE, InProcessQueue, RQQueue

RESULTS: list[tuple[object, ...]] = []


def record(*args: object, **kwargs: object) -> None:
    RESULTS.append((*args, tuple(sorted(kwargs.items()))))


def test_rq_queue_passes_positional_and_keyword_arguments(redis_url: str) -> None:
    RESULTS.clear()
    queue = RQQueue(redis_url)
    queue.enqueue(record, 1, "two", flag=True)
    queue.enqueue(record, 3, job_id="job-three")
    connection = Redis.from_url(redis_url)
    SimpleWorker([DEFAULT_QUEUE], connection=connection).work(burst=True)
    assert sorted(RESULTS, key=str) == sorted([(1, "two", (("flag", True),)), (3, ())], key=str)


def test_rq_queue_cancels_a_timed_job(redis_url: str) -> None:
    queue = RQQueue(redis_url)
    job_id = queue.enqueue(record, 9, at=utcnow() + timedelta(hours=1), job_id="later")
    assert job_id == "later"
    assert queue.queue.scheduled_job_registry.get_job_ids() == ["later"]
    queue.cancel("later")
    assert queue.queue.scheduled_job_registry.get_job_ids() == []


def test_in_process_queue_runs_now_and_later_and_cancels() -> None:
    queue = InProcessQueue()
    done = threading.Event()
    later: list[int] = []
    queue.enqueue(done.set)
    assert done.wait(5)
    queue.enqueue(later.append, 1, at=utcnow() + timedelta(seconds=0.2), job_id="a")
    queue.enqueue(later.append, 2, at=utcnow() + timedelta(seconds=0.2), job_id="b")
    queue.cancel("b")
    time.sleep(1)
    assert later == [1]
    queue.shutdown()
