"""Checking the URLs professionals give us, so the sync worker cannot be pointed at
the platform's own network.

A calendar URL must be http or https, name a host, carry no credentials (they go
in the username and password fields, where they are stored encrypted), and, unless
``[sync] allow_private_addresses`` is on, resolve only to public addresses: not
loopback, private (RFC 1918, unique-local), link-local (cloud metadata services
live there), multicast, reserved or unspecified. The check runs when the calendar
is connected (a clear 422), again before every sync (DNS may have changed), and
on every redirect the server answers with (:func:`redirect_guard`).

What remains is DNS rebinding between our check and the HTTP library's own lookup
a moment later; closing that would mean pinning addresses inside two HTTP stacks
(``requests`` and the ``caldav`` library's ``niquests``). An operator who needs
that guarantee should also route outbound traffic through an egress proxy.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

__all__ = ["MAX_URL_LENGTH", "UnsafeUrl", "check_url", "redirect_guard", "display_url"]

MAX_URL_LENGTH = 2000


class UnsafeUrl(ValueError):
    """The URL is not one the sync worker may fetch; the message says why."""


def _normalise(url: str) -> str:
    url = url.strip()
    if url.lower().startswith("webcal://"):
        # Calendar apps hand out subscription links as webcal://; it means https.
        url = "https://" + url[len("webcal://") :]
    return url


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeUrl(f"The host {host!r} cannot be found.") from error
    found = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        found.append(ipaddress.ip_address(address))
    return found


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
        port = port or (443 if parts.scheme.lower() == "https" else 80)
        for address in _addresses(parts.hostname, port):
            if not _is_public(address):
                raise UnsafeUrl(
                    f"{parts.hostname} points to a private or local network address; "
                    "only calendars on the public internet can be connected."
                )
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
