"""Checking the URLs professionals give us, so the sync worker cannot be pointed at
the platform's own network.

A calendar URL must be http or https, name a host, carry no credentials (they go
in the username and password fields, where they are stored encrypted), and, unless
``[sync] allow_private_addresses`` is on, resolve only to public addresses: not
loopback, private (RFC 1918, unique-local), link-local (cloud metadata services
live there), multicast, reserved or unspecified. The check runs when the calendar
is connected (a clear 422), again before every sync (DNS may have changed), and
on every redirect the server answers with (:func:`redirect_guard`).

IPv6 addresses that carry an IPv4 address are judged by where they lead:

* IPv4-mapped ``::ffff:a.b.c.d`` and NAT64 ``64:ff9b::/96`` (what DNS64 answers on
  an IPv6-only network) are public exactly when their IPv4 address is;
* the tunnels and leftovers are refused whatever they carry: 6to4 ``2002::/16``
  and Teredo ``2001::/32`` go through relays we do not control and no calendar
  server lives behind them, IPv4-compatible ``::a.b.c.d`` and IPv4-translated
  ``::ffff:0:a.b.c.d`` are deprecated, and local-use NAT64 ``64:ff9b:1::/48`` is by
  definition a translator on the operator's own network (its IPv4 address sits
  where that operator's prefix length puts it, so it cannot be read reliably);
* the 6to4 relay anycast range ``192.88.99.0/24`` is refused on the IPv4 side.

A look-up before the request proves nothing by itself: the HTTP library would look
the host up again when it connects, and a hostile DNS server can answer with a
public address the first time and ``127.0.0.1`` the second (DNS rebinding). So the
sessions of the sync worker check again inside each connection
(:mod:`sync.sources.pinning`, with :func:`resolve_public`) and connect to one of the
addresses just checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any, TypeAlias
from urllib.parse import urljoin, urlsplit, urlunsplit

from sync.errors import UnsafeUrl

__all__ = [
    "MAX_URL_LENGTH",
    "check_url",
    "display_url",
    "redirect_guard",
    "resolve_public",
]

MAX_URL_LENGTH = 2000

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Refused whatever IPv4 address they carry (module docstring).
_TUNNELS = (
    ipaddress.IPv6Network("2002::/16"),  # 6to4
    ipaddress.IPv6Network("2001::/32"),  # Teredo
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64 (RFC 8215)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated by RFC 4291)
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
)
_SIX_TO_FOUR_RELAYS = ipaddress.IPv4Network("192.88.99.0/24")


def _normalise(url: str) -> str:
    url = url.strip()
    if url.lower().startswith("webcal://"):
        # Calendar apps hand out subscription links as webcal://; it means https.
        url = "https://" + url[len("webcal://") :]
    return url


def _is_public(address: IPAddress) -> bool:
    """Whether a connection to ``address`` ends up on the public internet (see the
    module docstring for the IPv6 forms that carry an IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # A socket connects to the IPv4 address itself.
            return _is_public(address.ipv4_mapped)
        if address in _NAT64:
            # The network's translator connects to the IPv4 address in the last 32 bits.
            return _is_public(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
        if any(address in tunnel for tunnel in _TUNNELS):
            return False
    elif address in _SIX_TO_FOUR_RELAYS:
        return False
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` (a name or an IP literal) resolves to, in the resolver's
    order, without repeats. Raises :class:`UnsafeUrl` when it cannot be found."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeUrl(f"The host {host!r} cannot be found.") from error
    found: dict[IPAddress, None] = {}
    for info in infos:
        # A scoped address (fe80::1%eth0) is link-local: judge it without the scope.
        address = str(info[4][0]).split("%", 1)[0]
        found[ipaddress.ip_address(address)] = None
    if not found:
        raise UnsafeUrl(f"The host {host!r} cannot be found.")
    return list(found)


def resolve_public(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (in the resolver's order), when all are public.

    Raises :class:`UnsafeUrl` when the host cannot be found or when any of its
    addresses is not public: a host with one private address is refused whole, since
    which of them a client ends up using is not ours to choose. ``host`` is a name or
    an IP literal (brackets allowed), ``port`` the port to be connected to.
    """
    addresses = _addresses(host, port)
    if not all(_is_public(address) for address in addresses):
        raise UnsafeUrl(
            f"{host} points to a private or local network address; "
            "only calendars on the public internet can be connected."
        )
    return addresses


def check_url(url: str, *, allow_private: bool, resolve: bool = True) -> str:
    """Return ``url`` normalised (``webcal://`` becomes ``https://``) if it may be fetched.

    Raises :class:`UnsafeUrl` with a message for the professional otherwise. With
    ``resolve`` (the default) the host is looked up and every address it resolves
    to must be public, unless ``allow_private``.
    """
    url = _normalise(url)
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Use a URL of at most {MAX_URL_LENGTH} characters.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeUrl("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl("This is not a valid URL.") from error
    if parts.scheme.lower() not in ("http", "https"):
        raise UnsafeUrl("Use an http:// or https:// (or webcal://) URL.")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Put the user name and password in their own fields, not in the URL.")
    if resolve and not allow_private:
        resolve_public(parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80))
    return urlunsplit(parts._replace(scheme=parts.scheme.lower()))


def display_url(url: str) -> str:
    """``url`` without its query string (private ICS links carry their secret there)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit(parts._replace(query="", fragment=""))


def redirect_guard(allow_private: bool) -> Callable[..., Any]:
    """A ``requests``/``niquests`` response hook that refuses redirects to unsafe URLs.

    The hook runs for every response of a redirect chain before the library follows
    it, and raises :class:`UnsafeUrl` when the ``Location`` fails :func:`check_url`.
    """

    def hook(response: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(response, "is_redirect", False):
            target = urljoin(str(response.url), response.headers.get("Location", ""))
            check_url(target, allow_private=allow_private)
        return response

    return hook
