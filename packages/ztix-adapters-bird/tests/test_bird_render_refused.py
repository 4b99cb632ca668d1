"""``refused_peers``: the members no route server can configure are named, by index and
with the reason, from the renderer's own validation; everyone else renders."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import attrs
import pytest

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.lab import example_peer as make_peer
from ztix_adapters_bird.lab import example_peers as make_peers
from ztix_adapters_bird.lab import example_server as make_server
from ztix_adapters_bird.render import peer_problems, render_server
from ztix_adapters_bird.settings import BirdSettings
from ztix_core.errors import InvalidValue
from ztix_core.ports import PeerSpec

GOOD = make_peers(6)
RS1 = make_server(transport="local")
RS2 = make_server(
    name="rs2",
    router_id=ipaddress.IPv4Address("10.0.0.2"),
    ipv4=ipaddress.IPv4Address("10.0.0.2"),
    ipv6=ipaddress.IPv6Address("fd00::2"),
    transport="local",
)
BAD_AT = 3

CASES: dict[str, tuple[Callable[[], PeerSpec], str]] = {
    "duplicate ASN": (
        lambda: make_peer(9, asn=int(GOOD[1].asn)),
        "route server rs1: AS1001 is already configured for another member",
    ),
    "duplicate IPv4": (
        lambda: attrs.evolve(make_peer(9), ipv4=GOOD[2].ipv4),
        "route server rs1: 10.0.0.12 is also the address of AS1002",
    ),
    "duplicate IPv6": (
        lambda: attrs.evolve(make_peer(9), ipv6=GOOD[0].ipv6),
        "route server rs1: fd00::a is also the address of AS1000",
    ),
    "own ASN": (lambda: make_peer(9, asn=64999), "route server rs1: AS64999 is the route server's"),
    "own address": (
        lambda: attrs.evolve(make_peer(9), ipv6=ipaddress.IPv6Address("fd00::1")),
        "route server rs1: fd00::1 is the route server's own address",
    ),
    "bogon ASN": (
        lambda: make_peer(9, asn=4_200_000_001),
        "route server rs1: AS4200000001 is a bogon ASN (RFC 6996 private use)",
    ),
    "bad max-prefix": (
        lambda: attrs.evolve(make_peer(9), max_prefix_v4=-5),
        "route server rs1: -5 is not 1-10000000",
    ),
    "unusable address": (
        lambda: attrs.evolve(make_peer(9), ipv4=ipaddress.IPv4Address("127.0.0.9")),
        "route server rs1: 127.0.0.9 is loopback",
    ),
    "another server's address": (
        lambda: attrs.evolve(make_peer(9), ipv4=ipaddress.IPv4Address("10.0.0.2")),
        "route server rs2: 10.0.0.2 is the route server's own address",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_refused_member_among_good_ones_is_named_alone(case: str) -> None:
    make_bad, reason = CASES[case]
    peers = [*GOOD[:BAD_AT], make_bad(), *GOOD[BAD_AT:]]
    fleet = BirdFleet(BirdSettings((RS1, RS2)))
    try:
        refused = fleet.refused_peers(peers)
        assert list(refused) == [BAD_AT], refused
        assert refused[BAD_AT].startswith(reason), refused[BAD_AT]
        assert "peers[" not in refused[BAD_AT]  # members are named by ASN, not position
        rest = [p for i, p in enumerate(peers) if i not in refused]
        rendered = fleet.render(rest)  # everyone else renders on every server
        assert set(rendered) == {"rs1", "rs2"}
        assert rendered["rs1"] == render_server(RS1, GOOD)
        # the whole set is still refused by the renderer, naming the member by index
        server = RS2 if case == "another server's address" else RS1
        with pytest.raises(InvalidValue) as err:
            render_server(server, peers)
        assert err.value.field.startswith(f"peers[{BAD_AT}] ")
    finally:
        fleet.close()


def test_every_bad_member_is_named_and_the_first_of_a_clash_keeps_its_place() -> None:
    peers = [
        make_peer(0),
        make_peer(1, asn=64512),  # private: refused
        make_peer(2, asn=64512),  # also private (a duplicate of a refused member: refused)
        attrs.evolve(make_peer(3), ipv4=make_peer(1).ipv4),  # clashes with a refused one: fine
        make_peer(4, asn=1000),  # duplicate of peers[0]
    ]
    problems = peer_problems(RS1, peers)
    assert sorted(problems) == [1, 2, 4]
    assert problems[4].error.field == "peers[4] (AS1000).asn"
    rest = [p for i, p in enumerate(peers) if i not in problems]
    assert render_server(RS1, rest)


def test_a_clean_set_has_no_refusals() -> None:
    fleet = BirdFleet(BirdSettings((RS1, RS2)))
    try:
        assert fleet.refused_peers(GOOD) == {}
        assert fleet.refused_peers([]) == {}
    finally:
        fleet.close()
