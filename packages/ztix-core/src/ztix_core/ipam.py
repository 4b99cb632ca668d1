"""Peering-LAN address management: one IPv4 and one IPv6 per membership.

Pure functions: the caller passes what is taken (the allocation repository's view) and what
is reserved (route servers' own addresses); storage enforces uniqueness per network.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Collection

import attrs

from ztix_core.errors import AddressPoolExhausted, InvalidValue
from ztix_core.values import Asn

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Ipv6Scheme(enum.Enum):
    """How IPv6 peering addresses are chosen."""

    SEQUENTIAL = "sequential"
    #: The decimal ASN written into the interface identifier, as AMS-IX does:
    #: AS6939 on 2001:db8::/64 → 2001:db8::a500:0:6939:1 (``a5`` marker, the ASN's ten
    #: decimal digits as hex nibbles, then a 16-bit index starting at 1).
    ASN_EMBEDDED = "asn_embedded"


@attrs.frozen
class AddressPair:
    """The two addresses of one membership."""

    ipv4: ipaddress.IPv4Address
    ipv6: ipaddress.IPv6Address


def _sequential(
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network,
    unavailable: Collection[IPAddress],
) -> IPAddress:
    first = int(prefix.network_address) + 1
    last = int(prefix.broadcast_address) - 1  # IPv6: keep the all-ones address free too
    # integer bounds instead of ``a in prefix`` (an object comparison per address): this
    # runs over every held address at each allocation
    version = prefix.version
    blocked = {
        n for a in unavailable if a.version == version and first - 1 <= (n := int(a)) <= last + 1
    }
    candidate = first
    while candidate <= last:
        if candidate not in blocked:
            return ipaddress.ip_address(candidate)
        candidate += 1
    raise AddressPoolExhausted(
        f"no free address left in {prefix} ({len(blocked)} in use or reserved)",
        prefix=str(prefix),
    )


def asn_embedded_ipv6(
    prefix: ipaddress.IPv6Network, asn: Asn, index: int = 1
) -> ipaddress.IPv6Address:
    """The ASN-embedding address for ``asn`` with ``index`` (1–65535) in a /64-or-shorter."""
    if prefix.prefixlen > 64:
        raise InvalidValue(
            "ipv6_prefix", f"ASN-embedding needs a /64 or shorter, not /{prefix.prefixlen}"
        )
    if not 1 <= index <= 0xFFFF:
        raise InvalidValue("index", "must be 1-65535")
    iid = int(f"a5{asn.value:010d}{index:04x}", 16)
    return ipaddress.IPv6Address(int(prefix.network_address) | iid)


def allocate_ipv4(
    prefix: ipaddress.IPv4Network, unavailable: Collection[IPAddress]
) -> ipaddress.IPv4Address:
    """The lowest free host address (never network or broadcast)."""
    addr = _sequential(prefix, unavailable)
    assert isinstance(addr, ipaddress.IPv4Address)
    return addr


def allocate_ipv6(
    prefix: ipaddress.IPv6Network,
    unavailable: Collection[IPAddress],
    asn: Asn,
    scheme: Ipv6Scheme = Ipv6Scheme.SEQUENTIAL,
) -> ipaddress.IPv6Address:
    """A free IPv6 address by ``scheme`` (never the subnet-router anycast address)."""
    if scheme is Ipv6Scheme.ASN_EMBEDDED:
        blocked = set(unavailable)
        for index in range(1, 0x10000):
            candidate = asn_embedded_ipv6(prefix, asn, index)
            if candidate not in blocked:
                return candidate
        raise AddressPoolExhausted(f"every ASN-embedded address of {asn} in {prefix} is taken")
    addr = _sequential(prefix, unavailable)
    assert isinstance(addr, ipaddress.IPv6Address)
    return addr


def allocate_pair(
    ipv4_prefix: ipaddress.IPv4Network,
    ipv6_prefix: ipaddress.IPv6Network,
    asn: Asn,
    taken: Collection[IPAddress],
    reserved: Collection[IPAddress] = (),
    scheme: Ipv6Scheme = Ipv6Scheme.SEQUENTIAL,
) -> AddressPair:
    """One IPv4 and one IPv6 that are neither taken nor reserved."""
    unavailable = set(taken) | set(reserved)
    return AddressPair(
        allocate_ipv4(ipv4_prefix, unavailable),
        allocate_ipv6(ipv6_prefix, unavailable, asn, scheme),
    )
