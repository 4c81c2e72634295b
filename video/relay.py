"""The media relay: ``consult video``, an asyncio process built on aiortc.

When two browsers find no direct or TURN path, each connects to this relay
instead; the relay forwards media from one to the other. aiortc decodes every
incoming stream and encodes it again for the other side, which costs CPU, so the
relay caps what it forwards (``relay_max_width`` x ``relay_max_height`` at
``relay_max_fps``), refuses sessions beyond ``relay_max_sessions`` and keeps load
counters (sessions, frames in and out, CPU seconds) at ``GET /status``.

Control API (JSON, ``Authorization: Bearer <key derived from the app secret>``),
called by the web app's signalling, never by browsers::

    POST /rooms/<room>/<role>/offer      {session, sdp} -> {sdp}   (replaces that role's peer)
    POST /rooms/<room>/<role>/candidate  {session, candidate}
    POST /rooms/<room>/<role>/close      {session}
    GET  /status

Media flow inside a room: every incoming track is drained by a pump task into
small per-consumer queues (newest frames win, so a slow encoder drops frames
rather than building latency); the other role's outgoing :class:`RelayedTrack`
reads from its queue, re-stamps the frame on its own clock (sources change when
someone reloads) and scales it down to the cap.
"""

from __future__ import annotations

import asyncio
import fractions
import hmac
import logging
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame, VideoFrame

from video.config import VideoConfig
from video.errors import RelayFull

log = logging.getLogger(__name__)

ROLES = ("client", "professional")
VIDEO_CLOCK = 90000
QUEUE_FRAMES = 2


def other_role(role: str) -> str:
    return "professional" if role == "client" else "client"


def capped_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest size within the caps with the same aspect ratio, in even pixels
    (the encoder's 4:2:0 chroma needs even sizes); never upscaled."""
    scale = min(1.0, max_width / width, max_height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


@dataclass
class Load:
    """Counters for ``/status`` and the benchmark."""

    started: float = field(default_factory=time.monotonic)
    sessions_total: int = 0
    refused_total: int = 0
    frames_in: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    frames_out: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    frames_dropped: int = 0


class Source:
    """One incoming track, fanned out to consumer queues by :meth:`pump`."""

    def __init__(self, track: MediaStreamTrack, load: Load) -> None:
        self.track = track
        self.kind = track.kind
        self.load = load
        self.consumers: set[asyncio.Queue[Any]] = set()
        self.task: asyncio.Task[None] | None = None

    async def pump(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return
            self.load.frames_in[self.kind] += 1
            for queue in list(self.consumers):
                if queue.full():
                    queue.get_nowait()
                    self.load.frames_dropped += 1
                queue.put_nowait(frame)


class RelayPeer:
    """One browser's connection to the relay."""

    def __init__(self, session_id: str, pc: RTCPeerConnection) -> None:
        self.session_id = session_id
        self.pc = pc
        self.sources: dict[str, Source] = {}


class RelayRoom:
    """The (at most) two peers of a one-on-one room and who listens to whom."""

    def __init__(self, room_id: int) -> None:
        self.room_id = room_id
        self.peers: dict[str, RelayPeer] = {}
        self.changed = asyncio.Condition()

    def source(self, role: str, kind: str) -> Source | None:
        peer = self.peers.get(role)
        return peer.sources.get(kind) if peer else None

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


class RelayedTrack(MediaStreamTrack):
    """What one role receives: the other role's current track of ``kind``, capped."""

    def __init__(self, relay: Relay, room: RelayRoom, from_role: str, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.relay = relay
        self.room = room
        self.from_role = from_role
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_FRAMES)
        self.attached: Source | None = None
        self.origin: float | None = None
        self.samples = 0
        self.next_due = 0.0

    def _attach(self) -> bool:
        source = self.room.source(self.from_role, self.kind)
        if source is self.attached:
            return source is not None
        if self.attached is not None:
            self.attached.consumers.discard(self.queue)
        self.attached = source
        if source is not None:
            source.consumers.add(self.queue)
        return source is not None

    async def recv(self) -> VideoFrame | AudioFrame:
        config = self.relay.config
        while True:
            if not self._attach():
                async with self.room.changed:
                    await self.room.changed.wait_for(
                        lambda: self.room.source(self.from_role, self.kind) is not None
                    )
                continue
            try:
                frame = await asyncio.wait_for(self.queue.get(), timeout=1.0)
            except TimeoutError:
                continue  # the source may have been replaced; look again
            now = time.monotonic()
            if self.origin is None:
                self.origin = now
            if isinstance(frame, VideoFrame):
                interval = 1.0 / config.relay_max_fps
                # Over the frame-rate cap: skip before paying for the encode. A quarter
                # interval of slack keeps network jitter from dropping frames of a
                # source that is already within the cap.
                if now < self.next_due - interval / 4:
                    continue
                self.next_due = max(self.next_due, now - interval) + interval
                width, height = capped_size(
                    frame.width, frame.height, config.relay_max_width, config.relay_max_height
                )
                if (width, height) != (frame.width, frame.height):
                    frame = frame.reformat(width=width, height=height)
                frame.pts = int((now - self.origin) * VIDEO_CLOCK)
                frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            else:
                # Audio keeps a continuous sample clock across source changes.
                frame.pts = self.samples
                frame.time_base = fractions.Fraction(1, frame.sample_rate)
                self.samples += frame.samples
            self.relay.load.frames_out[self.kind] += 1
            return frame

    def stop(self) -> None:
        if self.attached is not None:
            self.attached.consumers.discard(self.queue)
        super().stop()


class Relay:
    """The relay's state: rooms, peers, load. Methods run on one event loop."""

    def __init__(self, config: VideoConfig) -> None:
        self.config = config
        self.rooms: dict[int, RelayRoom] = {}
        self.load = Load()

    @property
    def sessions(self) -> int:
        return sum(1 for room in self.rooms.values() if room.peers)

    def _ice(self) -> RTCConfiguration:
        # Explicit, possibly empty: aiortc would otherwise add a public STUN server itself.
        return RTCConfiguration(
            iceServers=[RTCIceServer(urls=url) for url in self.config.relay_stun_urls]
        )

    async def offer(self, room_id: int, role: str, session_id: str, sdp: str) -> str:
        """Answer ``sdp`` for ``role`` in ``room_id``, replacing its previous peer.
        Raises :class:`RelayFull` when a new session would exceed the cap."""
        room = self.rooms.get(room_id)
        if (room is None or not room.peers) and self.sessions >= self.config.relay_max_sessions:
            self.load.refused_total += 1
            raise RelayFull()
        if room is None:
            room = self.rooms[room_id] = RelayRoom(room_id)
        if not room.peers:
            self.load.sessions_total += 1
        # Rooms and peers change only between awaits, never across one: two requests
        # for one room (an offer and a close) may interleave at every await below.
        previous = room.peers.get(role)
        pc = RTCPeerConnection(self._ice())
        peer = RelayPeer(session_id, pc)
        room.peers[role] = peer
        if previous is not None:
            await self._close_peer(room, previous)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            source = Source(track, self.load)
            old = peer.sources.get(track.kind)
            if old is not None and old.task is not None:
                old.task.cancel()
            peer.sources[track.kind] = source
            source.task = asyncio.ensure_future(source.pump())
            asyncio.ensure_future(room.notify())

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("relay room %s %s: %s", room_id, role, pc.connectionState)
            if pc.connectionState in ("failed", "closed") and room.peers.get(role) is peer:
                await self.close(room_id, role, session_id)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            if not pc.getTransceivers():
                raise ValueError("the offer has no audio or video")
            for transceiver in pc.getTransceivers():
                pc.addTrack(RelayedTrack(self, room, other_role(role), transceiver.kind))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception:
            await self.close(room_id, role, session_id)
            raise
        log.info(
            "relay room %s: %s joined (%d sessions of %d)",
            room_id,
            role,
            self.sessions,
            self.config.relay_max_sessions,
        )
        return str(pc.localDescription.sdp)

    async def add_candidate(
        self, room_id: int, role: str, session_id: str, candidate: dict[str, Any]
    ) -> bool:
        """Add a trickled browser candidate; False when the peer is gone or it is malformed."""
        peer = self._peer(room_id, role, session_id)
        text = str(candidate.get("candidate") or "")
        if peer is None:
            return False
        if not text:
            return True  # end of candidates
        try:
            parsed = candidate_from_sdp(
                text.split(":", 1)[1] if text.startswith("candidate:") else text
            )
        except (ValueError, IndexError):
            return False
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await peer.pc.addIceCandidate(parsed)
        return True

    async def close(self, room_id: int, role: str, session_id: str) -> None:
        """Close ``role``'s peer if it is still ``session_id`` (idempotent)."""
        room = self.rooms.get(room_id)
        peer = self._peer(room_id, role, session_id)
        if room is None or peer is None:
            return
        del room.peers[role]
        if not room.peers:
            del self.rooms[room_id]
            log.info("relay room %s closed (%d sessions)", room_id, self.sessions)
        await self._close_peer(room, peer)

    async def _close_peer(self, room: RelayRoom, peer: RelayPeer) -> None:
        for source in peer.sources.values():
            if source.task is not None:
                source.task.cancel()
        for sender in peer.pc.getSenders():
            if sender.track is not None:
                sender.track.stop()
        await peer.pc.close()
        await room.notify()

    def _peer(self, room_id: int, role: str, session_id: str) -> RelayPeer | None:
        room = self.rooms.get(room_id)
        peer = room.peers.get(role) if room else None
        return peer if peer is not None and peer.session_id == session_id else None

    def status(self) -> dict[str, Any]:
        """Load figures: sessions, peers, frame counters, CPU seconds of this process."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "sessions": self.sessions,
            "peers": sum(len(room.peers) for room in self.rooms.values()),
            "max_sessions": self.config.relay_max_sessions,
            "sessions_total": self.load.sessions_total,
            "refused_total": self.load.refused_total,
            "frames_in": dict(self.load.frames_in),
            "frames_out": dict(self.load.frames_out),
            "frames_dropped": self.load.frames_dropped,
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "uptime_seconds": round(time.monotonic() - self.load.started, 1),
            "caps": {
                "max_width": self.config.relay_max_width,
                "max_height": self.config.relay_max_height,
                "max_fps": self.config.relay_max_fps,
            },
            "pid": os.getpid(),
        }

    async def shutdown(self) -> None:
        for room_id, room in list(self.rooms.items()):
            for role, peer in list(room.peers.items()):
                await self.close(room_id, role, peer.session_id)


# --- HTTP control API ----------------------------------------------------------------------


def create_web_app(relay: Relay) -> web.Application:
    """The aiohttp application serving the control API for ``relay``."""
    key = relay.config.relay_api_key

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), key.encode()):
            return _error(401, "unauthorized", "Present the relay key.")
        return await handler(request)

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError as error:
            raise web.HTTPBadRequest(text="invalid JSON") from error
        if not isinstance(data, dict) or not isinstance(data.get("session"), str):
            raise web.HTTPBadRequest(text="send a JSON object with a session")
        return data

    def target(request: web.Request) -> tuple[int, str]:
        room, role = request.match_info["room"], request.match_info["role"]
        if not room.isdigit() or role not in ROLES:
            raise web.HTTPNotFound()
        return int(room), role

    async def offer(request: web.Request) -> web.Response:
        room, role = target(request)
        data = await body(request)
        if not isinstance(data.get("sdp"), str) or "v=0" not in data["sdp"]:
            return _error(400, "bad_sdp", "Send the browser's SDP offer.")
        try:
            answer = await relay.offer(room, role, data["session"], data["sdp"])
        except RelayFull:
            return _error(503, "relay_full", "The relay is at its session cap.")
        except ValueError as error:
            return _error(400, "bad_sdp", f"The offer could not be used: {error}")
        return web.json_response({"sdp": answer})

    async def candidate(request: web.Request) -> web.Response:
        room, role = target(request)
        data = await body(request)
        if not isinstance(data.get("candidate"), dict):
            return _error(400, "bad_candidate", "Send an RTCIceCandidate object.")
        accepted = await relay.add_candidate(room, role, data["session"], data["candidate"])
        return web.json_response({"accepted": accepted})

    async def close(request: web.Request) -> web.Response:
        room, role = target(request)
        data = await body(request)
        await relay.close(room, role, data["session"])
        return web.json_response({"closed": True})

    async def status(_request: web.Request) -> web.Response:
        return web.json_response(relay.status())

    app = web.Application(middlewares=[authenticate], client_max_size=256 * 1024)
    app.router.add_post("/rooms/{room}/{role}/offer", offer)
    app.router.add_post("/rooms/{room}/{role}/candidate", candidate)
    app.router.add_post("/rooms/{room}/{role}/close", close)
    app.router.add_get("/status", status)

    async def on_shutdown(_app: web.Application) -> None:
        await relay.shutdown()

    app.on_shutdown.append(on_shutdown)
    return app


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def run_relay(config: VideoConfig, host: str | None = None, port: int | None = None) -> int:
    """Serve the relay until interrupted (``consult video``). Returns an exit status."""
    relay = Relay(config)
    host = host or config.relay_host
    port = port if port is not None else config.relay_port
    log.info(
        "media relay on http://%s:%s (cap %d sessions, %dx%d at %d fps)",
        host,
        port,
        config.relay_max_sessions,
        config.relay_max_width,
        config.relay_max_height,
        config.relay_max_fps,
    )
    print(f"Media relay listening on http://{host}:{port}", flush=True)
    web.run_app(create_web_app(relay), host=host, port=port, print=None, handle_signals=True)
    return 0
