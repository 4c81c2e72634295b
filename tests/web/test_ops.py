"""Operations (issue 22): health and readiness, Prometheus metrics that move with real
work, request ids that travel into jobs' logs, logs without secrets, and error
reports to Sentry with personal data scrubbed."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import pytest
import requests
import sentry_sdk
from sqlalchemy import create_engine, text

from consult.config import load_settings
from consult.logs import ContextFilter, JsonFormatter, Redactor, redact
from runtime import create_app, create_platform, shutdown_app
from runtime.migrate import upgrade
from runtime.ops import init_error_reports
from tests.factories import at, bearer, next_weekday, setup_professional
from tests.helpers import (
    ThrowawayPostgres,
    ThrowawayRedis,
    free_port,
    make_settings,
)

TOKEN = "metrics-token-for-tests"


def metric(body: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent)."""
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match.group(2))
    return total


def test_health_needs_nothing_and_readiness_names_each_check(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert set(checks) == {"database", "migrations"}  # no Redis configured
    assert all(check["ok"] for check in checks.values())


def test_readiness_flips_when_redis_stops_and_back(tmp_path: Path, database_url: str) -> None:
    """A Redis of this test's own, never the shared one."""
    redis = ThrowawayRedis().start()
    app = create_app(make_settings(tmp_path, database_url, redis={"url": redis.url}))
    try:
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        redis.stop()
        down = client.get("/readyz")
        assert down.status_code == 503
        body = down.get_json()
        assert body["status"] == "unavailable"
        assert body["checks"]["redis"]["ok"] is False and body["checks"]["database"]["ok"]
        redis.start()
        assert client.get("/readyz").status_code == 200
    finally:
        shutdown_app(app)
        redis.stop()


def test_readiness_flips_when_postgresql_stops_and_back(tmp_path: Path) -> None:
    """A PostgreSQL cluster of this test's own (initdb), never the shared one."""
    postgres = ThrowawayPostgres().create()
    try:
        engine = create_engine(postgres.url)
        upgrade(engine)
        engine.dispose()
        app = create_app(make_settings(tmp_path, postgres.url))
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        postgres.stop()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.get_json()["checks"]["database"]["ok"] is False
        postgres.start()
        assert client.get("/readyz").status_code == 200
        shutdown_app(app)
    finally:
        postgres.remove()


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    return {"ops": {"metrics_token": TOKEN}, "notifications": {"sweep_seconds": "0"}}


def scrape(client: Any) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return str(response.get_data(as_text=True))


def test_metrics_want_the_token_and_move_with_real_work(
    client: Any, database: Any, make_user: Any
) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    before = scrape(client)
    _, _, service = setup_professional(client, database, make_user)
    sam = make_user(role="client")
    booked = client.post(
        "/api/v1/bookings",
        json={"service_id": service["id"], "start": at(next_weekday(2), "09:00").isoformat()},
        headers=bearer(database, sam),
    )
    assert booked.status_code == 201
    client.get(f"/api/v1/services/{service['id']}/slots?start={next_weekday(3).isoformat()}")
    client.open("/dav/", method="PROPFIND")
    after = scrape(client)
    changes = "consult_booking_changes_total"
    assert metric(after, changes, change="confirmed") == metric(before, changes) + 1
    requests_count = "consult_http_request_duration_seconds_count"
    assert metric(after, requests_count, route="/api/v1/bookings", method="POST", status="201") == 1
    assert metric(after, "consult_slot_computation_seconds_count") >= 1
    assert metric(after, "consult_caldav_requests_total", method="PROPFIND") == 1
    # The booking's change row waits in the outbox (no sender in this test).
    assert metric(after, "consult_outbox_due", channel="email") >= 1
    assert "consult_jobs{" in after


def test_metrics_are_off_without_a_token(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(tmp_path, database_url))
    try:
        assert app.test_client().get("/metrics").status_code == 404
    finally:
        shutdown_app(app)


def test_the_worker_serves_its_own_metrics(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    port = free_port()
    worker = create_platform(
        make_settings(
            tmp_path, database_url, redis={"url": redis_url}, ops={"metrics_port": str(port)}
        ),
        "worker",
    )
    server = worker.metrics.serve(port)
    try:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'consult_jobs{backend="rq",state="queued"}' in body
    finally:
        server.shutdown()
        worker.shutdown()


def test_request_ids_are_sent_back_and_a_sane_one_is_kept(client: Any) -> None:
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-42.a"}).headers["X-Request-ID"]
        == "lb-42.a"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"}).headers[
        "X-Request-ID"
    ]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert (
        client.open("/dav/", method="PROPFIND", headers={"X-Request-ID": "dav-7"}).headers[
            "X-Request-ID"
        ]
        == "dav-7"
    )


class Captured(logging.Handler):
    """Records as our own handler sees them (context added, secrets masked)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(ContextFilter())
        self.addFilter(Redactor())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def captured() -> Iterator[Captured]:
    handler = Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_the_request_id_travels_into_the_jobs_it_enqueued(
    tmp_path: Path, database_url: str, redis_url: str, make_user: Any, captured: Captured
) -> None:
    settings = make_settings(tmp_path, database_url, redis={"url": redis_url})
    app = create_app(settings)
    platform = app.extensions["consult.platform"]
    try:
        client = app.test_client()
        _, _, service = setup_professional(client, platform.database, make_user)
        sam = make_user(role="client")
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": at(next_weekday(2), "09:00").isoformat()},
            headers={**bearer(platform.database, sam), "X-Request-ID": "req-booking-1"},
        )
        assert response.status_code == 201
        captured.lines.clear()
        # A worker in this process runs the jobs the booking's commit enqueued (and
        # those they enqueued in turn): the emails are written to .eml files.
        platform.jobs.worker(("default",), platform, forking=False).work(burst=True)
        sent = [line for line in captured.lines if line["logger"] == "notifications.mailer"]
        assert len(sent) == 2
        assert {line["request_id"] for line in sent} == {"req-booking-1"}
    finally:
        shutdown_app(app)


def test_logs_never_carry_passwords_tokens_cards_or_message_text(
    client: Any, database: Any, make_user: Any, auth: Any, captured: Captured
) -> None:
    sam = make_user(role="client", email="sam.secret@example.org")
    token = client.post(
        "/api/v1/auth/token", json={"email": sam.email, "password": sam.test_password}
    ).get_json()["access_token"]
    client.post("/api/v1/auth/token", json={"email": sam.email, "password": "wrong one, 4242"})
    logging.getLogger("consult.test").warning(
        "a careless line: Authorization: Bearer %s password=%s card 4242 4242 4242 4242 for %s",
        token,
        sam.test_password,
        sam.email,
    )
    text_out = json.dumps(captured.lines)
    for secret in (token, sam.test_password, "4242 4242 4242 4242", "sam.secret@example.org"):
        assert secret not in text_out
    assert "[redacted]" in text_out and "[email redacted]" in text_out
    assert (
        redact("postgresql://consult:hunter2@db/consult")
        == "postgresql://consult:[redacted]@db/consult"
    )


class FakeSentry(BaseHTTPRequestHandler):
    """Sentry's ingestion endpoint as the SDK speaks to it: envelopes posted to
    ``/api/<project>/envelope/`` (Sentry itself cannot be reached from here)."""

    received: list[list[dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        # The SDK compresses with Brotli when it is installed (Flask-Compress brings it).
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.GzipFile(fileobj=io.BytesIO(body)).read()
        elif self.headers.get("Content-Encoding") == "br":
            body = brotli.decompress(body)
        items = [json.loads(line) for line in body.splitlines() if line.strip().startswith(b"{")]
        FakeSentry.received.append(items)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        return None


def test_errors_reach_sentry_without_personal_data(
    tmp_path: Path, database_url: str, make_user: Any
) -> None:
    FakeSentry.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/1"
    app = create_app(make_settings(tmp_path, database_url, ops={"sentry_dsn": dsn}))
    # Built at run time: the reports carry source lines, which must not hold them.
    email, password, cookie = "sam.secret" + "@example.org", "hunter" + "2", "very-secret-" + "x"
    try:

        @app.get("/boom")
        def boom() -> Any:
            raise RuntimeError(f"broken for {email} with password={password}")

        client = app.test_client()
        client.set_cookie("session", cookie)
        response = client.get(
            f"/boom?email={email}", headers={"Authorization": "Bearer abcdefgh" + "123"}
        )
        assert response.status_code == 500
        sentry_sdk.flush(timeout=10)
        events = [item for batch in FakeSentry.received for item in batch if "exception" in item]
        assert events, FakeSentry.received
        sent = json.dumps(events)
        for leaked in (cookie, email, password, "abcdefgh" + "123"):
            assert leaked not in sent
        assert "RuntimeError" in sent
    finally:
        shutdown_app(app)
        sentry_sdk.init(dsn=None)  # the SDK is process-wide: leave it off for the others
        server.shutdown()


def test_sentry_is_off_by_default() -> None:
    settings = load_settings(config_file=os.devnull, environ={})
    assert settings.ops.sentry_dsn == ""
    assert init_error_reports(settings) is False


def test_readiness_says_when_the_schema_is_behind_the_code(client: Any, database: Any) -> None:
    with database.session() as session:
        versions = list(session.scalars(text("SELECT version_num FROM alembic_version")))
        session.execute(text("DELETE FROM alembic_version"))
        session.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        migrations = response.get_json()["checks"]["migrations"]
        assert migrations["ok"] is False and "code wants" in migrations["error"]
    finally:
        with database.session() as session:
            session.execute(text("DELETE FROM alembic_version"))
            for version in versions:
                session.execute(
                    text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version}
                )
