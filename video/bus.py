"""The signalling bus: how room connections served by different app processes
reach each other, and who is online in which room.

A small port (:class:`SignalBus`) with two adapters, chosen from ``[redis] url``
like the job queue: :class:`InProcessBus` when the app runs alone, and
:class:`RedisBus` (Redis pub/sub plus expiring presence keys) when several app
processes sit behind a load balancer, so a client connected to one and a
professional connected to another still see each other.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Callback = Callable[[dict[str, Any]], None]


class Subscription(Protocol):
    def close(self) -> None: ...


class SignalBus(Protocol):
    """Publish JSON-able messages on channels; keep expiring presence marks."""

    backend: str

    def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    def subscribe(self, channel: str, callback: Callback) -> Subscription: ...

    def mark_present(self, key: str, value: str, ttl_seconds: int) -> None: ...

    def clear_present(self, key: str, value: str) -> None: ...

    def is_present(self, key: str) -> bool: ...

    def close(self) -> None: ...


class _LocalSubscriptions:
    """Callbacks by channel within this process; both adapters dispatch through it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[str, list[Callback]] = defaultdict(list)

    def add(self, channel: str, callback: Callback) -> _Handle:
        with self._lock:
            self._callbacks[channel].append(callback)
        return _Handle(self, channel, callback)

    def remove(self, channel: str, callback: Callback) -> None:
        with self._lock:
            callbacks = self._callbacks.get(channel, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._callbacks.pop(channel, None)

    def dispatch(self, channel: str, message: dict[str, Any]) -> None:
        with self._lock:
            callbacks = list(self._callbacks.get(channel, ()))
        for callback in callbacks:
            try:
                callback(message)
            except Exception:
                # One broken connection must not stop delivery to the others.
                log.exception("signalling subscriber on %s failed", channel)


class _Handle:
    def __init__(self, owner: _LocalSubscriptions, channel: str, callback: Callback) -> None:
        self._owner, self._channel, self._callback = owner, channel, callback

    def close(self) -> None:
        self._owner.remove(self._channel, self._callback)


class InProcessBus:
    """Delivery inside one process: ``publish`` calls the subscribers directly."""

    backend = "in-process"

    def __init__(self) -> None:
        self._subscriptions = _LocalSubscriptions()
        self._lock = threading.Lock()
        self._present: dict[str, tuple[str, float]] = {}

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        # A JSON round trip, so subscribers get the same (copied) data as over Redis.
        self._subscriptions.dispatch(channel, json.loads(json.dumps(message)))

    def subscribe(self, channel: str, callback: Callback) -> Subscription:
        return self._subscriptions.add(channel, callback)

    def mark_present(self, key: str, value: str, ttl_seconds: int) -> None:
        with self._lock:
            self._present[key] = (value, time.monotonic() + ttl_seconds)

    def clear_present(self, key: str, value: str) -> None:
        with self._lock:
            current = self._present.get(key)
            if current is not None and current[0] == value:
                del self._present[key]

    def is_present(self, key: str) -> bool:
        with self._lock:
            current = self._present.get(key)
            if current is None:
                return False
            if current[1] <= time.monotonic():
                del self._present[key]
                return False
            return True

    def close(self) -> None:
        pass


# Delete the key only while it still holds our value: a newer connection of the same
# person may have taken it over in the meantime.
_COMPARE_AND_DELETE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisBus:
    """Redis pub/sub between app processes.

    One pattern subscription per process (``<prefix>*``) read by one daemon thread,
    which hands each message to this process's local subscribers; it reconnects
    after Redis restarts. Presence marks are keys with a TTL.
    """

    backend = "redis"

    def __init__(self, redis_url: str, prefix: str = "consult:video:") -> None:
        from redis import Redis

        self._redis = Redis.from_url(redis_url)
        self._prefix = prefix
        self._subscriptions = _LocalSubscriptions()
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self._pubsub: Any = None
        self._thread = threading.Thread(target=self._listen, name="video-bus", daemon=True)
        self._thread.start()
        # Messages published before the subscription is active would be lost; wait a
        # little for it, but never hold up the app's start when Redis is down.
        if not self._ready.wait(timeout=2):
            log.warning("the Redis signalling bus is not subscribed yet; retrying in background")

    def publish(self, channel: str, message: dict[str, Any]) -> None:
        self._redis.publish(self._prefix + channel, json.dumps(message))

    def subscribe(self, channel: str, callback: Callback) -> Subscription:
        return self._subscriptions.add(channel, callback)

    def mark_present(self, key: str, value: str, ttl_seconds: int) -> None:
        self._redis.set(self._prefix + "present:" + key, value, ex=ttl_seconds)

    def clear_present(self, key: str, value: str) -> None:
        self._redis.eval(_COMPARE_AND_DELETE, 1, self._prefix + "present:" + key, value)

    def is_present(self, key: str) -> bool:
        return bool(self._redis.exists(self._prefix + "present:" + key))

    def close(self) -> None:
        self._stopped.set()
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail
                pass
        self._thread.join(timeout=5)
        self._redis.close()

    def _listen(self) -> None:
        delay = 0.5
        while not self._stopped.is_set():
            try:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                self._pubsub.psubscribe(self._prefix + "*")
                self._ready.set()
                delay = 0.5
                while not self._stopped.is_set():
                    item = self._pubsub.get_message(timeout=1.0)
                    if item is None or item.get("type") != "pmessage":
                        continue
                    channel = item["channel"].decode()[len(self._prefix) :]
                    self._subscriptions.dispatch(channel, json.loads(item["data"]))
            except Exception as error:  # noqa: BLE001 - reconnect on any Redis failure
                if self._stopped.is_set():
                    return
                log.warning("signalling bus lost Redis (%s); reconnecting", error)
                time.sleep(delay)
                delay = min(delay * 2, 10)


def create_bus(redis_url: str) -> SignalBus:
    """:class:`RedisBus` when ``redis_url`` is set, else :class:`InProcessBus`."""
    if redis_url:
        return RedisBus(redis_url)
    return InProcessBus()
