"""The ``[video]`` settings as one typed, frozen value, so services and the relay
take plain arguments instead of reaching for Flask globals."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from consult.config import Settings


@dataclass(frozen=True)
class VideoConfig:
    """Everything video and messaging read from settings (see ``[video]`` in config.ini);
    every value comes from the settings schema."""

    secret_key: str
    base_url: str
    open_before: timedelta
    close_after: timedelta
    join_token_ttl: timedelta
    heartbeat_seconds: int
    stun_urls: tuple[str, ...]
    turn_urls: tuple[str, ...]
    turn_secret: str
    turn_ttl: timedelta
    ice_transport_policy: str
    direct_timeout_seconds: int
    relay_url: str
    relay_host: str
    relay_port: int
    relay_stun_urls: tuple[str, ...]
    relay_max_sessions: int
    relay_max_width: int
    relay_max_height: int
    relay_max_fps: int
    message_max_length: int
    message_email_delay: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> VideoConfig:
        """Build from loaded settings (assumes the ``[video]`` section exists)."""
        video = settings.video
        return cls(
            secret_key=settings.app.secret_key,
            base_url=settings.app.base_url,
            open_before=timedelta(minutes=video.open_before_minutes),
            close_after=timedelta(minutes=video.close_after_minutes),
            join_token_ttl=timedelta(seconds=video.join_token_seconds),
            heartbeat_seconds=video.heartbeat_seconds,
            stun_urls=tuple(video.stun_urls),
            turn_urls=tuple(video.turn_urls),
            turn_secret=video.turn_secret,
            turn_ttl=timedelta(seconds=video.turn_ttl_seconds),
            ice_transport_policy=video.ice_transport_policy,
            direct_timeout_seconds=video.direct_timeout_seconds,
            relay_url=video.relay_url,
            relay_host=video.relay_host,
            relay_port=video.relay_port,
            relay_stun_urls=tuple(video.relay_stun_urls),
            relay_max_sessions=video.relay_max_sessions,
            relay_max_width=video.relay_max_width,
            relay_max_height=video.relay_max_height,
            relay_max_fps=video.relay_max_fps,
            message_max_length=video.message_max_length,
            message_email_delay=timedelta(minutes=video.message_email_delay_minutes),
        )

    def derived_key(self, purpose: str) -> bytes:
        """A key for one purpose derived from the app's secret key, so a join token can
        never be replayed as a session cookie or a relay credential and vice versa."""
        return hmac.new(self.secret_key.encode(), purpose.encode(), hashlib.sha256).digest()

    @property
    def relay_api_key(self) -> str:
        """The bearer key the web app presents to the relay's control API."""
        return self.derived_key("video-relay-api").hex()
