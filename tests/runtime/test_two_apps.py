"""Two apps in one process, with different settings, share nothing: no hook
implementation, dispatcher, job queue, database engine, cache or error map. What
one app's booking sets off happens in that app alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from accounts.services import Registration, register
from booking.models import Booking
from notifications.dispatch import DISPATCHER
from notifications.models import OutboxMessage
from notifications.service import NOTIFIER
from payments.gateway import GATEWAY
from runtime import create_app, shutdown_app
from runtime.app import platform_of
from tests.factories import at, bearer, next_weekday, setup_professional
from tests.helpers import empty_all_tables, make_settings
from video.services import VIDEO
from web.errors import STATUSES


def test_two_apps_share_no_subscriber_dispatcher_queue_or_status_map(
    tmp_path: Path, pg_server_url: str, sqlite_server_url: str
) -> None:
    empty_all_tables(pg_server_url)
    empty_all_tables(sqlite_server_url)
    first = create_app(make_settings(tmp_path / "a", pg_server_url, app={"log_level": "debug"}))
    second = create_app(
        make_settings(tmp_path / "b", sqlite_server_url, notifications={"sweep_seconds": "0"})
    )
    try:
        one, two = platform_of(first), platform_of(second)
        assert one.settings.database.url != two.settings.database.url
        # Every hook implementation is an object of its own platform.
        assert one.plugins is not two.plugins
        ours = {id(plugin) for plugin in one.plugins.get_plugins()}
        theirs = {id(plugin) for plugin in two.plugins.get_plugins()}
        assert ours and theirs and not ours & theirs
        assert len(one.hooks.booking_changed.get_hookimpls()) == 4
        # Ports, queues, engines, caches and the error map are each app's own.
        for port in (DISPATCHER, NOTIFIER, GATEWAY, VIDEO):
            built = one.find(port), two.find(port)
            assert built[0] is not built[1] or built[0] is None, port
        assert one.jobs is not two.jobs
        assert one.database.engine is not two.database.engine
        assert one.database.caches is not two.database.caches
        assert first.extensions[STATUSES] is not second.extensions[STATUSES]
        assert first.extensions[STATUSES] == second.extensions[STATUSES]

        # A booking in the first app records its outbox row in the first database,
        # and nothing in the second.
        client = first.test_client()

        def make_user(role: str = "professional", **_: Any) -> Any:
            with one.database.session() as session:
                user = register(
                    session,
                    Registration(f"{role}@example.org", "correct horse battery", role, role),
                )
                session.flush()
                session.expunge(user)
            return user

        _, _, service = setup_professional(client, one.database, make_user)
        sam = make_user("client")
        response = client.post(
            "/api/v1/bookings",
            json={"service_id": service["id"], "start": at(next_weekday(2), "09:00").isoformat()},
            headers=bearer(one.database, sam),
        )
        assert response.status_code == 201, response.get_json()
        with one.database.session() as session:
            assert session.scalar(select(func.count()).select_from(OutboxMessage)) >= 1
        with two.database.session() as session:
            assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
            assert session.scalar(select(func.count()).select_from(Booking)) == 0
    finally:
        shutdown_app(first)
        shutdown_app(second)
