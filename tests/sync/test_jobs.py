"""The job path with real Redis and a real ``consult worker --burst`` process (rq,
forking, as in production): connecting and "sync now" enqueue jobs, the worker
runs them, failures stay with their calendar, and the dispatcher claims what is due
and keeps one tick scheduled."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from consult.config import Settings
from consult.db import utcnow
from runtime import create_app, shutdown_app
from sync.models import ExternalCalendar
from sync.tasks import dispatch_due_job
from tests.factories import at, next_weekday, setup_professional
from tests.helpers import TEST_SECRET_KEY, make_settings
from tests.sync.conftest import sync_settings
from tests.sync.helpers import get_connection, slot_times, vcalendar, vevent, wait_for
from tests.sync.servers.google import GoogleStandIn
from tests.sync.servers.graph import GraphStandIn
from tests.sync.servers.ics import IcsServer
from tests.sync.servers.radicale import PASSWORD, USER, ExternalRadicale

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/external-calendars"


@pytest.fixture
def settings_overrides(
    google: GoogleStandIn, graph: GraphStandIn, redis_url: str
) -> dict[str, dict[str, Any]]:
    return {
        "sync": sync_settings(google, graph, dispatch_seconds="60"),
        "redis": {"url": redis_url},
    }


def run_worker(tmp_path: Path, settings: Settings) -> None:
    """``consult worker --burst`` configured like the app, through the environment."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONSULT_")}
    env.update(
        {
            "CONSULT_CONFIG": os.devnull,
            "CONSULT_DATA_DIR": str(tmp_path / "worker"),
            "CONSULT_DATABASE_URL": settings.database.url,
            "CONSULT_REDIS_URL": settings.redis.url,
            "CONSULT_SECRET_KEY": TEST_SECRET_KEY,
            "CONSULT_SYNC_ALLOW_PRIVATE_ADDRESSES": "true",
            "CONSULT_SYNC_DISPATCH_SECONDS": "60",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "worker", "--burst"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_sync_jobs_run_in_a_real_rq_worker(
    client: Any,
    database: Any,
    make_user: Any,
    ics: IcsServer,
    radicale: ExternalRadicale,
    redis_url: str,
    settings: Settings,
    tmp_path: Path,
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    day = next_weekday(1)
    ics.publish("feed", vcalendar(vevent("a", at(day, "10:00"), at(day, "11:00"))))
    ics.publish("broken", vcalendar(), status=500)
    work = radicale.new_calendar()
    radicale.put(work, "b", vcalendar(vevent("b", at(day, "14:00"), at(day, "15:00"))))
    ids = [
        client.post(URL, json=payload, headers=headers).get_json()["id"]
        for payload in (
            {"kind": "ics", "url": ics.url("feed")},
            {"kind": "caldav", "url": work, "username": USER, "password": PASSWORD},
            {"kind": "ics", "url": ics.url("broken")},
        )
    ]
    connection = Redis.from_url(redis_url)
    queue = Queue("default", connection=connection)
    assert queue.count == 3  # one sync job per connection, nothing ran yet
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith("calendar-sync-dispatch-60-")
    assert {get_connection(client, headers, i)["status"] for i in ids} == {"pending"}
    assert "10:40" in slot_times(client, service["id"], day)

    run_worker(tmp_path, settings)
    feed, caldav_, broken = (get_connection(client, headers, i) for i in ids)
    assert feed["status"] == "ok" and feed["mirror"]["events"] == 1
    assert caldav_["status"] == "ok" and caldav_["mirror"]["events"] == 1
    assert broken["status"] == "error" and "HTTP 500" in broken["last_error"]
    # The worker's writes reached the busy-time index.
    assert [
        t
        for t in ("09:50", "10:40", "14:00", "14:50")
        if t in slot_times(client, service["id"], day)
    ] == []

    # Sync now: 202, a job, and the worker picks up the change.
    ics.publish("feed", vcalendar())
    response = client.post(f"{URL}/{ids[0]}/sync", headers=headers)
    assert response.status_code == 202 and queue.count == 1
    run_worker(tmp_path, settings)
    assert get_connection(client, headers, ids[0])["mirror"]["events"] == 0
    assert "10:40" in slot_times(client, service["id"], day)

    # The dispatcher: everything due is claimed once and synced by the worker.
    with database.session() as session:
        for connection_id in ids:
            row = session.get(ExternalCalendar, connection_id)
            assert row is not None
            row.next_sync_at = utcnow() - timedelta(seconds=1)
    before = {i: get_connection(client, headers, i)["last_attempt_at"] for i in ids}
    queue.enqueue(dispatch_due_job)
    run_worker(tmp_path, settings)
    after = {i: get_connection(client, headers, i) for i in ids}
    assert all(after[i]["last_attempt_at"] != before[i] for i in ids)
    assert after[ids[1]]["status"] == "ok" and after[ids[2]]["status"] == "error"
    # Claimed, then rescheduled one interval (or a backoff) ahead; one tick stays scheduled.
    assert all(after[i]["next_sync_at"] > after[i]["last_attempt_at"] for i in ids)
    assert len(ScheduledJobRegistry(queue=queue).get_job_ids()) == 1


def test_without_redis_a_timer_in_the_app_dispatches_due_calendars(
    tmp_path: Path,
    database: Any,
    make_user: Any,
    ics: IcsServer,
    google: GoogleStandIn,
    graph: GraphStandIn,
    database_url: str,
) -> None:
    """The embedded default (no Redis): the dispatcher runs on the app's in-process queue
    every ``dispatch_seconds``, and stops once no calendar is connected."""
    settings = make_settings(
        tmp_path, database_url, sync=sync_settings(google, graph, dispatch_seconds="1")
    )
    app = create_app(settings)
    app.config.update(TESTING=True)
    client = app.test_client()
    pro, headers, service = setup_professional(client, database, make_user)
    ics.publish("feed", vcalendar())
    created = client.post(URL, json={"kind": "ics", "url": ics.url("feed")}, headers=headers)
    connection_id = created.get_json()["id"]
    first = wait_for(lambda: get_connection(client, headers, connection_id)["last_sync_at"])
    with database.session() as session:
        row = session.get(ExternalCalendar, connection_id)
        assert row is not None
        row.next_sync_at = utcnow()  # due now: the next tick picks it up, nobody else
    second = wait_for(
        lambda: (
            (at := get_connection(client, headers, connection_id)["last_sync_at"]) != first and at
        ),
        timeout=30,
    )
    assert second > first
    assert ics.count("feed", 304) == 1
    assert client.delete(f"{URL}/{connection_id}", headers=headers).status_code == 204
    time.sleep(2.5)  # the chain sees no connected calendar and stops
    shutdown_app(app)
