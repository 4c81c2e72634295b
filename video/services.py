"""The video package's ports, built once per app: config, signalling bus, relay.

Views look them up with :func:`web.video.get_video`; jobs and the relay build their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from booking.models import Booking
from consult.config import Settings
from video.bus import SignalBus, create_bus
from video.config import VideoConfig
from video.models import Message
from video.relay_client import RelayPort, create_relay

log = logging.getLogger(__name__)


@dataclass
class VideoServices:
    config: VideoConfig
    bus: SignalBus
    relay: RelayPort | None

    def after_post(self, session: Session, booking: Booking, message: Message) -> None:
        """Inside the message's transaction: queue the batched email for an absent
        recipient through the notification outbox."""
        from video.notify import queue_message_email

        try:
            queue_message_email(session, self.config, self.bus, booking, message)
        except ImportError:
            # The notification outbox is a separate package; without it, messages
            # still work and are shown as unread, only no email goes out.
            log.warning("notifications is not installed; no email for message %s", message.id)

    def broadcast(self, booking_id: int, message: dict[str, Any], nonce: str | None = None) -> None:
        """Deliver a stored message live to everyone connected to the booking's room."""
        from video.signalling import room_channel

        self.bus.publish(
            room_channel(booking_id),
            {"type": "chat", "message": message, "nonce": nonce, "conn": ""},
        )


def create_services(settings: Settings) -> VideoServices:
    """Ports from settings: Redis bus when ``[redis] url`` is set, HTTP relay when
    ``[video] relay_url`` is set."""
    config = VideoConfig.from_settings(settings)
    return VideoServices(
        config, create_bus(settings.redis.url), create_relay(config.relay_url, config.relay_api_key)
    )
