"""A Python participant of a video room, built on aiortc: the tests and the
benchmark join rooms with it exactly as a browser does (same WebSocket protocol,
same join token), and it can serve as a bot.

It sends a synthetic video track (and, optionally, silence), counts the frames it
receives, and follows the server's ``remote`` instructions: connect to the other
participant, or to the relay. aiortc has no ``iceTransportPolicy``, so the
``relay`` policy is applied here the way a browser applies it: host, server- and
peer-reflexive candidates are neither offered nor accepted.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from simple_websocket import AioClient, ConnectionClosed

log = logging.getLogger(__name__)


class PatternTrack(MediaStreamTrack):
    """A moving test pattern of ``width`` x ``height`` at ``fps``."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._count / self.fps
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shade = (self._count * 8) % 256
        for index, plane in enumerate(frame.planes):
            plane.update(bytes([shade if index == 0 else 128]) * plane.buffer_size)
        frame.pts = int(self._count * 90000 / self.fps)
        frame.time_base = fractions.Fraction(1, 90000)
        self._count += 1
        return frame


@dataclass
class Received:
    """What arrived from the remote side."""

    frames: int = 0
    first_frame_at: float | None = None
    sizes: set[tuple[int, int]] = field(default_factory=set)


class RoomClient:
    """Joins ``socket_url`` with ``token`` and keeps the media connection up."""

    def __init__(
        self,
        socket_url: str,
        token: str,
        *,
        peer_id: str | None = None,
        width: int = 320,
        height: int = 240,
        fps: int = 15,
    ) -> None:
        self.socket_url = socket_url
        self.token = token
        self.peer_id = peer_id or secrets.token_hex(8)
        self.width, self.height, self.fps = width, height, fps
        self.ws: Any = None
        self.pc: RTCPeerConnection | None = None
        self.remote_id: str | None = None
        self.policy = "all"
        self.remote: dict[str, Any] = {}
        self.received = Received()
        self.messages: list[dict[str, Any]] = []
        # (monotonic time, remote id) each time the server named a new media endpoint.
        self.remote_history: list[tuple[float, str | None]] = []
        self.welcome: dict[str, Any] | None = None
        self.started = time.monotonic()
        self.connected = asyncio.Event()
        self.first_frame = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._timeout = 15.0

    # --- signalling -----------------------------------------------------------------

    async def join(self) -> dict[str, Any]:
        """Connect and join; returns the server's first answer (``welcome`` or ``error``)."""
        self.ws = await AioClient.connect(self.socket_url)
        await self.send({"type": "join", "token": self.token, "peer_id": self.peer_id})
        first = await self._next()
        if first.get("type") == "welcome":
            self.welcome = first
            self._timeout = float(first.get("direct_timeout_seconds", 15))
            self._reader = asyncio.ensure_future(self._read())
            self._spawn(self._heartbeat(float(first.get("heartbeat_seconds", 20))))
        return first

    async def _heartbeat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.send({"type": "ping"})
            except ConnectionClosed:
                return

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def _next(self) -> dict[str, Any]:
        raw = await self.ws.receive(timeout=30)
        if raw is None:
            raise TimeoutError("no answer from the signalling server")
        message: dict[str, Any] = json.loads(raw)
        self.messages.append(message)
        return message

    async def _read(self) -> None:
        try:
            while True:
                message = await self._next()
                await self._on_message(message)
        except (ConnectionClosed, asyncio.CancelledError):
            return
        except Exception:
            log.exception("room client %s failed", self.peer_id)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "remote":
            await self._connect_to(message)
        elif kind == "signal" and message.get("from") == self.remote_id:
            await self._on_signal(message.get("data") or {})

    async def wait_for(self, kind: str, timeout: float = 30, **match: Any) -> dict[str, Any]:
        """The first message of type ``kind`` (with fields equal to ``match``) seen so far
        or arriving within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if message.get("type") == kind and all(
                    message.get(key) == value for key, value in match.items()
                ):
                    return message
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no {kind} message within {timeout}s; got {self.messages}")

    # --- media ----------------------------------------------------------------------------

    async def _connect_to(self, remote: dict[str, Any]) -> None:
        if remote.get("id") == self.remote_id and self.pc is not None:
            return
        await self._close_pc()
        self.remote_id = remote.get("id")
        self.remote_history.append((time.monotonic(), self.remote_id))
        self.remote = remote
        if self.remote_id is None:
            return
        ice = remote.get("ice") or {}
        self.policy = ice.get("iceTransportPolicy", "all")
        servers = [
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in ice.get("iceServers", [])
        ]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.pc = pc
        self.connected.clear()
        pc.addTrack(PatternTrack(self.width, self.height, self.fps))
        pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._spawn(self._count_frames(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc is not self.pc:
                return
            if pc.connectionState == "connected":
                self.connected.set()
            elif pc.connectionState == "failed":
                await self._report_failure(pc)

        self._spawn(self._watchdog(pc))
        if remote.get("offerer"):
            await pc.setLocalDescription(await pc.createOffer())
            await self._send_description(pc)

    async def _watchdog(self, pc: RTCPeerConnection) -> None:
        # Like the browser: a connection that is not up in time counts as failed.
        await asyncio.sleep(self._timeout)
        if pc is self.pc and not self.connected.is_set():
            await self._report_failure(pc)

    async def _report_failure(self, pc: RTCPeerConnection) -> None:
        if pc is self.pc and not getattr(pc, "_consult_reported", False):
            pc._consult_reported = True  # type: ignore[attr-defined]
            await self.send({"type": "connection-failed", "connected_before": False})

    async def _on_signal(self, data: dict[str, Any]) -> None:
        pc = self.pc
        description = data.get("description")
        if pc is None or not isinstance(description, dict):
            return  # aiortc puts every candidate into the SDP; trickled ones are not needed
        sdp = self._filter(description["sdp"])
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=description["type"]))
        if description["type"] == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            await self._send_description(pc)

    async def _send_description(self, pc: RTCPeerConnection) -> None:
        description = pc.localDescription
        await self.send(
            {
                "type": "signal",
                "to": self.remote_id,
                "data": {
                    "description": {"type": description.type, "sdp": self._filter(description.sdp)}
                },
            }
        )

    def _filter(self, sdp: str) -> str:
        """Apply the relay-only ICE policy to an SDP: keep only relayed candidates."""
        if self.policy != "relay":
            return sdp
        lines = [
            line
            for line in sdp.splitlines()
            if not line.startswith("a=candidate:") or " typ relay" in line
        ]
        return "\r\n".join(lines) + "\r\n"

    async def _count_frames(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, VideoFrame):
                continue
            self.received.frames += 1
            self.received.sizes.add((frame.width, frame.height))
            if self.received.first_frame_at is None:
                self.received.first_frame_at = time.monotonic()
                self.first_frame.set()

    async def wait_frames(self, count: int, timeout: float = 60) -> int:
        """Wait until ``count`` frames arrived in total; returns the number seen."""
        deadline = time.monotonic() + timeout
        while self.received.frames < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.received.frames

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_pc(self) -> None:
        if self.pc is not None:
            pc, self.pc = self.pc, None
            # After an ICE failure aiortc closes the connection itself; closing it a
            # second time concurrently trips over its own state.
            if pc.connectionState not in ("failed", "closed"):
                await pc.close()

    async def close(self) -> None:
        """Leave the room and close the media connection."""
        if self.ws is not None:
            try:
                await self.send({"type": "leave"})
            except ConnectionClosed:
                pass
        if self._reader is not None:
            self._reader.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self._close_pc()
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:  # noqa: BLE001 - closing an already closed socket
                pass
