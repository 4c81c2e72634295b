"""Video sessions and messaging for one-on-one bookings.

Rooms and access (:mod:`video.rooms`, :mod:`video.tokens`), ICE servers with
coturn-style TURN credentials (:mod:`video.ice`), WebSocket signalling
(:mod:`video.signalling`) over a bus that spans app processes (:mod:`video.bus`),
the aiortc media relay that runs as its own process (:mod:`video.relay`, started
with ``consult video``) and the message thread of each booking
(:mod:`video.messages`), with batched emails for absent recipients
(:mod:`video.notify`). The pages, the room WebSocket and the API are in
:mod:`web.video` and :mod:`web.api.video`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from consult.db import Database
from consult.hookspecs import ErrorStatuses, hookimpl
from consult.platform import Platform
from notifications.service import NOTIFIER
from video.errors import HTTP_STATUS
from video.notify import TEMPLATE_FOLDER
from video.services import VIDEO, create_services
from video.tokens import purge_used_join_tokens

__all__ = ["VIDEO", "include"]


class VideoHooks:
    def __init__(self, database: Database) -> None:
        self.database = database

    @hookimpl
    def maintenance(self, now: datetime) -> Mapping[str, int]:
        return {"used join tokens purged": purge_used_join_tokens(self.database, now)}

    @hookimpl
    def notification_templates(self) -> Sequence[Path]:
        return [TEMPLATE_FOLDER]

    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    """Wire video into ``platform``: its services (built on first use) and the
    new-message emails' templates."""
    platform.services.register(
        VIDEO,
        lambda: create_services(platform.settings, platform.find(NOTIFIER), platform.metrics),
    )

    def close_bus() -> None:
        services = platform.services.find_built(VIDEO)
        if services is not None:
            services.bus.close()

    platform.on_shutdown(close_bus)
    platform.register(VideoHooks(platform.database), "video")
