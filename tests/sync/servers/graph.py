"""A stand-in for the Microsoft identity platform's token endpoint and Microsoft Graph
(the real services are unreachable from the test machines): the documented wire
format of ``GET /me/calendar``, ``GET /me/calendarView/delta`` (pages through
``@odata.nextLink`` sized by ``Prefer: odata.maxpagesize``, a final
``@odata.deltaLink``, ``@removed`` entries for deletions, 410 for a delta token it
no longer knows), and event creation (``transactionId`` de-duplicates), update and
deletion. Times are stored as Graph returns them: ``{"dateTime", "timeZone"}``,
with Windows zone names where the test puts them.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request

from tests.sync.servers.oauth import OAuthStandIn, ServedApp

CLIENT_ID = "00000000-1111-2222-3333-444444444444"
CLIENT_SECRET = "graph-client-secret"


def _error(status: int, code: str, message: str) -> Any:
    return jsonify({"error": {"code": code, "message": message}}), status


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.split(".")[0].rstrip("Z"))


class GraphStandIn:
    """One user's default calendar, plus the HTTP server."""

    def __init__(self) -> None:
        # Microsoft rotates refresh tokens on every refresh.
        self.oauth = OAuthStandIn(CLIENT_ID, CLIENT_SECRET, rotate_refresh_tokens=True)
        self.events: dict[str, dict[str, Any]] = {}
        self.removed: set[str] = set()
        self.changes: list[tuple[int, str]] = []
        self.seq = 0
        self.token_floor = 0
        self.transactions: dict[str, str] = {}
        self.ids = itertools.count(1)
        self.delta_calls: list[str] = []
        self.max_page = 100  # Graph may send fewer than the client's odata.maxpagesize
        self.fail_creates = 0  # answer this many event creations with 503
        self.lock = threading.Lock()
        self.served = ServedApp(self._app())
        self.url = self.served.url

    # --- the test's side ----------------------------------------------------------------

    def put_event(self, event_id: str, **fields: Any) -> dict[str, Any]:
        with self.lock:
            self.seq += 1
            event = {
                "@odata.etag": f'W/"{self.seq}"',
                "id": event_id,
                "type": "singleInstance",
                "isAllDay": False,
                "isCancelled": False,
                "showAs": "busy",
                "iCalUId": f"{event_id}-ical",
                **self.events.get(event_id, {}),
                **fields,
            }
            event["changeKey"] = str(self.seq)
            self.events[event_id] = event
            self.removed.discard(event_id)
            self.changes.append((self.seq, event_id))
            return event

    def remove_event(self, event_id: str) -> None:
        with self.lock:
            self.seq += 1
            self.events.pop(event_id, None)
            self.removed.add(event_id)
            self.changes.append((self.seq, event_id))

    def forget_delta_tokens(self) -> None:
        with self.lock:
            self.token_floor = self.seq + 1

    # --- the wire ------------------------------------------------------------------------

    def _app(self) -> Flask:
        app = Flask("graph-stand-in")
        oauth = self.oauth

        @app.get("/common/oauth2/v2.0/authorize")
        def authorize() -> Any:
            status, result = oauth.authorize(request.args)
            return redirect(result) if status == 302 else (jsonify(result), status)

        @app.post("/common/oauth2/v2.0/token")
        def token() -> Any:
            status, body = oauth.token(request.form, request.headers)
            return jsonify(body), status

        @app.before_request
        def check_token() -> Any:
            if request.path.startswith("/v1.0/") and not oauth.check(request.headers):
                return _error(401, "InvalidAuthenticationToken", "Access token has expired.")
            return None

        @app.get("/v1.0/me/calendar")
        def calendar() -> Any:
            return jsonify({"id": "AAMkAD-default", "name": "Calendar"})

        @app.get("/v1.0/me/calendarView/delta")
        def delta() -> Any:
            return self._delta()

        @app.post("/v1.0/me/calendar/events")
        def create() -> Any:
            if self.fail_creates:
                self.fail_creates -= 1
                return _error(503, "ServiceNotAvailable", "Try again later.")
            body = request.get_json()
            transaction = body.get("transactionId")
            if transaction and transaction in self.transactions:
                existing = self.events.get(self.transactions[transaction])
                if existing is not None:
                    return jsonify(existing), 201
            event_id = f"AAMk-pushed-{next(self.ids)}"
            if transaction:
                self.transactions[transaction] = event_id
            return jsonify(self.put_event(event_id, **body)), 201

        @app.patch("/v1.0/me/events/<event_id>")
        def update(event_id: str) -> Any:
            if event_id not in self.events:
                return _error(404, "ErrorItemNotFound", "The specified object was not found.")
            return jsonify(self.put_event(event_id, **request.get_json())), 200

        @app.delete("/v1.0/me/events/<event_id>")
        def delete(event_id: str) -> Any:
            if event_id not in self.events:
                return _error(404, "ErrorItemNotFound", "The specified object was not found.")
            self.remove_event(event_id)
            return "", 204

        return app

    def _delta(self) -> Any:
        args = request.args
        self.delta_calls.append(request.full_path)
        prefer = request.headers.get("Prefer", "")
        size = self.max_page
        if "odata.maxpagesize=" in prefer:
            size = min(size, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
        start, end = _parse(args["startDateTime"]), _parse(args["endDateTime"])
        window = {"startDateTime": args["startDateTime"], "endDateTime": args["endDateTime"]}
        with self.lock:
            if "$deltatoken" in args:
                seq = int(args["$deltatoken"])
                if seq < self.token_floor:
                    return _error(410, "SyncStateNotFound", "The sync state is not found.")
                changed = sorted({eid for s, eid in self.changes if s > seq})
                removed = {
                    "@odata.type": "#microsoft.graph.event",
                    "@removed": {"reason": "deleted"},
                }
                items = [
                    {**removed, "id": eid} if eid in self.removed else self.events[eid]
                    for eid in changed
                ]
                base_seq = seq
            else:
                base_seq = int(args.get("$skiptoken", "0:0").split(":")[1]) or self.seq
                items = [
                    e
                    for e in self.events.values()
                    if _parse(e["start"]["dateTime"]) < end and _parse(e["end"]["dateTime"]) > start
                ]
            offset = int(args.get("$skiptoken", "0:0").split(":")[0])
            page = items[offset : offset + size]
            body: dict[str, Any] = {"@odata.context": "https://graph/$metadata", "value": page}
            root = f"{self.url}/v1.0/me/calendarView/delta"
            if offset + size < len(items):
                token = {"$skiptoken": f"{offset + size}:{base_seq}"}
                if "$deltatoken" in args:
                    token["$deltatoken"] = args["$deltatoken"]
                body["@odata.nextLink"] = f"{root}?{urlencode({**window, **token})}"
            else:
                body["@odata.deltaLink"] = (
                    f"{root}?{urlencode({**window, '$deltatoken': str(self.seq)})}"
                )
        return jsonify(body)

    def stop(self) -> None:
        self.served.stop()
