"""Video sessions and messaging for one-on-one bookings.

Rooms and access (:mod:`video.rooms`, :mod:`video.tokens`), ICE servers with
coturn-style TURN credentials (:mod:`video.ice`), WebSocket signalling
(:mod:`video.signalling`) over a bus that spans app processes (:mod:`video.bus`),
the aiortc media relay that runs as its own process (:mod:`video.relay`, started
with ``consult video``) and the message thread of each booking
(:mod:`video.messages`), with batched emails for absent recipients
(:mod:`video.notify`). :func:`init_app` wires it all into the Flask app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["init_app"]


def init_app(app: Flask) -> Any:
    """Register the video pages, WebSocket, API and services on ``app``."""
    from video.app import init_app as _init_app

    return _init_app(app)
