"""Errors of the video and messaging package.

::

    VideoError
    ├── RoomNotFound          no such room for this person (also: a guessed id, a group booking)
    ├── RoomNotOpen           the room opens later (``opens_at`` says when)
    ├── RoomClosed            the room has closed (booking over or cancelled)
    ├── InvalidJoinToken      a join token that is malformed, expired or for another room
    │   └── JoinTokenUsed     one that already admitted someone (tokens are single-use)
    ├── InvalidMessage        a chat message that is empty or too long (``fields``)
    └── RelayError            the media relay could not take the session
        └── RelayFull         the relay is at its session cap
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType


class VideoError(Exception):
    """Base of every error this package raises; ``message`` is safe to show."""

    message = "The video room is not available."
    code = "video_error"

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class RoomNotFound(VideoError):
    message = "There is no video room for you here."
    code = "not_found"


class RoomNotOpen(VideoError):
    message = "The video room is not open yet."
    code = "not_open"

    def __init__(self, opens_at: datetime, message: str | None = None) -> None:
        self.opens_at = opens_at
        super().__init__(message)


class RoomClosed(VideoError):
    message = "The video room for this booking has closed."
    code = "room_closed"


class InvalidJoinToken(VideoError):
    message = "This join link is not valid. Reload the page to get a fresh one."
    code = "invalid_token"


class JoinTokenUsed(InvalidJoinToken):
    message = "This join link was already used. Reload the page to get a fresh one."
    code = "token_used"


class InvalidMessage(VideoError):
    message = "Some fields are invalid."
    code = "validation_error"

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        super().__init__()


class RelayError(VideoError):
    message = "The media relay is not available right now."
    code = "relay_unavailable"


class RelayFull(RelayError):
    message = "The media relay is busy right now."
    code = "relay_full"


# What each error means over HTTP: (status, machine-readable code).
HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {
        RoomNotFound: (404, "not_found"),
        RoomNotOpen: (409, "not_open"),
        RoomClosed: (409, "room_closed"),
        InvalidJoinToken: (401, "invalid_token"),
        JoinTokenUsed: (401, "token_used"),
        InvalidMessage: (422, "validation_error"),
        RelayError: (503, "relay_unavailable"),
    }
)
