"""Connections that go to the address that was checked (no DNS rebinding).

:func:`sync.urls.check_url` looks the host up and refuses private addresses, but an
HTTP library left to itself looks the host up again when it connects, and a hostile
DNS server can answer with a public address the first time and ``127.0.0.1`` the
second. The adapters here move the check into the connection: each new connection
resolves its host once, is refused unless every address is public
(:func:`sync.urls.resolve_public`), and opens its socket to one of those very
addresses, in the resolver's order (the next one when one cannot be reached, as
``socket.create_connection`` does). Only the socket's destination changes: the Host
header, TLS SNI and the certificate check still use the host name. A redirect to
another host is a new connection, so it is checked the same way.

Two HTTP stacks need this: ``requests`` (ICS feeds, Google, Microsoft) and the one
the ``caldav`` library runs on (``niquests``, or ``requests`` where niquests is
missing). Both build their connections from urllib3's classes (niquests from
urllib3-future, a fork that keeps them), so one mixin over
``HTTPConnection._new_conn`` serves both.

Through a proxy (``HTTPS_PROXY`` in the environment) the proxy looks the host up, so
only the checks before the request and on each redirect apply; an operator who
routes the worker through one should make it refuse private addresses too.
"""

from __future__ import annotations

import functools
import logging
import socket
from typing import Any, TypeVar

import requests
import requests.adapters
from caldav.lib.http_sync import requests as dav_http  # niquests, or requests without it

from sync.urls import resolve_public

__all__ = ["CheckedAdapter", "CheckedDavAdapter", "check_connections"]

log = logging.getLogger(__name__)

SessionT = TypeVar("SessionT")


class _CheckedConnection:
    """Mixin for a urllib3 ``HTTPConnection``: its socket goes only to a checked address.

    urllib3 (and urllib3-future) keep the name to resolve in ``_dns_host`` and read
    ``host`` (for the Host header, SNI and the certificate) from it, so the name is
    put back as soon as the socket is open.
    """

    _dns_host: str
    port: int | None
    default_port: int

    def _new_conn(self) -> socket.socket:
        """The connected socket; raises :class:`sync.urls.UnsafeUrl` before any
        connection when the host has an address that is not public."""
        hostname = self._dns_host
        addresses = resolve_public(hostname, self.port or self.default_port)
        try:
            for address in addresses[:-1]:
                self._dns_host = str(address)
                try:
                    return super()._new_conn()  # type: ignore[misc]
                except Exception:  # unreachable over this address: try the next one
                    log.debug("cannot connect to %s at %s", hostname, address, exc_info=True)
            self._dns_host = str(addresses[-1])
            return super()._new_conn()  # type: ignore[misc]
        finally:
            self._dns_host = hostname


@functools.cache  # one subclass per urllib3 pool class (two stacks, http and https)
def _checked_pool(pool: type) -> type:
    """A subclass of the urllib3 connection pool class ``pool`` whose connections
    are :class:`_CheckedConnection`\\ s."""
    base = pool.ConnectionCls  # type: ignore[attr-defined]
    connection = type(f"Checked{base.__name__}", (_CheckedConnection, base), {})
    return type(f"Checked{pool.__name__}", (pool,), {"ConnectionCls": connection})


def _check_pools(manager: Any) -> None:
    """Make the urllib3 ``PoolManager`` ``manager`` build checked pools."""
    manager.pool_classes_by_scheme = {
        scheme: _checked_pool(pool) for scheme, pool in manager.pool_classes_by_scheme.items()
    }


class CheckedAdapter(requests.adapters.HTTPAdapter):
    """A ``requests`` adapter whose direct connections go only to checked public
    addresses (the module docstring says how; proxied ones are left as they are)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _check_pools(self.poolmanager)


class CheckedDavAdapter(dav_http.adapters.HTTPAdapter):
    """The same as :class:`CheckedAdapter`, for the HTTP library of the caldav client."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _check_pools(self.poolmanager)


def check_connections(session: SessionT) -> SessionT:
    """``session`` (a ``requests`` session, or the caldav client's) with checked
    adapters mounted for http and https; returns it."""
    adapter = CheckedAdapter if isinstance(session, requests.Session) else CheckedDavAdapter
    for prefix in ("https://", "http://"):
        session.mount(prefix, adapter())  # type: ignore[attr-defined]
    return session
