"""Which addresses the sync worker may connect to (:mod:`sync.urls`): the IPv6 forms
that carry an IPv4 address are judged by where they lead, and the tunnels are
refused whatever they carry. Literal addresses need no DNS; where a name is looked
up, a scripted DNS answers (nothing here leaves this machine)."""

from __future__ import annotations

import ipaddress

import pytest

from sync.errors import UnsafeUrl
from sync.urls import check_url, resolve_public
from tests.sync.helpers import ScriptedDns


def teredo(server: str, client: str) -> str:
    """The Teredo address of ``client`` behind ``server``: the server's IPv4 address
    in bits 32-64, the client's, inverted, in the last 32 (RFC 4380)."""
    prefix = int(ipaddress.IPv6Address("2001::"))
    value = prefix | int(ipaddress.IPv4Address(server)) << 64
    value |= int(ipaddress.IPv4Address(client)) ^ 0xFFFF_FFFF
    return str(ipaddress.IPv6Address(value))


def six_to_four(ipv4: str) -> str:
    """The first address of the 6to4 prefix of ``ipv4`` (its bits 16-48)."""
    value = int(ipaddress.IPv6Address("2002::")) | int(ipaddress.IPv4Address(ipv4)) << 80
    return str(ipaddress.IPv6Address(value + 1))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        # IPv4
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("192.88.99.1", False),  # the 6to4 relays' anycast
        ("0.0.0.0", False),
        # native IPv6
        ("2001:4860:4860::8888", True),
        ("::1", False),
        ("::", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("ff02::1", False),
        # IPv4-mapped: the IPv4 address itself
        ("::ffff:8.8.8.8", True),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        # NAT64, well-known prefix: the IPv4 address in the last 32 bits
        ("64:ff9b::8.8.8.8", True),
        ("64:ff9b::127.0.0.1", False),
        ("64:ff9b::10.0.0.1", False),
        ("64:ff9b::169.254.169.254", False),
        # local-use NAT64: the operator's own translator, refused whatever it carries
        ("64:ff9b:1::10.0.0.1", False),
        ("64:ff9b:1::8.8.8.8", False),
        # IPv4-compatible and IPv4-translated (deprecated): refused
        ("::127.0.0.1", False),
        ("::10.0.0.1", False),
        ("::8.8.8.8", False),
        ("::ffff:0:127.0.0.1", False),
        ("::ffff:0:8.8.8.8", False),
        # 6to4: the IPv4 address in bits 16-48; a tunnel, refused whatever it carries
        (six_to_four("127.0.0.1"), False),
        (six_to_four("192.168.1.1"), False),
        (six_to_four("169.254.169.254"), False),
        (six_to_four("8.8.8.8"), False),
        # Teredo: a tunnel through a relay, refused whatever server and client it names
        (teredo("8.8.8.8", "127.0.0.1"), False),
        (teredo("8.8.8.8", "10.0.0.1"), False),
        (teredo("127.0.0.1", "8.8.4.4"), False),
        (teredo("8.8.8.8", "8.8.4.4"), False),
    ],
)
def test_addresses_are_judged_by_where_they_lead(address: str, public: bool) -> None:
    host = f"[{address}]" if ":" in address else address
    url = f"https://{host}/calendar.ics"
    if public:
        assert check_url(url, allow_private=False) == url
    else:
        with pytest.raises(UnsafeUrl, match="private or local network"):
            check_url(url, allow_private=False)
    assert check_url(url, allow_private=True) == url  # the operator's choice


def test_the_address_helpers_compute_what_the_rfcs_say() -> None:
    assert six_to_four("192.168.1.1") == "2002:c0a8:101::1"
    parsed = ipaddress.IPv6Address(teredo("65.54.227.120", "192.0.2.45"))
    assert parsed.teredo == (
        ipaddress.IPv4Address("65.54.227.120"),
        ipaddress.IPv4Address("192.0.2.45"),
    )


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ScriptedDns(monkeypatch, "calendar.example.test", ("8.8.8.8", "64:ff9b::10.0.0.1"))
    with pytest.raises(UnsafeUrl, match="calendar.example.test points to a private"):
        resolve_public("calendar.example.test", 443)
    ScriptedDns(monkeypatch, "calendar.example.test", ("8.8.8.8", "8.8.8.8", "64:ff9b::8.8.4.4"))
    assert resolve_public("calendar.example.test", 443) == [
        ipaddress.IPv4Address("8.8.8.8"),
        ipaddress.IPv6Address("64:ff9b::808:404"),
    ]
