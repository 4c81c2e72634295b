"""The video package's ports, built once per platform: config, signalling bus, relay.

Views find them on the platform (:data:`VIDEO`); the relay process builds its own.
"""

from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from booking.models import Booking
from consult.config import Settings
from consult.metrics import Metrics
from consult.services import Port
from notifications.service import Notifier
from video.bus import SignalBus, create_bus
from video.config import VideoConfig
from video.models import Message
from video.notify import queue_message_email
from video.relay_client import RelayPort, create_relay
from video.signalling import room_channel

log = logging.getLogger(__name__)


class RoomCount:
    """Rooms with someone connected to this process, and the connections, as
    gauges (summed over processes: a room that spans two servers counts twice)."""

    def __init__(self, metrics: Metrics) -> None:
        self._connections: collections.Counter[int] = collections.Counter()
        self._lock = threading.Lock()
        self._rooms = metrics.gauge("consult_video_rooms_active", "Rooms with a participant.")
        self._participants = metrics.gauge(
            "consult_video_participants", "Connections to video rooms."
        )

    def joined(self, room_id: int) -> None:
        with self._lock:
            self._connections[room_id] += 1
            self._update()

    def left(self, room_id: int) -> None:
        with self._lock:
            self._connections[room_id] -= 1
            if self._connections[room_id] <= 0:
                del self._connections[room_id]
            self._update()

    def _update(self) -> None:
        self._rooms.set(len(self._connections))
        self._participants.set(sum(self._connections.values()))


@dataclass
class VideoServices:
    config: VideoConfig
    bus: SignalBus
    relay: RelayPort | None
    notifier: Notifier
    rooms: RoomCount

    def after_post(self, session: Session, booking: Booking, message: Message) -> None:
        """Inside the message's transaction: queue the batched email for an absent
        recipient through the notification outbox."""
        queue_message_email(session, self.notifier, self.config, self.bus, booking, message)

    def broadcast(self, booking_id: int, message: dict[str, Any], nonce: str | None = None) -> None:
        """Deliver a stored message live to everyone connected to the booking's room."""
        self.bus.publish(
            room_channel(booking_id),
            {"type": "chat", "message": message, "nonce": nonce, "conn": ""},
        )


VIDEO: Port[VideoServices] = Port("video")


def create_services(settings: Settings, notifier: Notifier, metrics: Metrics) -> VideoServices:
    """Ports from settings: Redis bus when ``[redis] url`` is set, HTTP relay when
    ``[video] relay_url`` is set."""
    config = VideoConfig.from_settings(settings)
    return VideoServices(
        config,
        create_bus(settings.redis.url),
        create_relay(config.relay_url, config.relay_api_key),
        notifier,
        RoomCount(metrics),
    )
