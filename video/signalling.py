"""Signalling for one WebSocket connection to a room.

:class:`RoomConnection` holds the protocol and knows nothing about WebSockets:
the transport gives it text frames and a ``send`` function, so the same object
is driven by flask-sock in the app and directly in tests. Connections of one room
find each other through the :class:`~video.bus.SignalBus`, whichever app process
serves them.

Browser → server (JSON objects, ``type`` first)::

    join {token, peer_id}         must come first; the token comes from the app
    ping                          heartbeat; also re-checks that the room is still open
    signal {to, data}             {description: {type, sdp}} or {candidate: {...}}
    connection-failed {connected_before}
                                  the media connection to ``remote`` failed or never came up
    chat {text, nonce}            a message for the booking's thread
    read {up_to}                  the thread is read up to this message id
    leave

Server → browser::

    welcome {peer_id, role, name, other, heartbeat_seconds, direct_timeout_seconds, closes_at}
    presence {present, name, role}      the other person is (not) in the room
    remote {id, offerer, ice, quality}  connect media to this endpoint (id null: none)
    signal {from, data}                 the remote's description or candidate
    restart-ice                         create an ICE-restart offer (offerer only)
    chat {message, nonce?}  chat-error {nonce, message}
    notice {level, message}  pong  room-closed  replaced  error {code, message, opens_at?}

The media endpoint (``remote``) is the other person's browser while a direct (or
TURN) path works. When it does not, the server switches the whole room to the
platform's relay: each browser's ``remote`` becomes a relay session, with the
browser as offerer, and the only thing it learns is the ``quality`` hint.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.models import User
from consult.db import Database, utcnow
from video.bus import SignalBus, Subscription
from video.config import VideoConfig
from video.errors import InvalidMessage, RelayError, RoomClosed, RoomNotOpen, VideoError
from video.ice import peer_ice_config, relay_ice_config
from video.messages import mark_read, participant_names, post_message, thread_booking, view_of
from video.relay_client import RelayPort
from video.rooms import Role, check_room_access
from video.tokens import consume_join_token, read_join_token

log = logging.getLogger(__name__)

JOIN_TIMEOUT_SECONDS = 15
_PEER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_SIGNAL_BYTES = 64 * 1024


def room_channel(booking_id: int) -> str:
    return f"room:{booking_id}"


def presence_key(booking_id: int, user_id: int) -> str:
    """The bus presence key meaning "``user_id`` is in room ``booking_id``"."""
    return f"{booking_id}:{user_id}"


@dataclass
class Peer:
    peer_id: str
    role: Role
    name: str
    user_id: int


class RoomConnection:
    """The server side of one browser's WebSocket in one room.

    Thread-safety: ``handle`` runs on the connection's own thread, bus deliveries on
    the bus's thread (or the publisher's, in process); state changes happen under
    ``_lock`` and nothing is published while holding it.
    """

    def __init__(
        self,
        *,
        booking_id: int,
        config: VideoConfig,
        database: Database,
        bus: SignalBus,
        relay: RelayPort | None,
        send: Callable[[dict[str, Any]], None],
        close: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
        on_chat: Callable[[Any, Any, Any], None] | None = None,
    ) -> None:
        self.booking_id = booking_id
        self.config = config
        self.database = database
        self.bus = bus
        self.relay = relay
        self._send = send
        self._close = close
        self.clock = clock
        self.on_chat = on_chat
        self.conn_id = secrets.token_hex(8)
        self.me: Peer | None = None
        self.other: Peer | None = None
        self.other_name = ""
        self.other_role: Role | None = None
        self.mode = "direct"
        self.relay_generation = 0
        self.failures = 0
        self.closes_at: datetime | None = None
        self.open = True
        self.replaced = False
        self._subscription: Subscription | None = None
        self._lock = threading.RLock()

    # --- transport hooks ---------------------------------------------------------------

    @property
    def receive_timeout(self) -> float:
        """Seconds to wait for the next frame before giving up on the browser."""
        if self.me is None:
            return JOIN_TIMEOUT_SECONDS
        return 3.0 * self.config.heartbeat_seconds

    def handle(self, raw: str | bytes) -> None:
        """Process one frame from the browser; bad frames get an error, not a crash."""
        if isinstance(raw, bytes) or len(raw) > MAX_SIGNAL_BYTES:
            self._error("bad_message", "Send JSON text messages of at most 64 KiB.")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            self._error("bad_message", "Messages must be JSON objects.")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            self._error("bad_message", "Messages must be JSON objects with a type.")
            return
        kind = message["type"]
        if self.me is None:
            if kind != "join":
                self._fail("not_joined", "Join the room first.")
                return
            self._join(message)
            return
        handler = {
            "ping": self._ping,
            "signal": self._signal,
            "connection-failed": self._connection_failed,
            "chat": self._chat,
            "read": self._read,
            "leave": self._leave,
        }.get(kind)
        if handler is None:
            self._error("bad_message", f"Unknown message type {kind!r}.")
            return
        handler(message)

    def timed_out(self) -> None:
        """No frame within :attr:`receive_timeout`: the browser is gone."""
        if self.me is None:
            self._fail("join_timeout", "Join the room within a few seconds of connecting.")
        self.open = False

    def finish(self) -> None:
        """The WebSocket is closed: leave the room (idempotent)."""
        with self._lock:
            self.open = False
            subscription, self._subscription = self._subscription, None
            me, replaced, mode = self.me, self.replaced, self.mode
            relay_session = self._relay_session_id() if mode == "relay" else None
        if subscription is not None:
            subscription.close()
        if me is None:
            return
        self.bus.clear_present(presence_key(self.booking_id, me.user_id), self.conn_id)
        if not replaced:
            # A replaced connection stays quiet: its successor already told the others.
            self.bus.publish(
                room_channel(self.booking_id),
                {"type": "bye", "from": me.peer_id, "conn": self.conn_id},
            )
            if relay_session is not None and self.relay is not None:
                try:
                    self.relay.close_peer(self.booking_id, me.role, relay_session)
                except RelayError:
                    log.info("relay session %s was already gone", relay_session)

    # --- browser messages --------------------------------------------------------------

    def _join(self, message: dict[str, Any]) -> None:
        peer_id = message.get("peer_id")
        if not isinstance(peer_id, str) or not _PEER_ID.match(peer_id):
            self._fail("bad_message", "Send a peer_id of 8 to 64 letters, digits, - or _.")
            return
        now = self.clock()
        try:
            claims = read_join_token(
                self.config, message.get("token"), booking_id=self.booking_id, now=now
            )
            with self.database.session() as session:
                user = session.get(User, claims.user_id)
                if user is None:
                    raise VideoError("This account no longer exists.")
                access = check_room_access(
                    session,
                    user,
                    self.booking_id,
                    now,
                    (self.config.open_before, self.config.close_after),
                )
                if access.role != claims.role:
                    raise VideoError("This join token does not match your role in the booking.")
                # Only once admitted: a refusal above leaves the token unspent.
                consume_join_token(session, claims)
                me = Peer(peer_id, access.role, user.name, user.id)
                other_name, other_role = access.other.name, access.role_of_other
                closes_at = access.window.closes_at
        except RoomNotOpen as error:
            self._fail(error.code, error.message, opens_at=error.opens_at.isoformat())
            return
        except VideoError as error:
            self._fail(error.code, error.message)
            return
        with self._lock:
            self.me = me
            self.other_name, self.other_role = other_name, other_role
            self.closes_at = closes_at
        self._subscription = self.bus.subscribe(room_channel(self.booking_id), self._on_bus)
        self._mark_present()
        self.send(
            {
                "type": "welcome",
                "peer_id": me.peer_id,
                "role": me.role,
                "name": me.name,
                "other": {"name": other_name, "role": other_role},
                "heartbeat_seconds": self.config.heartbeat_seconds,
                "direct_timeout_seconds": self.config.direct_timeout_seconds,
                "closes_at": closes_at.isoformat(),
            }
        )
        self.send({"type": "presence", "present": False, "name": other_name, "role": other_role})
        self._publish({"type": "hello", **self._me_fields()})

    def _ping(self, _message: dict[str, Any]) -> None:
        problem = self._still_open()
        if problem is not None:
            self.send({"type": "room-closed", "message": problem})
            self.open = False
            self._close()
            return
        self._mark_present()
        self.send({"type": "pong"})

    def _still_open(self) -> str | None:
        """None while the room may stay open, else why not. Reads the booking again on
        every heartbeat, so a cancellation or a move ends the call within one beat."""
        assert self.me is not None
        now = self.clock()
        try:
            with self.database.session(readonly=True) as session:
                user = session.get(User, self.me.user_id)
                if user is None:
                    return "Your account no longer exists."
                access = check_room_access(
                    session,
                    user,
                    self.booking_id,
                    now,
                    (self.config.open_before, self.config.close_after),
                )
                self.closes_at = access.window.closes_at
        except RoomNotOpen:
            return "This booking was moved; the room opens again shortly before the new time."
        except VideoError as error:
            if isinstance(error, RoomClosed) and error.message == RoomClosed.message:
                return "The room has closed. Thank you!"
            return error.message
        return None

    def _signal(self, message: dict[str, Any]) -> None:
        to, data = message.get("to"), message.get("data")
        if not isinstance(to, str) or not isinstance(data, dict):
            self._error("bad_message", "A signal needs a `to` and a `data` object.")
            return
        with self._lock:
            mode, other = self.mode, self.other
            relay_session = self._relay_session_id()
        if mode == "relay":
            if to == relay_session:
                self._signal_relay(relay_session, data)
            return
        if other is not None and to == other.peer_id:
            self._publish({"type": "signal", "from": self._my_id(), "to": to, "data": data})

    def _signal_relay(self, session_id: str, data: dict[str, Any]) -> None:
        assert self.me is not None and self.relay is not None
        try:
            description = data.get("description")
            if isinstance(description, dict) and description.get("type") == "offer":
                answer = self.relay.offer(
                    self.booking_id, self.me.role, session_id, str(description.get("sdp", ""))
                )
                self.send(
                    {
                        "type": "signal",
                        "from": session_id,
                        "data": {"description": {"type": "answer", "sdp": answer}},
                    }
                )
            elif isinstance(data.get("candidate"), dict):
                self.relay.add_candidate(
                    self.booking_id, self.me.role, session_id, data["candidate"]
                )
        except RelayError as error:
            self.send({"type": "notice", "level": "error", "message": error.message})

    def _connection_failed(self, message: dict[str, Any]) -> None:
        connected_before = bool(message.get("connected_before"))
        with self._lock:
            mode, other, me = self.mode, self.other, self.me
            self.failures += 1
            failures = self.failures
        assert me is not None
        if mode == "relay":
            # A relay session cannot be ICE-restarted from a fresh relay connection; start over.
            with self._lock:
                self.relay_generation += 1
            self._announce_remote()
            return
        if self.relay is not None and (not connected_before or failures > 1):
            log.info(
                "room %s: no direct path (%s), switching to the relay", self.booking_id, me.role
            )
            self._switch_to_relay()
            self._publish({"type": "mode", "mode": "relay", "from": me.peer_id})
            return
        if other is None:
            return
        if me.role == "professional":
            self.send({"type": "restart-ice"})
        else:
            self._publish({"type": "restart-ice", "from": me.peer_id, "to": other.peer_id})

    def _chat(self, message: dict[str, Any]) -> None:

        assert self.me is not None
        nonce = message.get("nonce") if isinstance(message.get("nonce"), str) else None
        try:
            with self.database.session() as session:
                user = session.get(User, self.me.user_id)
                assert user is not None
                booking = thread_booking(session, user, self.booking_id)
                posted = post_message(
                    session,
                    user,
                    booking,
                    message.get("text"),
                    now=self.clock(),
                    max_length=self.config.message_max_length,
                )
                view = view_of(posted, participant_names(session, booking))
                if self.on_chat is not None:
                    self.on_chat(session, booking, posted)
        except InvalidMessage as error:
            self.send(
                {
                    "type": "chat-error",
                    "nonce": nonce,
                    "message": error.fields.get("body", error.message),
                }
            )
            return
        except VideoError as error:
            self.send({"type": "chat-error", "nonce": nonce, "message": error.message})
            return
        self._publish(
            {"type": "chat", "message": view.to_json(), "nonce": nonce, "from": self.me.peer_id}
        )

    def _read(self, message: dict[str, Any]) -> None:

        up_to = message.get("up_to")
        if isinstance(up_to, bool) or not isinstance(up_to, int) or up_to < 0:
            self._error("bad_message", "`up_to` must be a message id.")
            return
        assert self.me is not None
        with self.database.session() as session:
            user = session.get(User, self.me.user_id)
            assert user is not None
            mark_read(session, user, thread_booking(session, user, self.booking_id), up_to)

    def _leave(self, _message: dict[str, Any]) -> None:
        self.open = False
        self._close()

    # --- bus messages --------------------------------------------------------------------

    def _on_bus(self, message: dict[str, Any]) -> None:
        if not self.open or self.me is None:
            return
        kind = message.get("type")
        if kind == "chat":
            self.send(
                {"type": "chat", "message": message["message"], "nonce": message.get("nonce")}
            )
            return
        if message.get("conn") == self.conn_id:
            return
        if kind == "hello":
            self._on_hello(message)
        elif kind == "here" and message.get("to") == self.me.peer_id:
            self._on_here(message)
        elif kind == "bye":
            self._on_bye(message)
        elif kind == "signal" and message.get("to") == self.me.peer_id:
            with self._lock:
                current = self.other.peer_id if self.other and self.mode == "direct" else None
            if message.get("from") == current:
                self.send({"type": "signal", "from": current, "data": message.get("data")})
        elif kind == "restart-ice" and message.get("to") == self.me.peer_id:
            if self.me.role == "professional":
                self.send({"type": "restart-ice"})
        elif kind == "mode" and message.get("mode") == "relay":
            self._switch_to_relay()

    def _on_hello(self, message: dict[str, Any]) -> None:
        assert self.me is not None
        sender = message.get("from")
        if message.get("role") == self.me.role:
            # The same person again (a reload, another tab, a reconnect after a network
            # change): the newest connection wins and this one steps aside quietly.
            with self._lock:
                self.replaced = True
                self.open = False
            if sender != self.me.peer_id:
                self.send(
                    {"type": "replaced", "message": "You joined this room from another window."}
                )
            self._close()
            return
        is_new = self._adopt_other(message)
        with self._lock:
            mode = self.mode
        self._publish({"type": "here", "to": sender, **self._me_fields(), "mode": mode})
        if is_new:
            self._announce_presence()
            self._announce_remote()

    def _on_here(self, message: dict[str, Any]) -> None:
        if message.get("mode") == "relay" and self.relay is not None:
            with self._lock:
                self.mode = "relay"
        if self._adopt_other(message):
            self._announce_presence()
            self._announce_remote()

    def _on_bye(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self.other is None or message.get("from") != self.other.peer_id:
                return
            self.other = None
            mode = self.mode
        self._announce_presence()
        if mode == "direct":
            self.send({"type": "remote", "id": None})

    def _switch_to_relay(self) -> None:
        if self.relay is None:
            return
        with self._lock:
            if self.mode == "relay":
                return
            self.mode = "relay"
            self.relay_generation += 1
        self._announce_remote()

    # --- helpers ---------------------------------------------------------------------------

    def _adopt_other(self, message: dict[str, Any]) -> bool:
        """Record the other person's connection; True when it is a new one (a new page)."""
        sender, role = message.get("from"), message.get("role")
        if not isinstance(sender, str) or role not in ("client", "professional"):
            return False
        with self._lock:
            if self.other is not None and self.other.peer_id == sender:
                return False
            self.other = Peer(
                sender, role, str(message.get("name", "")), int(message.get("user_id", 0))
            )
            self.failures = 0
            return True

    def _announce_presence(self) -> None:
        with self._lock:
            present = self.other is not None
        self.send(
            {
                "type": "presence",
                "present": present,
                "name": self.other_name,
                "role": self.other_role,
            }
        )

    def _announce_remote(self) -> None:
        """Tell the browser which media endpoint to connect to, given the mode."""
        assert self.me is not None
        now = self.clock()
        with self._lock:
            mode, other = self.mode, self.other
            relay_session = self._relay_session_id()
        user_ref = f"b{self.booking_id}{self.me.role[0]}"
        if mode == "relay":
            self.send(
                {
                    "type": "remote",
                    "id": relay_session,
                    "offerer": True,
                    "ice": relay_ice_config(),
                    "quality": {
                        "level": "reduced",
                        "max_width": self.config.relay_max_width,
                        "max_height": self.config.relay_max_height,
                        "max_fps": self.config.relay_max_fps,
                    },
                }
            )
        elif other is not None:
            self.send(
                {
                    "type": "remote",
                    "id": other.peer_id,
                    # One fixed offerer per pair keeps negotiation free of glare.
                    "offerer": self.me.role == "professional",
                    "ice": peer_ice_config(self.config, user_ref, now),
                    "quality": {"level": "full"},
                }
            )

    def _relay_session_id(self) -> str:
        me = self.me.peer_id if self.me else "none"
        return f"relay-{me}-{self.relay_generation}"

    def _me_fields(self) -> dict[str, Any]:
        assert self.me is not None
        return {
            "from": self.me.peer_id,
            "conn": self.conn_id,
            "role": self.me.role,
            "name": self.me.name,
            "user_id": self.me.user_id,
        }

    def _my_id(self) -> str:
        assert self.me is not None
        return self.me.peer_id

    def _mark_present(self) -> None:
        assert self.me is not None
        self.bus.mark_present(
            presence_key(self.booking_id, self.me.user_id),
            self.conn_id,
            3 * self.config.heartbeat_seconds,
        )

    def _publish(self, message: dict[str, Any]) -> None:
        message.setdefault("conn", self.conn_id)
        self.bus.publish(room_channel(self.booking_id), message)

    def send(self, message: dict[str, Any]) -> None:
        """Send ``message`` to the browser unless the connection is over."""
        if message.get("type") not in ("replaced", "room-closed", "error") and not self.open:
            return
        self._send(message)

    def _error(self, code: str, message: str) -> None:
        self.send({"type": "error", "code": code, "message": message})

    def _fail(self, code: str, message: str, **extra: Any) -> None:
        """Refuse: say why, then close."""
        self._send({"type": "error", "code": code, "message": message, **extra})
        self.open = False
        self._close()
