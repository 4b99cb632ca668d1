"""Peering-LAN address management: one IPv4 and one IPv6 per membership.

Pure functions: the caller passes what is taken (the allocation repository's view) and what
is reserved (route servers' own addresses); storage enforces uniqueness per network.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

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


@runtime_checkable
class AddressBook(Protocol):
    """What the allocator asks about the addresses in use (held or reserved), so that
    storage can answer without handing every held address over."""

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        """The lowest address from ``first`` to ``last`` (one family) not in use, or None."""

    def in_use_among(self, candidates: Sequence[IPAddress]) -> set[IPAddress]:
        """Those of ``candidates`` that are in use."""


@attrs.frozen
class InUse:
    """An :class:`AddressBook` over a plain collection of addresses in use."""

    addresses: Collection[IPAddress]

    def lowest_free(self, first: IPAddress, last: IPAddress) -> IPAddress | None:
        lo, hi = int(first), int(last)
        # integer bounds instead of ``a in prefix`` (an object comparison per address)
        version = first.version
        blocked = {n for a in self.addresses if a.version == version and lo <= (n := int(a)) <= hi}
        candidate = lo
        while candidate <= hi:
            if candidate not in blocked:
                return _address(version, candidate)
            candidate += 1
        return None

    def in_use_among(self, candidates: Sequence[IPAddress]) -> set[IPAddress]:
        held = set(self.addresses)
        return {c for c in candidates if c in held}


def _address(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def host_bounds(
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> tuple[IPAddress, IPAddress]:
    """The first and the last address handed out in ``prefix``: never the network
    address (IPv6: the subnet-router anycast address) nor the all-ones one."""
    first = int(prefix.network_address) + 1
    last = int(prefix.broadcast_address) - 1
    return _address(prefix.version, first), _address(prefix.version, last)


def _sequential(
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network, book: AddressBook
) -> IPAddress:
    first, last = host_bounds(prefix)
    found = book.lowest_free(first, last) if int(first) <= int(last) else None
    if found is None:
        raise AddressPoolExhausted(
            f"no free address left in {prefix} (every host address is in use or reserved)",
            prefix=str(prefix),
        )
    return found


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
    prefix: ipaddress.IPv4Network, unavailable: Collection[IPAddress] | AddressBook
) -> ipaddress.IPv4Address:
    """The lowest free host address (never network or broadcast)."""
    addr = _sequential(prefix, _book(unavailable))
    assert isinstance(addr, ipaddress.IPv4Address)
    return addr


#: ASN-embedded candidates asked about per round trip.
_EMBEDDED_BATCH = 16


def allocate_ipv6(
    prefix: ipaddress.IPv6Network,
    unavailable: Collection[IPAddress] | AddressBook,
    asn: Asn,
    scheme: Ipv6Scheme = Ipv6Scheme.SEQUENTIAL,
) -> ipaddress.IPv6Address:
    """A free IPv6 address by ``scheme`` (never the subnet-router anycast address)."""
    book = _book(unavailable)
    if scheme is Ipv6Scheme.ASN_EMBEDDED:
        for start in range(1, 0x10000, _EMBEDDED_BATCH):
            batch = [
                asn_embedded_ipv6(prefix, asn, i)
                for i in range(start, min(start + _EMBEDDED_BATCH, 0x10000))
            ]
            in_use = book.in_use_among(batch)
            for candidate in batch:
                if candidate not in in_use:
                    return candidate
        raise AddressPoolExhausted(f"every ASN-embedded address of {asn} in {prefix} is taken")
    addr = _sequential(prefix, book)
    assert isinstance(addr, ipaddress.IPv6Address)
    return addr


def _book(unavailable: Collection[IPAddress] | AddressBook) -> AddressBook:
    if isinstance(unavailable, AddressBook):
        return unavailable
    return InUse(unavailable)


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
