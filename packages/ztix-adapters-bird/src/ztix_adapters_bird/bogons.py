"""Bogon prefixes and bogon AS numbers a route server rejects.

The AS numbers are the core's (:mod:`ztix_core.asns`): the same table refuses members at
submit and approve, so no member the renderer would refuse gets that far. Prefix sources:
IANA special-purpose registries (RFC 6890 and successors), the NLNOG BGP filter guide and
Team Cymru's (non-full) bogon list. Every entry matches the prefix *and all its
more-specifics* (``+`` in BIRD) unless ``more_specifics_from`` says which lengths match.
Documentation ranges are flagged so a lab can turn them off; production never does.
"""

from __future__ import annotations

import ipaddress

import attrs

from ztix_core.asns import SPECIAL_ASNS, SpecialAsnRange, special_asn_ranges, special_asn_reason


@attrs.frozen
class BogonPrefix:
    """One bogon range; ``lengths`` bounds which lengths inside it match."""

    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    reason: str
    documentation: bool = False
    #: Which lengths match (inclusive); ``None`` means the prefix and every more-specific.
    lengths: tuple[int, int] | None = None

    def bird(self) -> str:
        """The BIRD prefix-set item, e.g. ``10.0.0.0/8+`` or ``2001::/32{33,128}``."""
        if self.lengths is None:
            return f"{self.prefix}+"
        return f"{self.prefix}{{{self.lengths[0]},{self.lengths[1]}}}"

    def matches(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
        """Whether BIRD's ``net ~ [item]`` is true for ``net``."""
        if net.version != self.prefix.version or not net.subnet_of(self.prefix):  # type: ignore[arg-type]
            return False
        if self.lengths is None:
            return True
        return self.lengths[0] <= net.prefixlen <= self.lengths[1]


def _v4(text: str, reason: str, *, doc: bool = False) -> BogonPrefix:
    return BogonPrefix(ipaddress.IPv4Network(text), reason, doc)


def _v6(
    text: str, reason: str, *, doc: bool = False, lengths: tuple[int, int] | None = None
) -> BogonPrefix:
    return BogonPrefix(ipaddress.IPv6Network(text), reason, doc, lengths)


#: IPv4 bogons, every length inside each range.
BOGONS_V4: tuple[BogonPrefix, ...] = (
    BogonPrefix(ipaddress.IPv4Network("0.0.0.0/0"), "default route", lengths=(0, 0)),
    _v4("0.0.0.0/8", "RFC 1122 'this' network"),
    _v4("10.0.0.0/8", "RFC 1918 private"),
    _v4("100.64.0.0/10", "RFC 6598 shared address space (CGN)"),
    _v4("127.0.0.0/8", "RFC 1122 loopback"),
    _v4("169.254.0.0/16", "RFC 3927 link local"),
    _v4("172.16.0.0/12", "RFC 1918 private"),
    _v4("192.0.0.0/24", "RFC 6890 IETF protocol assignments"),
    _v4("192.0.2.0/24", "RFC 5737 TEST-NET-1", doc=True),
    _v4("192.88.99.0/24", "RFC 7526 deprecated 6to4 relay anycast"),
    _v4("192.168.0.0/16", "RFC 1918 private"),
    _v4("198.18.0.0/15", "RFC 2544 benchmarking"),
    _v4("198.51.100.0/24", "RFC 5737 TEST-NET-2", doc=True),
    _v4("203.0.113.0/24", "RFC 5737 TEST-NET-3", doc=True),
    _v4("224.0.0.0/4", "RFC 5771 multicast"),
    _v4("240.0.0.0/4", "RFC 1112 reserved (includes limited broadcast)"),
)

#: IPv6 bogons inside global unicast; anything outside 2000::/3 is rejected as well.
BOGONS_V6: tuple[BogonPrefix, ...] = (
    BogonPrefix(ipaddress.IPv6Network("::/0"), "default route", lengths=(0, 0)),
    _v6("::/8", "RFC 4291 loopback, unspecified, IPv4-mapped/compatible"),
    _v6("100::/64", "RFC 6666 discard-only"),
    _v6("2001::/32", "RFC 4380 Teredo more-specifics", lengths=(33, 128)),
    _v6("2001:2::/48", "RFC 5180 benchmarking"),
    _v6("2001:10::/28", "RFC 4843 ORCHID"),
    _v6("2001:20::/28", "RFC 7343 ORCHIDv2"),
    _v6("2001:db8::/32", "RFC 3849 documentation", doc=True),
    _v6("2002::/16", "RFC 7526 6to4"),
    _v6("3ffe::/16", "RFC 3701 former 6bone"),
    _v6("3fff::/20", "RFC 9637 documentation", doc=True),
    _v6("5f00::/16", "RFC 9602 SRv6 SIDs"),
    _v6("fc00::/7", "RFC 4193 unique local"),
    _v6("fe80::/10", "RFC 4291 link local"),
    _v6("fec0::/10", "RFC 3879 former site local"),
    _v6("ff00::/8", "RFC 4291 multicast"),
)

#: Only global unicast IPv6 is routable on an exchange.
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


#: AS numbers a route server rejects anywhere in a path: the core's one table of AS numbers
#: that are not for the public Internet (members using one are refused at submit).
BOGON_ASNS: tuple[SpecialAsnRange, ...] = SPECIAL_ASNS


def asn_set_item(rng: SpecialAsnRange) -> str:
    """The BIRD int-set item of a range: ``23456`` or ``64512..65534``."""
    return str(rng.first) if rng.first == rng.last else f"{rng.first}..{rng.last}"


def bogon_prefixes(family: int, *, allow_documentation: bool = False) -> tuple[BogonPrefix, ...]:
    """The bogon prefixes of one address family (4 or 6) a route server rejects."""
    table = BOGONS_V4 if family == 4 else BOGONS_V6
    return tuple(b for b in table if not (allow_documentation and b.documentation))


def bogon_asns(*, allow_documentation: bool = False) -> tuple[SpecialAsnRange, ...]:
    """The bogon AS-number ranges a route server rejects anywhere in the path."""
    return special_asn_ranges(allow_documentation=allow_documentation)


def asn_bogon_reason(asn: int, *, allow_documentation: bool = False) -> str | None:
    """Why ``asn`` is a bogon under this policy, or ``None`` when it is usable."""
    return special_asn_reason(asn, allow_documentation=allow_documentation)


def prefix_bogon_reason(
    net: ipaddress.IPv4Network | ipaddress.IPv6Network, *, allow_documentation: bool = False
) -> str | None:
    """Why ``net`` is a bogon under this policy, or ``None`` (mirrors the BIRD sets)."""
    if isinstance(net, ipaddress.IPv6Network) and not net.subnet_of(GLOBAL_UNICAST_V6):
        return "outside IPv6 global unicast 2000::/3"
    for b in bogon_prefixes(net.version, allow_documentation=allow_documentation):
        if b.matches(net):
            return b.reason
    return None
