"""Bad inputs are refused with InvalidValue naming what is wrong; nothing is rendered."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from ztix_adapters_bird.lab import example_peer as make_peer
from ztix_adapters_bird.lab import example_peers as make_peers
from ztix_adapters_bird.lab import example_server as make_server
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import PolicyKnobs, RemotePaths, RpkiSource
from ztix_core.errors import InvalidValue
from ztix_core.values import Asn


def refused(peers: list[Any], field: str, fragment: str, **server: Any) -> InvalidValue:
    with pytest.raises(InvalidValue) as info:
        render_server(make_server(**server), peers)
    assert info.value.field == field, info.value
    assert fragment in info.value.message, info.value.message
    return info.value


def test_duplicate_asn() -> None:
    refused([make_peer(0), make_peer(1, 1000)], "peers[1] (AS1000).asn", "listed twice")


def test_duplicate_addresses() -> None:
    twin = attrs.evolve(make_peer(1), ipv4=make_peer(0).ipv4)
    refused([make_peer(0), twin], "peers[1] (AS1001).ipv4", "also the address of peers[0]")
    twin6 = attrs.evolve(make_peer(1), ipv6=make_peer(0).ipv6)
    refused([make_peer(0), twin6], "peers[1] (AS1001).ipv6", "also the address of peers[0]")


def test_route_servers_own_address_and_asn() -> None:
    mine = attrs.evolve(make_peer(0), ipv4=ipaddress.IPv4Address("10.0.0.1"))
    refused([mine], "peers[0] (AS1000).ipv4", "route server's own address")
    refused([make_peer(0, 64999)], "peers[0] (AS64999).asn", "route server's own ASN")


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("0.0.0.0", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("224.0.0.5", "multicast"),
        ("169.254.1.1", "link-local"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("0.1.2.3", "0.0.0.0/8"),
    ],
)
def test_unusable_ipv4(address: str, word: str) -> None:
    peer = attrs.evolve(make_peer(0), ipv4=ipaddress.IPv4Address(address))
    refused([peer], "peers[0] (AS1000).ipv4", word)


@pytest.mark.parametrize(
    ("address", "word"),
    [
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("ff02::1", "multicast"),
        ("fe80::1", "link-local"),
        ("::ffff:10.0.0.9", "IPv4-mapped"),
        ("fec0::1", "site-local"),
    ],
)
def test_unusable_ipv6(address: str, word: str) -> None:
    peer = attrs.evolve(make_peer(0), ipv6=ipaddress.IPv6Address(address))
    refused([peer], "peers[0] (AS1000).ipv6", word)


def test_wrong_types_in_peer() -> None:
    bad4 = attrs.evolve(make_peer(0), ipv4="10.0.0.5")  # type: ignore[arg-type]
    refused([bad4], "peers[0] (AS1000).ipv4", "not an IPv4")
    bad6 = attrs.evolve(make_peer(0), ipv6="fd00::5")  # type: ignore[arg-type]
    refused([bad6], "peers[0] (AS1000).ipv6", "not an IPv6")
    refused([object()], "peers[0]", "not a PeerSpec")


@pytest.mark.parametrize(
    ("asn", "word"),
    [
        (64512, "private"),
        (4_200_000_000, "private"),
        (64500, "documentation"),
        (65540, "documentation"),
        (70000, "reserved"),
    ],
)
def test_bogon_member_asn(asn: int, word: str) -> None:
    refused([make_peer(0, asn)], f"peers[0] (AS{asn}).asn", word)


def test_documentation_asn_allowed_with_the_lab_switch() -> None:
    lab = PolicyKnobs(allow_documentation_ranges=True)
    assert render_server(make_server(policy=lab), [make_peer(0, 64500)])
    refused([make_peer(0, 64512)], "peers[0] (AS64512).asn", "private", policy=lab)


@pytest.mark.parametrize("value", [-1, 0, 10_000_001])
def test_bad_max_prefix(value: int) -> None:
    # the core always sends the effective limit: 0 is no longer "the default"
    peer = attrs.evolve(make_peer(0), max_prefix_v6=value)
    refused([peer], "peers[0] (AS1000).max_prefix_v6", "is not 1-10000000")


def test_non_integer_max_prefix() -> None:
    peer = attrs.evolve(make_peer(0), max_prefix_v4=True)
    refused([peer], "peers[0] (AS1000).max_prefix_v4", "not an integer")


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"ipv4_min_len": 25, "ipv4_max_len": 24}, "policy.ipv4_min_len/ipv4_max_len"),
        ({"ipv4_max_len": 33}, "policy.ipv4_min_len/ipv4_max_len"),
        ({"ipv6_min_len": 0}, "policy.ipv6_min_len/ipv6_max_len"),
        ({"ipv6_max_len": 129}, "policy.ipv6_min_len/ipv6_max_len"),
        ({"max_as_path_len": 0}, "policy.max_as_path_len"),
    ],
)
def test_bad_policy_knobs(knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as info:
        render_server(make_server(policy=PolicyKnobs(**knobs)), make_peers(1))
    assert info.value.field == field


def test_router_id_must_be_usable() -> None:
    refused([], "router_id", "router id", router_id=ipaddress.IPv4Address("0.0.0.0"))


def test_both_rpki_sources_refused(tmp_path: Path) -> None:
    rpki = RpkiSource(rtr_servers=("127.0.0.1:8282",), vrp_file=str(tmp_path / "v.json"))
    refused([], "rpki", "either", rpki=rpki)


@pytest.mark.parametrize(
    ("server", "fragment"),
    [
        ("127.0.0.1:0", "not 1-65535"),
        ("127.0.0.1:99999", "not 1-65535"),
        ("127.0.0.1:", "empty port"),
        ("::1:8282", "[addr]:port"),
        ("[::1", "[ipv6]:port"),
        ("[zz::g]:323", "not an IPv6"),
        ("bad host!:323", "neither an IP address nor a host name"),
        ('rtr";}:323', "neither an IP address nor a host name"),
        ("", "not host:port"),
        ("1.2.3:323", "neither"),
    ],
)
def test_bad_rtr_servers(server: str, fragment: str) -> None:
    refused([], "rpki.rtr_servers[0]", fragment, rpki=RpkiSource(rtr_servers=(server,)))


def test_same_rtr_server_twice() -> None:
    rpki = RpkiSource(rtr_servers=("127.0.0.1:8282", "127.0.0.1:8282"))
    refused([], "rpki.rtr_servers", "twice", rpki=rpki)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "is not JSON"),
        ('{"vrps": []}', 'no "roas" list'),
        ('{"roas": [{"prefix": "10.0.0.1/8", "maxLength": 8, "asn": 1}]}', "host bits"),
        ('{"roas": [{"prefix": "10.0.0.0/8", "maxLength": 7, "asn": 1}]}', "maxLength 7"),
        ('{"roas": [{"prefix": "10.0.0.0/8", "maxLength": 33, "asn": 1}]}', "maxLength 33"),
        ('{"roas": [{"prefix": "10.0.0.0/8", "maxLength": 8, "asn": "ASx"}]}', "not an AS"),
        ('{"roas": [{"prefix": "10.0.0.0/8", "maxLength": 8, "asn": -1}]}', "not an AS"),
        ('{"roas": [{"maxLength": 8, "asn": 1}]}', "no prefix"),
        ('{"roas": ["10.0.0.0/8"]}', "not an object"),
    ],
)
def test_bad_vrp_files(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "v.json"
    path.write_text(content)
    with pytest.raises(InvalidValue) as info:
        render_server(make_server(rpki=RpkiSource(vrp_file=str(path))), [])
    assert info.value.field.startswith("rpki.vrp_file")
    assert fragment in info.value.message


def test_missing_vrp_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    refused([], "rpki.vrp_file", "cannot read", rpki=RpkiSource(vrp_file=str(path)))


def test_vrp_error_names_the_entry(tmp_path: Path) -> None:
    good = {"prefix": "10.0.0.0/8", "maxLength": 8, "asn": 1}
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"roas": [good, {**good, "maxLength": 99}]}))
    with pytest.raises(InvalidValue) as info:
        render_server(make_server(rpki=RpkiSource(vrp_file=str(path))), [])
    assert "roas[1]" in info.value.field


@pytest.mark.parametrize("path", ['/var/log/"x.log', "/var/log/a b.log", "/var/log/x\n.log", ""])
def test_bad_log_file(path: str) -> None:
    if not path:
        assert render_server(make_server(paths=RemotePaths(log_file=path)), [])
        return
    refused([], "paths.log_file", "not a usable path", paths=RemotePaths(log_file=path))


def test_asn_type_is_enforced_by_the_core() -> None:
    with pytest.raises(InvalidValue):
        Asn(0)
