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
