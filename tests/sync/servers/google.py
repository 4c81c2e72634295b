"""A stand-in for Google's OAuth endpoints and the Calendar API v3 (the real service is
unreachable from the test machines): the documented wire format of ``events.list``
(``syncToken``/``nextSyncToken``, ``pageToken``, ``showDeleted``, 410 for a token
it no longer knows, ``iCalUID`` lookups), ``events.insert`` (409 for a duplicate
``iCalUID``), ``events.update``, ``events.delete`` and token revocation.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from flask import Flask, jsonify, redirect, request

from tests.sync.servers.oauth import OAuthStandIn, ServedApp

CLIENT_ID = "google-client.apps.googleusercontent.com"
CLIENT_SECRET = "google-client-secret"


def _error(status: int, message: str, reason: str = "") -> Any:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return jsonify(body), status


class GoogleStandIn:
    """Calendar data of one user's primary calendar, plus the HTTP server."""

    def __init__(self, *, summary: str = "ken@example.com", zone: str = "Europe/Berlin") -> None:
        self.oauth = OAuthStandIn(CLIENT_ID, CLIENT_SECRET)
        self.summary = summary
        self.zone = zone
        self.events: dict[str, dict[str, Any]] = {}
        self.changes: list[tuple[int, str]] = []
        self.seq = 0
        self.token_floor = 0  # sync tokens below this answer 410
        self.ids = itertools.count(1)
        self.list_calls: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.served = ServedApp(self._app())
        self.url = self.served.url

    # --- the test's side: edit the calendar ---------------------------------------------

    def put_event(self, event_id: str, **resource: Any) -> dict[str, Any]:
        with self.lock:
            self.seq += 1
            event = {
                "kind": "calendar#event",
                "id": event_id,
                "status": "confirmed",
                "iCalUID": f"{event_id}@google.com",
                **self.events.get(event_id, {}),
                **resource,
            }
            event["etag"] = f'"{self.seq}"'
            self.events[event_id] = event
            self.changes.append((self.seq, event_id))
            return event

    def cancel_event(self, event_id: str) -> None:
        self.put_event(event_id, status="cancelled")

    def forget_sync_tokens(self) -> None:
        with self.lock:
            self.token_floor = self.seq + 1

    def live_events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events.values() if e.get("status") != "cancelled"]

    # --- the wire ------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("google-stand-in")
        oauth = self.oauth

        @app.get("/o/oauth2/v2/auth")
        def authorize() -> Any:
            status, result = oauth.authorize(request.args)
            return redirect(result) if status == 302 else (jsonify(result), status)

        @app.post("/token")
        def token() -> Any:
            status, body = oauth.token(request.form, request.headers)
            return jsonify(body), status

        @app.post("/revoke")
        def revoke() -> Any:
            token = request.form.get("token") or request.args.get("token", "")
            if not oauth.revoke(token):
                return jsonify({"error": "invalid_token"}), 400
            return jsonify({}), 200

        base = "/calendar/v3/calendars/primary/events"

        @app.before_request
        def check_token() -> Any:
            if request.path.startswith("/calendar/") and not oauth.check(request.headers):
                return _error(401, "Request had invalid authentication credentials.", "authError")
            return None

        @app.get(base)
        def list_events() -> Any:
            return self._list(dict(request.args))

        @app.post(base)
        def insert() -> Any:
            body = request.get_json()
            uid = body.get("iCalUID")
            if uid and any(e.get("iCalUID") == uid for e in self.events.values()):
                return _error(409, "The requested identifier already exists.", "duplicate")
            event_id = f"pushed{next(self.ids)}"
            return jsonify(self.put_event(event_id, **body, id=event_id)), 200

        @app.put(f"{base}/<event_id>")
        def update(event_id: str) -> Any:
            existing = self.events.get(event_id)
            if existing is None or existing.get("status") == "cancelled":
                return _error(404, "Not Found", "notFound")
            body = request.get_json()
            return jsonify(self.put_event(event_id, **body, status="confirmed")), 200

        @app.delete(f"{base}/<event_id>")
        def delete(event_id: str) -> Any:
            existing = self.events.get(event_id)
            if existing is None:
                return _error(404, "Not Found", "notFound")
            if existing.get("status") == "cancelled":
                return _error(410, "Resource has been deleted", "deleted")
            self.cancel_event(event_id)
            return "", 204

        return app

    def _list(self, args: dict[str, str]) -> Any:
        self.list_calls.append(args)
        size = int(args.get("maxResults", "250"))
        with self.lock:
            if args.get("iCalUID"):
                items = [e for e in self.events.values() if e.get("iCalUID") == args["iCalUID"]]
                return jsonify({"kind": "calendar#events", "items": items})
            token = args.get("syncToken")
            if token:
                seq = int(token.removeprefix("sync-"))
                if seq < self.token_floor:
                    return _error(
                        410,
                        "Sync token is no longer valid, a full sync is required.",
                        "fullSyncRequired",
                    )
                changed = sorted({eid for s, eid in self.changes if s > seq})
                items = [self.events[eid] for eid in changed]
            else:
                items = [
                    e
                    for e in self.events.values()
                    if args.get("showDeleted") == "true" or e.get("status") != "cancelled"
                ]
            offset = int(args.get("pageToken", "0"))
            page = items[offset : offset + size]
            body: dict[str, Any] = {
                "kind": "calendar#events",
                "summary": self.summary,
                "timeZone": self.zone,
                "items": page,
            }
            if offset + size < len(items):
                body["nextPageToken"] = str(offset + size)
            else:
                body["nextSyncToken"] = f"sync-{self.seq}"
        return jsonify(body)

    def stop(self) -> None:
        self.served.stop()
