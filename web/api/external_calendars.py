"""Outside calendars over the API: connect, list, sync now, change, remove.

``POST /api/v1/external-calendars`` ``{kind, url?, username?, password?, show_titles?,
writeback?}`` answers 201 with the connection; for Google and Microsoft it also
carries ``authorization_url`` (send the professional's browser there) and
``callback_url`` (where the provider sends it back; it completes the connection).
``GET`` lists the caller's connections with status, last sync and last error;
``POST .../{id}/sync`` answers 202 and runs a sync job; ``PATCH .../{id}`` changes
``show_titles`` or ``writeback``; ``DELETE .../{id}`` removes the connection and its
mirror (and revokes the grant where the provider allows). Professionals only; a
connection of someone else answers 404 like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from accounts.models import User
from sync import service, tasks
from sync.models import OAUTH_KINDS, ExternalCalendar
from sync.syncing import mirror_display_name
from sync.urls import display_url
from web.api.blueprint import bp
from web.api.helpers import json_body, require_professional
from web.session import get_jobs, get_session, get_settings


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def connection_json(user: User, connection: ExternalCalendar, events: int) -> dict[str, Any]:
    """The API representation of a connection (never its password or tokens)."""
    return {
        "id": connection.id,
        "kind": connection.kind,
        "name": mirror_display_name(connection.kind, connection.remote_name, connection.url),
        "url": display_url(connection.url) or None,
        "username": connection.username or None,
        "show_titles": connection.show_titles,
        "writeback": connection.writeback,
        "status": connection.status,
        "last_sync_at": _iso(connection.last_sync_at),
        "last_attempt_at": _iso(connection.last_attempt_at),
        "last_error": connection.last_error or None,
        "warning": connection.last_warning or None,
        "failure_count": connection.failure_count,
        "next_sync_at": _iso(connection.next_sync_at),
        "mirror": {
            "path": f"/dav/{service.mirror_path(user, connection)}/",
            "events": events,
        },
        "created_at": _iso(connection.created_at),
    }


def _json(connection: ExternalCalendar) -> dict[str, Any]:
    session = get_session()
    return connection_json(g.user, connection, service.count_mirrored(session, g.user, connection))


@bp.post("/external-calendars")
@require_professional
def connect_calendar() -> Any:
    settings = get_settings()
    request = service.parse_connect_input(json_body(), settings)
    session = get_session()
    connected = service.connect(session, settings, g.user, request)
    session.commit()
    body = _json(connected.connection)
    if connected.authorization_url:
        body["authorization_url"] = connected.authorization_url
        body["callback_url"] = connected.callback_url
    else:
        tasks.enqueue_sync(get_jobs(), connected.connection.id)
    tasks.schedule_dispatch(get_jobs(), get_settings())
    return jsonify(body), 201


@bp.get("/external-calendars")
@require_professional
def list_calendars() -> Any:
    connections = service.list_connections(get_session(), g.user)
    return jsonify([_json(connection) for connection in connections])


@bp.get("/external-calendars/<int:connection_id>")
@require_professional
def get_calendar(connection_id: int) -> Any:
    return jsonify(_json(service.get_connection(get_session(), g.user, connection_id)))


@bp.patch("/external-calendars/<int:connection_id>")
@require_professional
def update_calendar(connection_id: int) -> Any:
    changes = service.parse_update_input(json_body())
    session = get_session()
    connection = service.update_connection(session, g.user, connection_id, changes)
    session.commit()
    if "show_titles" in changes and connection.status != "authorizing":
        tasks.enqueue_sync(get_jobs(), connection.id)
    return jsonify(_json(connection))


@bp.post("/external-calendars/<int:connection_id>/sync")
@require_professional
def sync_calendar(connection_id: int) -> Any:
    session = get_session()
    connection = service.request_sync(session, g.user, connection_id)
    session.commit()
    tasks.enqueue_sync(get_jobs(), connection.id)
    return jsonify({**_json(connection), "sync": "queued"}), 202


@bp.delete("/external-calendars/<int:connection_id>")
@require_professional
def delete_calendar(connection_id: int) -> Any:
    session = get_session()
    removed = service.remove_connection(session, g.user, connection_id)
    session.commit()
    if removed.secret and removed.kind in OAUTH_KINDS:
        # Revoking is a call to the provider: after the commit, in a job.
        tasks.enqueue_revoke(get_jobs(), removed.kind, removed.secret)
    return "", 204
