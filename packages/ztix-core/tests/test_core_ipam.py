"""IPAM: sequential and ASN-embedding schemes, reserved addresses, exhaustion."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztix_core.errors import AddressPoolExhausted, InvalidValue
from ztix_core.ipam import (
    Ipv6Scheme,
    allocate_ipv4,
    allocate_ipv6,
    allocate_pair,
    asn_embedded_ipv6,
)
from ztix_core.values import Asn

V4 = ipaddress.IPv4Network("192.0.2.0/29")
V6 = ipaddress.IPv6Network("2001:db8::/64")
A4 = ipaddress.IPv4Address
A6 = ipaddress.IPv6Address


def test_sequential_ipv4_skips_network_broadcast_and_reserved() -> None:
    assert allocate_ipv4(V4, set()) == A4("192.0.2.1")
    assert allocate_ipv4(V4, {A4("192.0.2.1"), A4("192.0.2.2")}) == A4("192.0.2.3")
    taken = {A4(f"192.0.2.{i}") for i in range(1, 6)}
    assert allocate_ipv4(V4, taken) == A4("192.0.2.6")
    with pytest.raises(AddressPoolExhausted) as info:
        allocate_ipv4(V4, taken | {A4("192.0.2.6")})
    assert "192.0.2.0/29" in str(info.value)


def test_ipv4_exhaustion_in_a_slash_30() -> None:
    net = ipaddress.IPv4Network("10.0.0.0/30")
    got: list[ipaddress.IPv4Address] = []
    for _ in range(2):
        got.append(allocate_ipv4(net, set(got)))
    assert got == [A4("10.0.0.1"), A4("10.0.0.2")]
    with pytest.raises(AddressPoolExhausted):
        allocate_ipv4(net, set(got))


def test_sequential_ipv6_skips_subnet_router_anycast() -> None:
    assert allocate_ipv6(V6, set(), Asn(64500)) == A6("2001:db8::1")
    small = ipaddress.IPv6Network("fd00::/126")
    taken = {A6("fd00::1"), A6("fd00::2")}
    with pytest.raises(AddressPoolExhausted):
        allocate_ipv6(small, taken, Asn(64500))


def test_asn_embedding_like_large_exchanges() -> None:
    assert asn_embedded_ipv6(V6, Asn(6939)) == A6("2001:db8::a500:0:6939:1")
    assert asn_embedded_ipv6(V6, Asn(4_200_000_000)) == A6("2001:db8::a542:0:0:1")
    assert asn_embedded_ipv6(V6, Asn(13335), 2) == A6("2001:db8::a500:1:3335:2")
    first = allocate_ipv6(V6, set(), Asn(6939), Ipv6Scheme.ASN_EMBEDDED)
    second = allocate_ipv6(V6, {first}, Asn(6939), Ipv6Scheme.ASN_EMBEDDED)
    assert (first, second) == (A6("2001:db8::a500:0:6939:1"), A6("2001:db8::a500:0:6939:2"))


def test_asn_embedding_needs_room_and_a_valid_index() -> None:
    with pytest.raises(InvalidValue):
        asn_embedded_ipv6(ipaddress.IPv6Network("2001:db8::/96"), Asn(6939))
    with pytest.raises(InvalidValue):
        asn_embedded_ipv6(V6, Asn(6939), 0)


def test_pair_never_uses_reserved_route_server_addresses() -> None:
    reserved: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = {
        A4("192.0.2.1"),
        A6("2001:db8::1"),
    }
    pair = allocate_pair(V4, V6, Asn(64500), set(), reserved)
    assert pair.ipv4 == A4("192.0.2.2") and pair.ipv6 == A6("2001:db8::2")


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(st.lists(st.integers(min_value=1, max_value=4_199_999_999), min_size=1, max_size=40))
def test_allocations_never_repeat(asns: list[int]) -> None:
    net4 = ipaddress.IPv4Network("10.9.0.0/24")
    taken: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for value in asns:
        try:
            asn = Asn(value)
        except InvalidValue:
            continue
        pair = allocate_pair(net4, V6, asn, taken, scheme=Ipv6Scheme.ASN_EMBEDDED)
        assert pair.ipv4 not in taken and pair.ipv6 not in taken
        assert pair.ipv4 in net4 and pair.ipv6 in V6
        assert pair.ipv4 not in (net4.network_address, net4.broadcast_address)
        taken |= {pair.ipv4, pair.ipv6}
