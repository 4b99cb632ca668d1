"""``BirdFleet.refused_peers``: which members a server refuses, without rendering anything
(a sync asks before every apply; the renderer's validation answers, not its output)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import attrs

from ztix_adapters_bird.fleet import BirdFleet
from ztix_adapters_bird.lab import example_peer, example_server
from ztix_adapters_bird.render import render_server
from ztix_adapters_bird.settings import BirdSettings, RouteServerSettings
from ztix_core.ports import PeerSpec


def _fleet(calls: list[int]) -> BirdFleet:
    def counting(server: RouteServerSettings, peers: Sequence[PeerSpec]) -> dict[str, bytes]:
        calls.append(len(peers))
        return render_server(server, peers)

    rs1 = attrs.evolve(example_server(), transport="local")
    rs2 = attrs.evolve(
        example_server(
            name="rs2",
            router_id=ipaddress.IPv4Address("10.0.0.2"),
            ipv4=ipaddress.IPv4Address("10.0.0.2"),
            ipv6=ipaddress.IPv6Address("fd00::2"),
        ),
        transport="local",
    )
    return BirdFleet(BirdSettings((rs1, rs2)), renderer=counting)


def test_a_set_every_server_accepts_costs_no_render() -> None:
    calls: list[int] = []
    fleet = _fleet(calls)
    try:
        assert fleet.refused_peers([example_peer(i, asn=20000 + i) for i in range(200)]) == {}
    finally:
        fleet.close()
    assert calls == []  # not 400 single-member renders, nor one per server


def test_a_refused_member_is_named_with_the_reason_and_the_others_are_not() -> None:
    calls: list[int] = []
    fleet = _fleet(calls)
    peers = [example_peer(i, asn=20000 + i) for i in range(5)]
    peers[3] = example_peer(3, asn=64512)  # private: the policy treats it as a bogon
    try:
        refused = fleet.refused_peers(peers)
    finally:
        fleet.close()
    assert list(refused) == [3]
    assert refused[3].startswith("route server rs1: ") and "64512" in refused[3]
    assert calls == []
