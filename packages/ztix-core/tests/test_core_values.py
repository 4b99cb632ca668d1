"""Value types validate on construction and say what is wrong."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztix_core.errors import InvalidValue
from ztix_core.values import (
    Asn,
    AsnKind,
    NetworkId,
    NodeId,
    ipv4_prefix,
    ipv6_prefix,
    peering_ipv4,
    peering_ipv6,
)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (1, AsnKind.PUBLIC),
        (13335, AsnKind.PUBLIC),
        (64495, AsnKind.PUBLIC),
        (64496, AsnKind.DOCUMENTATION),
        (64511, AsnKind.DOCUMENTATION),
        (64512, AsnKind.PRIVATE),
        (65534, AsnKind.PRIVATE),
        (65536, AsnKind.DOCUMENTATION),
        (65551, AsnKind.DOCUMENTATION),
        (65552, AsnKind.RESERVED),
        (131071, AsnKind.RESERVED),
        (131072, AsnKind.PUBLIC),
        (4_199_999_999, AsnKind.PUBLIC),
        (4_200_000_000, AsnKind.PRIVATE),
        (4_294_967_294, AsnKind.PRIVATE),
    ],
)
def test_asn_classification(value: int, kind: AsnKind) -> None:
    assert Asn(value).kind is kind


@pytest.mark.parametrize("value", [0, 23456, 65535, 4_294_967_295, -1, 2**32, 10**12])
def test_asn_refuses_special_and_out_of_range(value: int) -> None:
    with pytest.raises(InvalidValue) as info:
        Asn(value)
    assert info.value.field == "asn"


@pytest.mark.parametrize("raw", ["AS64500", "as64500", " 64500 ", 64500])
def test_asn_parse(raw: object) -> None:
    assert Asn.parse(raw) == Asn(64500)
    assert str(Asn.parse(raw)) == "AS64500"


@pytest.mark.parametrize("raw", ["", "AS", "ASx", "64500.1", True, None, 1.5, "-5"])
def test_asn_parse_refuses_garbage(raw: object) -> None:
    with pytest.raises(InvalidValue):
        Asn.parse(raw)


def test_network_id_is_normalised_and_knows_its_controller() -> None:
    nid = NetworkId("  0123456789ABCDEF ")
    assert nid.value == "0123456789abcdef"
    assert nid.controller == "0123456789"


@pytest.mark.parametrize("raw", ["0123456789abcde", "0123456789abcdefa", "0123456789abcdeg", "", 5])
def test_network_id_refuses_bad_ids(raw: object) -> None:
    with pytest.raises(InvalidValue):
        NetworkId(raw)


def test_node_id_rules() -> None:
    assert NodeId("ABCDEF0123").value == "abcdef0123"
    for bad in ("0000000000", "ff00000001", "FF12345678", "abc", "abcdef012345", "ghijklmnop"):
        with pytest.raises(InvalidValue) as info:
            NodeId(bad)
        assert info.value.field == "node_id"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI machine
@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=10, max_size=10))
def test_node_id_accepts_every_valid_hex(raw: str) -> None:
    low = raw.lower()
    if low == "0" * 10 or low.startswith("ff"):
        with pytest.raises(InvalidValue):
            NodeId(raw)
    else:
        assert NodeId(raw).value == low


def test_prefixes_and_addresses() -> None:
    assert ipv4_prefix("10.0.0.0/24") == ipaddress.IPv4Network("10.0.0.0/24")
    assert ipv6_prefix("fd00::/64") == ipaddress.IPv6Network("fd00::/64")
    for bad in ("10.0.0.1/24", "10.0.0.0/31", "banana", "fd00::/64"):
        with pytest.raises(InvalidValue):
            ipv4_prefix(bad)
    for bad in ("fd00::1/64", "fd00::/24", "10.0.0.0/24"):
        with pytest.raises(InvalidValue):
            ipv6_prefix(bad)
    assert str(peering_ipv4("10.0.0.5")) == "10.0.0.5"
    assert str(peering_ipv6("fd00::5")) == "fd00::5"
    for bad in ("224.0.0.1", "0.0.0.0", "127.0.0.1", "255.255.255.255", "x"):
        with pytest.raises(InvalidValue):
            peering_ipv4(bad)
    for bad in ("ff02::1", "::", "::1", "fe80::1", "y"):
        with pytest.raises(InvalidValue):
            peering_ipv6(bad)
